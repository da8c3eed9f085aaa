// Package vmtest proves the sandbox through the real guardrun binary on
// whatever kernel it runs on, and boots Debian kernels in QEMU so that
// this happens on cgroup v2 and on an older kernel too, not only on the
// development machines' cgroup v1 (hybrid) host.
//
// Two parts:
//
//   - vm_linux_test.go: end-to-end tests that run `guardrun` (static, with
//     guardrun-guard next to it) on pipelines whose processors attack the
//     limits and the confinement: a memory hog (reported oom_kill), a fork
//     storm (capped at pids), CPU quota (cpuSeconds / wallSeconds from the
//     run's metrics), peak memory and CPU in the metrics, no cgroup left
//     after success, failure, timeout and kill -9 of guardrun (swept by the
//     next run), a hostile processor writing its cgroup limits, migrating
//     out, writing outside its staging dir, `guardrun check` reporting
//     exactly what this kernel enforces, and (cgroup v2) guardrun moving
//     itself into a leaf of a delegated cgroup. They run as root on Linux,
//     on the host with `go test ./...` (cgroup v1 there) and inside the VM
//     as a test binary (`go test -c`), with the binaries named by
//     GUARDRUN_VMTEST_BIN instead of building them (the VM has no Go).
//   - run.sh: the VM stage of run_tests.sh. It installs qemu-system-x86
//     and busybox-static with apt, downloads Debian's cloud kernels with
//     `apt-get download` (bookworm-backports 6.12 and bookworm 6.1, the
//     Debian mirror taken from the host's own apt sources), builds static
//     binaries and the test binaries of this package and of sandbox/,
//     packs them with busybox into an initramfs whose /init (init.sh)
//     mounts cgroup2 at /sys/fs/cgroup with cpu, memory, pids and io
//     enabled, runs both test binaries, prints VMTEST lines on the serial
//     console and powers off; run.sh reads the serial log and fails on a
//     failed test, a kernel panic or a timeout. See docs/SANDBOX.md,
//     "Tested on which kernels".
//
// Proving that the stage catches a broken limit: VMTEST_BROKEN=1
// vmtest/run.sh builds guardrun with the build tag
// guardrun_broken_v2_memory_max, which stops sandbox from writing
// memory.max on cgroup v2; the stage must then fail (the memory hog is
// not killed).
package vmtest
