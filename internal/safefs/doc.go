// Package safefs is how guardrun touches paths a processor could have
// shaped: its staging dir, output dirs, and the state dir beneath the
// workspace. A hostile processor may plant symlinks, hardlinks, FIFOs,
// devices or symlinked subdirectories there, or replace a directory by a
// symlink, hoping that guardrun (which is more privileged and unconfined)
// truncates, reads, promotes or writes through them.
//
// Every operation starts from an open directory handle (a Dir) and
// resolves the rest of the path beneath it without following any symlink:
// on Linux with openat2(RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS|
// RESOLVE_NO_MAGICLINKS), elsewhere (or when openat2 is unavailable) one
// component at a time with openat(O_NOFOLLOW). Files are opened
// non-blocking (a FIFO cannot hang the caller) and accepted only when
// fstat says they are regular files with exactly one link. Anything else
// is an *UnsafeError naming the path.
package safefs
