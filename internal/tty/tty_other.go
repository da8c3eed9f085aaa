//go:build !linux && !darwin && !freebsd && !netbsd && !openbsd && !dragonfly && !windows

package tty

import "os"

// IsTerminal reports false where terminals cannot be detected.
func IsTerminal(*os.File) bool { return false }

// Width is 0 where terminals cannot be detected.
func Width(*os.File) int { return 0 }

// EnableVT reports false where terminals cannot be detected.
func EnableVT(*os.File) bool { return false }
