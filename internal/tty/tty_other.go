//go:build !linux && !darwin && !freebsd && !netbsd && !openbsd && !dragonfly && !windows

package tty

import "os"

// IsTerminal reports false where terminals cannot be detected.
func IsTerminal(*os.File) bool { return false }
