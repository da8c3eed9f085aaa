//go:build linux

package sandbox

import (
	"context"
	"testing"
)

// BenchmarkStart measures Start+Wait of /bin/true per isolation level:
// plain exec (process group only), network+pid+user namespaces, and
// namespaces plus a cgroup with memory/cpu/pids limits.
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
			for b.Loop() {
				pr, err := c.sb.Start(context.Background(), cmd)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := pr.Wait(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
