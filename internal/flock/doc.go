// Package flock owns OS advisory file locks: flock(2) on Unix and LockFileEx
// on Windows. The kernel drops a lock when its holder dies, so a crashed run
// never leaves a stale lock behind. The lock file also carries a short
// description of its holder (run id, pid, host, start time) for the message a
// second invocation prints.
package flock
