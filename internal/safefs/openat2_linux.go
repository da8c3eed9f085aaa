package safefs

import (
	"errors"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// errNoOpenat2 says to fall back to the component walk.
var errNoOpenat2 = errors.New("openat2 unavailable")

// noOpenat2 is set once openat2 proved unavailable (kernel < 5.6, or a
// seccomp filter of a container runtime that refuses it).
var noOpenat2 atomic.Bool

func openat2(dirfd int, rel string, flags int, mode uint32) (int, error) {
	if noOpenat2.Load() {
		return -1, errNoOpenat2
	}
	how := unix.OpenHow{
		Flags:   uint64(flags),
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	}
	if flags&unix.O_CREAT != 0 {
		how.Mode = uint64(mode)
	}
	for {
		fd, err := unix.Openat2(dirfd, rel, &how)
		switch err {
		case nil:
			return fd, nil
		case unix.EINTR:
			continue
		case unix.ENOSYS, unix.EPERM, unix.E2BIG:
			noOpenat2.Store(true)
			return -1, errNoOpenat2
		}
		return -1, err
	}
}

// noOpenatAvailable forces the fallback (tests); restoreOpenat undoes it.
func noOpenatAvailable() bool { return noOpenat2.Swap(true) }
func restoreOpenat(old bool)  { noOpenat2.Store(old) }
