//go:build unix

package engine

import (
	"syscall"
	"time"
)

// processCPU is user+system CPU time of this process: on a shared machine
// wall time measures the neighbours, CPU time measures the code.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
