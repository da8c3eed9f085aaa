package rawexcept

import (
	"golang.org/x/sys/unix"
	"golang.org/x/sys/windows"
)

func Excepted() { // want Excepted:`makes a raw network call: rawexcept\.Excepted -> golang\.org/x/sys/unix\.Connect`
	fd, _ := unix.Socket(16, 3, 0)                                 // excepted by the config: call golang.org/x/sys/unix.Socket
	_ = unix.Connect(fd, nil)                                      // want `raw socket call unix.Connect`
	unix.Syscall(unix.SYS_SOCKET, 0, 0, 0)                         // excepted: call golang.org/x/sys/unix.SYS_SOCKET
	_ = windows.NewLazySystemDLL(`C:\Windows\System32\WS2_32.DLL`) // excepted: call dll:ws2_32.dll
	_ = windows.NewLazySystemDLL("winhttp.dll")                    // want `loads a Windows networking library`
}
