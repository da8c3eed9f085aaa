// Package raw opens a socket without the net package.
package raw

import "syscall"

// Open loads Winsock.
func Open() (int, error) {
	_, err := syscall.LoadDLL("ws2_32.dll")
	return 0, err
}
