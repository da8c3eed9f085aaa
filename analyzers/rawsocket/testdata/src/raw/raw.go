package raw

import (
	"plugin"
	"syscall"

	"golang.org/x/sys/unix"
	"golang.org/x/sys/windows"
)

func sockets() { // want sockets:`makes a raw network call: raw\.sockets -> syscall\.Socket`
	fd, _ := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0) // want `raw socket call syscall.Socket bypasses the net package`
	_ = syscall.Connect(fd, &syscall.SockaddrInet4{Port: 80})        // want `raw socket call syscall.Connect`
	_ = syscall.Bind(fd, &syscall.SockaddrInet4{})                   // want `raw socket call syscall.Bind`
	_ = syscall.Listen(fd, 1)                                        // want `raw socket call syscall.Listen`
	_ = syscall.Sendto(fd, nil, 0, nil)                              // want `raw socket call syscall.Sendto`

	u, _ := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0) // want `raw socket call unix.Socket`
	_ = unix.Connect(u, &unix.SockaddrInet4{Port: 443})    // want `raw socket call unix.Connect`
	_ = unix.Bind(u, nil)                                  // want `raw socket call unix.Bind`
	_ = unix.Listen(u, 1)                                  // want `raw socket call unix.Listen`
	_, _, _ = unix.Accept4(u, 0)                           // want `raw socket call unix.Accept4`
	_ = unix.Sendto(u, nil, 0, nil)                        // want `raw socket call unix.Sendto`

	_, _ = windows.WSASocket(2, 1, 0, nil, 0, 0) // want `raw socket call windows.WSASocket`
	_ = windows.GetAddrInfoW(nil, nil, nil, nil) // want `raw socket call windows.GetAddrInfoW`

	// Not reported: local-only or unrelated system calls.
	_, _ = unix.Socketpair(1, 1, 0)
	_ = unix.Close(u)
	_, _ = syscall.Getpid(), 0
}

func traps() { // want traps:`makes a raw network call: raw\.traps -> golang\.org/x/sys/unix\.SYS_SOCKET`
	unix.Syscall(unix.SYS_SOCKET, 2, 1, 0)           // want `raw system call unix.Syscall\(SYS_SOCKET\) opens or uses a socket`
	unix.Syscall(uintptr(unix.SYS_CONNECT), 0, 0, 0) // want `raw system call unix.Syscall\(SYS_CONNECT\)`
	unix.Syscall(unix.SYS_GETPID, 0, 0, 0)           // not a socket trap
}

func dlls() { // want dlls:`makes a raw network call: raw\.dlls -> dll:ws2_32\.dll`
	_ = windows.NewLazySystemDLL("ws2_32.dll")                // want `windows.NewLazySystemDLL\("ws2_32.dll"\) loads a Windows networking library`
	_, _ = windows.LoadDLL(`C:\Windows\System32\WinHTTP.dll`) // want `windows.LoadDLL\(.*\) loads a Windows networking library`
	_ = windows.NewLazySystemDLL("kernel32.dll")              // not a networking DLL
}

func values() { // want values:`makes a raw network call: raw\.values -> golang\.org/x/sys/unix\.Connect`
	connect := unix.Connect // want `reference to unix.Connect: a raw network call outside the net package`
	_ = connect
	open := plugin.Open // want `reference to plugin.Open`
	_ = open
}

func plugins() { // want plugins:`makes a raw network call: raw\.plugins -> plugin\.Open`
	_, _ = plugin.Open("x.so") // want `plugin.Open loads code netlint cannot check`
}
