//go:build !windows

package atomicfile

import (
	"errors"
	"syscall"
)

func ignorableSyncErr(err error) bool {
	// Some filesystems (e.g. certain FUSE or network mounts) refuse fsync on
	// a directory; the rename is as durable as that filesystem allows.
	return errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOTSUP)
}
