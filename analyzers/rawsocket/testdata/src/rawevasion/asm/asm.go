// Package asm makes a system call in assembly, which netlint cannot read.
package asm

// Rawsock is implemented in assembly (rawsock_amd64.s).
func Rawsock(trap uintptr) uintptr
