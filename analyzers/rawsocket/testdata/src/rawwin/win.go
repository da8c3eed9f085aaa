//go:build windows

package rawwin

import "syscall"

func Dial() { // want Dial:`makes a raw network call: rawwin\.Dial -> syscall\.Socket`
	s, _ := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0) // want `raw socket call syscall.Socket`
	_ = syscall.Connect(s, &syscall.SockaddrInet4{Port: 80})        // want `raw socket call syscall.Connect`
	_, _ = syscall.LoadDLL("ws2_32.dll")                            // want `syscall.LoadDLL\("ws2_32.dll"\) loads a Windows networking library`
}
