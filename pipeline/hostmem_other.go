//go:build !linux

package pipeline

// hostMemoryMB is not detected off Linux; the caller falls back to
// fallbackHostMemoryMB unless LoadOptions.HostMemoryMB is set.
func hostMemoryMB() int64 { return 0 }
