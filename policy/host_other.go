//go:build !linux

package policy

// hostMemoryMB is unknown off Linux: rules comparing against the host's
// memory are skipped (the run budget still bounds every stage).
func hostMemoryMB() int64 { return 0 }
