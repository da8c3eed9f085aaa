//go:build unix

// Package raw opens a socket without the net package.
package raw

import "syscall"

// Open opens a TCP socket.
func Open() (int, error) {
	return syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
}
