//go:build linux && !guardrun_broken_v2_memory_max

package sandbox

// brokenV2MemoryMax is false in every real build. The build tag
// guardrun_broken_v2_memory_max (cgroupv2_broken_linux.go) sets it, to
// prove that the VM stage catches a v2 limit that is not written:
// VMTEST_BROKEN=1 vmtest/run.sh must fail.
const brokenV2MemoryMax = false
