//go:build unix

package sandbox

import (
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// closeInheritedOnExec marks every descriptor from 3 up close-on-exec.
// Go opens its own descriptors close-on-exec, but descriptors guardrun
// inherited from its parent (a shell's, a CI runner's, a socket) are not,
// and os/exec does not close them in the child: without this, every
// processor would inherit them.
func closeInheritedOnExec() {
	if err := closeRangeCloexec(); err == nil {
		return
	}
	ents, err := os.ReadDir("/dev/fd")
	if err != nil {
		for fd := 3; fd < 1024; fd++ {
			unix.CloseOnExec(fd)
		}
		return
	}
	for _, e := range ents {
		if fd, err := strconv.Atoi(e.Name()); err == nil && fd > 2 {
			unix.CloseOnExec(fd)
		}
	}
}
