package policy

import "runtime"

// DetectHost returns this machine's cpus, memory (0 when unknown) and OS.
func DetectHost() Host {
	return Host{CPUs: runtime.NumCPU(), MemoryMB: hostMemoryMB(), OS: runtime.GOOS}
}
