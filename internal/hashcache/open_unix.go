//go:build unix

package hashcache

import (
	"os"
	"syscall"
)

// openNonBlocking opens path for reading without blocking on a FIFO (the
// caller refuses what is not a regular file) and without acquiring a
// controlling terminal.
func openNonBlocking(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
}
