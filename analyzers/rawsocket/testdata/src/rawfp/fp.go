// Package rawfp must stay quiet: system calls that are not sockets.
package rawfp

import (
	"syscall"
)

const sysGetpid = syscall.SYS_GETPID

func Quiet() {
	fd, _ := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM, 0) // a unix socket: a file, not the network
	_ = syscall.Close(fd)
	syscall.Syscall(sysGetpid, 0, 0, 0)
	trap := uintptr(syscall.SYS_GETTID)
	syscall.Syscall(trap, 0, 0, 0)
	_, _ = syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
}
