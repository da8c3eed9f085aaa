//go:build linux

package sandbox

import (
	"context"
	"errors"
	"os/exec"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// BenchmarkStart measures Start+Wait of /bin/true per isolation level:
// plain exec (process group only), namespaces (user+net+pid), and
// namespaces plus a cgroup with memory/cpu/pids limits; and, for
// comparison, `unshare -n true` and bubblewrap when installed. Besides
// ns/op it reports the median and 90th percentile of single starts.
func BenchmarkStart(b *testing.B) {
	p := probeHost()
	full, err := newLinux(Options{}, p)
	if err != nil {
		b.Skipf("sandbox not enforceable here: %v", err)
	}
	// The same, with a network namespace cloned per attempt instead of
	// the run's one (what every attempt got before).
	perAttempt, err := newLinux(Options{NetnsPerAttempt: true}, p)
	if err != nil {
		b.Fatal(err)
	}
	// The same, with a cgroup created and removed per attempt instead of
	// drained cgroups reused (what every attempt got before).
	cgPerAttempt, err := newLinux(Options{}, p)
	if err != nil {
		b.Fatal(err)
	}
	cgPerAttempt.pool = nil
	variant := func(hp hostProbe) Sandbox {
		s, err := newLinux(Options{BestEffort: true}, hp)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = s.Close() })
		return s
	}
	for _, s := range []*linuxSandbox{full, perAttempt, cgPerAttempt} {
		b.Cleanup(func() { _ = s.Close() })
	}
	noMountNS := p.conf
	noMountNS.mountNS, noMountNS.mountNSErr = false, errors.New("benchmark")
	limits := Limits{MemoryBytes: 256 << 20, CPUs: 1, Pids: 64}
	cases := []struct {
		name string
		sb   Sandbox
		l    Limits
	}{
		{"plain", &plain{}, Limits{}},
		{"netns", variant(hostProbe{ns: p.ns}), Limits{}},
		{"netns+landlock+seccomp", variant(hostProbe{ns: p.ns, conf: noMountNS}), Limits{}},
		{"netns+mountns+landlock+seccomp", variant(hostProbe{ns: p.ns, conf: p.conf}), Limits{}},
		{"netns+cgroup", variant(hostProbe{ns: p.ns, cg: p.cg}), limits},
		{"full", full, limits}, // what every attempt gets: all of the above
		{"full, netns per attempt", perAttempt, limits},
		{"full, cgroup per attempt", cgPerAttempt, limits},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			cmd := &Cmd{ID: "bench", Path: "/bin/true", Args: []string{"true"}, Limits: c.l}
			timed(b, func() {
				pr, err := c.sb.Start(context.Background(), cmd)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := pr.Wait(); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
	external := []struct {
		name string
		argv []string
	}{
		{"unshare-n", []string{"unshare", "-n", "true"}},
		{"bwrap", []string{"bwrap", "--unshare-net", "--dev-bind", "/", "/", "true"}},
		// bubblewrap with a comparable filesystem view: host read-only,
		// private /tmp, /proc and /dev, pid namespace.
		{"bwrap-ro", []string{"bwrap", "--unshare-net", "--unshare-pid", "--ro-bind", "/", "/", "--tmpfs", "/tmp", "--proc", "/proc", "--dev", "/dev", "true"}},
	}
	for _, e := range external {
		b.Run(e.name, func(b *testing.B) {
			path, err := exec.LookPath(e.argv[0])
			if err != nil {
				b.Skipf("%s not installed", e.argv[0])
			}
			timed(b, func() {
				if out, err := exec.Command(path, e.argv[1:]...).CombinedOutput(); err != nil {
					b.Fatalf("%v: %v\n%s", e.argv, err, out)
				}
			})
		})
	}
}

// timed runs f b.N times and reports the median and 90th percentile of
// its wall time, and the CPU time per run of this process and its reaped
// children (user+system; not the kernel's work in other threads, such as
// the asynchronous teardown of a removed cgroup), which the load of other
// work on the host changes less than wall time.
func timed(b *testing.B, f func()) {
	var ds []time.Duration
	cpu0 := cpuTime()
	for b.Loop() {
		t0 := time.Now()
		f()
		ds = append(ds, time.Since(t0))
	}
	cpu := cpuTime() - cpu0
	slices.Sort(ds)
	if len(ds) > 0 {
		b.ReportMetric(float64(ds[len(ds)/2].Microseconds())/1000, "median-ms")
		b.ReportMetric(float64(ds[len(ds)*9/10].Microseconds())/1000, "p90-ms")
		b.ReportMetric(float64(cpu.Microseconds())/1000/float64(len(ds)), "cpu-ms/op")
	}
}

// cpuTime is the user+system time of this process and its reaped
// children.
func cpuTime() time.Duration {
	var t time.Duration
	for _, who := range []int{unix.RUSAGE_SELF, unix.RUSAGE_CHILDREN} {
		var ru unix.Rusage
		if unix.Getrusage(who, &ru) == nil {
			t += time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		}
	}
	return t
}
