//go:build linux && guardrun_broken_v2_memory_max

package sandbox

// brokenV2MemoryMax: this build deliberately does not write memory.max on
// cgroup v2 (while still reporting memory as enforced), only to prove that
// the VM stage fails on such a bug (VMTEST_BROKEN=1 vmtest/run.sh). Never
// ship a build with this tag.
const brokenV2MemoryMax = true
