//go:build linux

package sandbox

import (
	"fmt"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// seccompArch is this build's audit architecture and whether its kernel
// also accepts the x32 ABI (system call numbers with bit 30 set), which
// the filter refuses; 0 when the filter is not built for this arch.
func seccompArch() (arch uint32, x32 bool) {
	switch runtime.GOARCH {
	case "amd64":
		return unix.AUDIT_ARCH_X86_64, true
	case "arm64":
		return unix.AUDIT_ARCH_AARCH64, false
	}
	return 0, false
}

// Socket families a processor may create: only those that live inside its
// own (empty) network namespace. AF_UNIX reaches host daemons through
// path-named sockets; AF_VSOCK reaches the hypervisor; neither is scoped
// by a network namespace. socketpair() is not filtered: it only makes a
// connected pair.
var seccompFamilies = []uint32{unix.AF_INET, unix.AF_INET6, unix.AF_NETLINK}

// seccompProgram is the attempt's filter: the native ABI only; socket()
// only for seccompFamilies (else EAFNOSUPPORT); no io_uring (its
// operations would bypass the socket filter) and no open_by_handle_at
// (EPERM).
func seccompProgram() ([]unix.SockFilter, error) {
	arch, x32 := seccompArch()
	if arch == 0 {
		return nil, fmt.Errorf("no seccomp filter for %s", runtime.GOARCH)
	}
	stmt := func(code uint16, k uint32) unix.SockFilter { return unix.SockFilter{Code: code, K: k} }
	jeq := func(k uint32, jt, jf uint8) unix.SockFilter {
		return unix.SockFilter{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: k, Jt: jt, Jf: jf}
	}
	const (
		ld    = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
		ret   = unix.BPF_RET | unix.BPF_K
		allow = unix.SECCOMP_RET_ALLOW
		kill  = unix.SECCOMP_RET_KILL_PROCESS
		eperm = unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)
	)
	p := []unix.SockFilter{
		stmt(ld, 4), // seccomp_data.arch
		jeq(arch, 1, 0),
		stmt(ret, kill),
		stmt(ld, 0), // seccomp_data.nr
	}
	if x32 {
		p = append(p,
			unix.SockFilter{Code: unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K, K: 0x40000000, Jt: 0, Jf: 1},
			stmt(ret, kill))
	}
	for _, nr := range []uint32{unix.SYS_IO_URING_SETUP, unix.SYS_IO_URING_ENTER, unix.SYS_IO_URING_REGISTER, unix.SYS_OPEN_BY_HANDLE_AT} {
		p = append(p, jeq(nr, 0, 1), stmt(ret, eperm))
	}
	p = append(p,
		jeq(unix.SYS_SOCKET, 1, 0),
		stmt(ret, allow),
		stmt(ld, 16)) // low 32 bits of args[0] (little-endian): the family
	for _, f := range seccompFamilies {
		p = append(p, jeq(f, 0, 1), stmt(ret, allow))
	}
	return append(p, stmt(ret, unix.SECCOMP_RET_ERRNO|uint32(unix.EAFNOSUPPORT))), nil
}

// seccompThread installs the filter on the calling thread only (no TSYNC):
// what it forks inherits it; guardrun's other threads do not.
func seccompThread() error {
	p, err := seccompProgram()
	if err != nil {
		return err
	}
	prog := unix.SockFprog{Len: uint16(len(p)), Filter: &p[0]}
	if err := unix.Prctl(unix.PR_SET_SECCOMP, unix.SECCOMP_MODE_FILTER, uintptr(unsafe.Pointer(&prog)), 0, 0); err != nil {
		return err
	}
	runtime.KeepAlive(p)
	return nil
}

// lockThreadForever wires the calling goroutine to its OS thread for good:
// the goroutine must return without unlocking, and the Go runtime then
// ends the thread instead of reusing it. Used for threads that confine
// themselves (namespaces, Landlock, seccomp) before forking an attempt.
func lockThreadForever() { runtime.LockOSThread() }
