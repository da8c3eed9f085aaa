// Package hashcache owns content hashing of files and the stat cache that
// lets guardrun skip re-reading files that did not change. An entry maps a
// path to the file's identity (device, inode, size, mtime, ctime) and its
// SHA-256. An entry is trusted only when the identity still matches and the
// file was not "racily clean" when hashed (its mtime within RacyWindow of the
// hashing time, git's rule: a write in the same timestamp tick would go
// unnoticed). Entries recorded for outputs that guardrun itself produced are
// trusted as soon as their identity matches: their writer has exited.
package hashcache
