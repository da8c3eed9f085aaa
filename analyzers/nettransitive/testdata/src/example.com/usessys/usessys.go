// Package usessys imports the system call layer: clean.
package usessys

import "golang.org/x/sys/windows"

var _ = windows.IP
