// Package lib opens sockets for its callers: findings at the calls in
// other packages come from its facts.
package lib

import "syscall"

// Dial opens a TCP socket without importing net.
func Dial() (int, error) { // want Dial:`makes a raw network call: lib\.Dial -> syscall\.Socket`
	return syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0) // want `raw socket call syscall.Socket`
}

// Sys makes the system call trap.
func Sys(trap uintptr) uintptr { // want Sys:`trap parameters \[0\]`
	r, _, _ := syscall.Syscall(trap, 0, 0, 0)
	return r
}

// Open calls Dial: its callers elsewhere get the whole chain.
func Open() { // want Open:`makes a raw network call: lib\.Open -> lib\.Dial -> syscall\.Socket`
	_, _ = Dial()
}
