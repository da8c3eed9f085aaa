// Package rawevasion is the evasion corpus of rawsocket: each line marked
// "want" is one way of reaching a socket without the net package
// (docs/NETLINT.md counts them; the kinds follow issue 13).
package rawevasion

import (
	"os"
	"reflect"
	"strconv"
	"syscall"
	_ "unsafe" // for go:linkname

	"rawevasion/lib"
)

var connectTrap = syscall.SYS_CONNECT // a package variable

func byName() { // want byName:`makes a raw network call: rawevasion\.byName -> syscall\.SYS_SOCKET`
	syscall.Syscall(syscall.SYS_SOCKET, syscall.AF_INET, syscall.SOCK_STREAM, 0) // want `raw system call syscall.Syscall\(SYS_SOCKET\) opens or uses a socket`
	syscall.RawSyscall6(uintptr(syscall.SYS_CONNECT), 0, 0, 0, 0, 0, 0)          // want `raw system call syscall.RawSyscall6\(SYS_CONNECT\)`
	syscall.Syscall(uintptr(connectTrap), 0, 0, 0)                               // want `raw system call syscall.Syscall\(SYS_CONNECT\)`
	trap := uintptr(syscall.SYS_BIND)
	syscall.Syscall(trap, 0, 0, 0) // want `raw system call syscall.Syscall\(SYS_BIND\)`
}

func unresolved() {
	n, _ := strconv.Atoi(os.Getenv("TRAP"))
	syscall.Syscall(uintptr(n), 0, 0, 0) // want `unresolved trap: raw system call syscall.Syscall with a trap number netlint cannot resolve`
}

func values() { // want values:`makes a raw network call: rawevasion\.values -> syscall\.Syscall`
	f := syscall.Syscall                    // want `reference to syscall.Syscall: a system call whose trap number netlint cannot check`
	_ = reflect.ValueOf(syscall.RawSyscall) // want `reference to syscall.RawSyscall`
	_ = f
	s := syscall.Socket // want `reference to syscall.Socket: a raw network call`
	_ = s
}

func acrossPackages() { // want acrossPackages:`makes a raw network call: rawevasion\.acrossPackages -> lib\.Dial -> syscall\.Socket`
	_, _ = lib.Dial()                    // want `calls lib.Dial, which makes a raw network call: rawevasion.acrossPackages -> lib.Dial -> syscall.Socket`
	lib.Open()                           // want `calls lib.Open, which makes a raw network call: rawevasion.acrossPackages -> lib.Open -> lib.Dial -> syscall.Socket`
	lib.Sys(syscall.SYS_SENDTO)          // want `raw system call through lib.Sys\(SYS_SENDTO\) opens or uses a socket`
	lib.Sys(uintptr(syscall.SYS_GETPID)) // not a socket trap
}

//go:linkname sysCall syscall.Syscall
func sysCall(trap, a1, a2, a3 uintptr) (r1, r2 uintptr, err syscall.Errno) // want `sysCall is linked \(//go:linkname\) to syscall.Syscall: it reaches the network or a raw system call` sysCall:`makes a raw network call: rawevasion\.sysCall -> syscall\.Syscall`

//go:linkname dial net.Dial
func dial(network, address string) (any, error) // want `dial is linked \(//go:linkname\) to net.Dial` dial:`makes a raw network call: rawevasion\.dial -> net\.Dial`
