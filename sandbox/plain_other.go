//go:build !linux && !windows

package sandbox

import "syscall"

func setPdeathsig(*syscall.SysProcAttr) {}

func maxRSSBytes(ru *syscall.Rusage) int64 { return ru.Maxrss } // bytes on darwin/BSD
