package sandbox

import "syscall"

// setPdeathsig makes the kernel kill the attempt's first process when
// guardrun dies, even by kill -9.
func setPdeathsig(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGKILL }

func maxRSSBytes(ru *syscall.Rusage) int64 { return ru.Maxrss * 1024 }
