package rawevasion

import "syscall"

const sysSocket = 41 // a local constant: SYS_SOCKET on linux/amd64

func literals() { // want literals:`makes a raw network call: rawevasion\.literals -> syscall\.SYS_SOCKET`
	syscall.Syscall(41, 2, 1, 0)        // want `raw system call syscall.Syscall\(SYS_SOCKET\) opens or uses a socket`
	syscall.Syscall(sysSocket, 2, 1, 0) // want `raw system call syscall.Syscall\(SYS_SOCKET\)`
	n := 40
	syscall.Syscall(uintptr(n+2), 0, 0, 0) // want `raw system call syscall.Syscall\(SYS_CONNECT\)`
}
