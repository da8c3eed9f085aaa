package policy

import "golang.org/x/sys/unix"

// hostMemoryMB is the total RAM reported by sysinfo(2); 0 when unknown.
func hostMemoryMB() int64 {
	var si unix.Sysinfo_t
	if err := unix.Sysinfo(&si); err != nil {
		return 0
	}
	return int64(uint64(si.Totalram)*uint64(si.Unit)) >> 20
}
