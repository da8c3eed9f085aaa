package sandbox

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestRlimitWrap(t *testing.T) {
	c := &Cmd{Path: "/usr/bin/tool", Args: []string{"tool", "-x", "a b"}}
	tests := []struct {
		name     string
		l        Limits
		memory   bool
		wantPath string
		wantArgs []string
		wantMiss []string
	}{
		{"no limits", Limits{}, true, "/usr/bin/tool", []string{"tool", "-x", "a b"}, nil},
		{"memory via ulimit -v", Limits{MemoryBytes: 64 << 20}, true, "/bin/sh",
			[]string{"sh", "-c", `ulimit -v 65536 || exit 126; exec "$0" "$@"`, "/usr/bin/tool", "-x", "a b"}, nil},
		{"memory not enforceable (darwin)", Limits{MemoryBytes: 64 << 20}, false, "/usr/bin/tool", []string{"tool", "-x", "a b"}, []string{"memory limit"}},
		{"cpu and pids never", Limits{CPUs: 1, Pids: 10}, true, "/usr/bin/tool", []string{"tool", "-x", "a b"}, []string{"cpu limit", "pids limit"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cc := *c
			cc.Limits = tt.l
			p, a, miss := rlimitWrap(&cc, tt.memory)
			assert.Equal(t, tt.wantPath, p)
			assert.Equal(t, tt.wantArgs, a)
			assert.Equal(t, tt.wantMiss, miss)
		})
	}
}
