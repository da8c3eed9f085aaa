//go:build linux

package sandbox

import (
	"context"
	"os/exec"
	"slices"
	"testing"
	"time"
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
	nsOnly, err := newLinux(Options{BestEffort: true}, hostProbe{ns: p.ns})
	if err != nil {
		b.Fatal(err)
	}
	cases := []struct {
		name string
		sb   Sandbox
		l    Limits
	}{
		{"plain", &plain{}, Limits{}},
		{"netns", nsOnly, Limits{}},
		{"netns+cgroup", full, Limits{MemoryBytes: 256 << 20, CPUs: 1, Pids: 64}},
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

func timed(b *testing.B, f func()) {
	var ds []time.Duration
	for b.Loop() {
		t0 := time.Now()
		f()
		ds = append(ds, time.Since(t0))
	}
	slices.Sort(ds)
	if len(ds) > 0 {
		b.ReportMetric(float64(ds[len(ds)/2].Microseconds())/1000, "median-ms")
		b.ReportMetric(float64(ds[len(ds)*9/10].Microseconds())/1000, "p90-ms")
	}
}
