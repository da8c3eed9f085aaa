//go:build linux

package sandbox

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pooling returns the real sandbox of this host with cgroup reuse on, or
// skips when this host does not reuse cgroups (saying why).
func pooling(t *testing.T) *linuxSandbox {
	t.Helper()
	s := enforcing(t)
	if s.pool == nil {
		t.Skipf("attempt cgroups are not reused on this host: %s", probeHost().cgNoReuse)
	}
	return s
}

// runAttempt runs c to its end and returns its result, output and the
// directories of the cgroup it ran in.
func runAttempt(t *testing.T, ctx context.Context, s *linuxSandbox, c *Cmd, kill bool) (Result, string, []string) {
	t.Helper()
	var out strings.Builder
	c.Stdout, c.Stderr = &out, &out
	if c.ID == "" {
		c.ID = t.Name()
	}
	p, err := s.Start(ctx, c)
	require.NoError(t, err)
	dirs := p.(*linuxProc).cg.paths()
	if kill {
		waitProcs(t, dirs, 1)
		require.NoError(t, p.Kill())
	}
	res, err := p.Wait()
	require.NoError(t, err)
	return res, out.String(), dirs
}

// TestReusedCgroupCountsPerAttempt: an attempt that ended cleanly gives
// its cgroup to the next attempt with the same limits, and that attempt
// reports its own CPU seconds, peak memory and OOM state, not the sum
// with the earlier one's.
func TestReusedCgroupCountsPerAttempt(t *testing.T) {
	s := pooling(t)
	h := helper(t)
	limits := Limits{MemoryBytes: 256 << 20, Pids: 32, CPUs: 2}
	// About 40 MiB and a fixed amount of CPU work (no guessed delay).
	busy := &Cmd{Path: "/bin/sh", Args: []string{"sh", "-c", h + ` hog 40 && i=0 && while [ $i -lt 200000 ]; do i=$((i+1)); done`}, Visible: []string{h}, Limits: limits}
	res1, out, dirs1 := runAttempt(t, context.Background(), s, busy, false)
	require.Equal(t, 0, res1.ExitCode, out)
	require.Greater(t, res1.PeakMemoryBytes, int64(40<<20), "%+v", res1)
	require.Greater(t, res1.CPUSeconds, 0.1, "%+v", res1)
	assert.ElementsMatch(t, dirs1, s.pool.idlePaths(), "the drained cgroup waits for the next attempt")

	res2, out, dirs2 := runAttempt(t, context.Background(), s, &Cmd{Path: "/bin/true", Args: []string{"true"}, Limits: limits}, false)
	require.Equal(t, 0, res2.ExitCode, out)
	assert.Equal(t, dirs1, dirs2, "the second attempt reuses the first one's cgroup")
	assert.Less(t, res2.CPUSeconds, 0.05, "CPU seconds of /bin/true, not of the earlier attempt: %+v", res2)
	assert.Greater(t, res2.PeakMemoryBytes, int64(0))
	assert.Less(t, res2.PeakMemoryBytes, int64(8<<20), "peak of /bin/true, not of the earlier hog: %+v", res2)
	assert.False(t, res2.OOMKilled)

	// Other limits: another cgroup.
	_, _, dirs3 := runAttempt(t, context.Background(), s, &Cmd{Path: "/bin/true", Args: []string{"true"}, Limits: Limits{MemoryBytes: 128 << 20}}, false)
	assert.NotEqual(t, dirs1, dirs3)

	require.NoError(t, s.Close())
	assert.Empty(t, ourCgroups(t), "Close removes the pooled cgroups")
	_, err := s.Start(context.Background(), &Cmd{Path: "/bin/true", Args: []string{"true"}})
	assert.ErrorContains(t, err, "closed")
}

// TestCgroupNotReusedAfterKill: an attempt killed by the OOM killer, by
// its deadline or by Kill leaves no cgroup for the next attempt, and the
// next attempt is not reported as memory-killed.
func TestCgroupNotReusedAfterKill(t *testing.T) {
	s := pooling(t)
	h := helper(t)
	limits := Limits{MemoryBytes: 64 << 20, Pids: 16}
	tests := []struct {
		name    string
		args    []string
		timeout time.Duration
		kill    bool
		check   func(t *testing.T, r Result)
	}{
		{"oom", []string{h, "hog", "300"}, 0, false, func(t *testing.T, r Result) { assert.True(t, r.OOMKilled, "%+v", r) }},
		{"timeout", []string{"/bin/sleep", "100"}, 300 * time.Millisecond, false, func(t *testing.T, r Result) { assert.True(t, r.TimedOut, "%+v", r) }},
		{"kill", []string{"/bin/sleep", "100"}, 0, true, func(t *testing.T, r Result) { assert.True(t, r.Killed, "%+v", r) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			if tt.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.timeout)
				defer cancel()
			}
			res, out, dirs := runAttempt(t, ctx, s, &Cmd{Path: tt.args[0], Args: tt.args, Limits: limits}, tt.kill)
			tt.check(t, res)
			for _, d := range dirs {
				assert.NoDirExists(t, d, out)
			}
			assert.Empty(t, s.pool.idlePaths())

			res, out, next := runAttempt(t, context.Background(), s, &Cmd{Path: h, Args: []string{"helper", "hog", "8"}, Limits: limits}, false)
			assert.Equal(t, 0, res.ExitCode, out)
			assert.False(t, res.OOMKilled, "%+v", res)
			assert.NotEqual(t, dirs, next)
			assert.ElementsMatch(t, next, s.pool.idlePaths(), "a clean attempt's cgroup is kept")
		})
	}
}

// TestCgroupWithChargedPageCacheNotReused: the page cache of a file an
// attempt wrote stays charged to its cgroup; more than maxResidualBytes
// of it would count in the next attempt's peak and against its limit, so
// that cgroup is removed instead (and its charge moves to the parent).
func TestCgroupWithChargedPageCacheNotReused(t *testing.T) {
	s := pooling(t)
	dir := t.TempDir()
	require.NoError(t, os.Chmod(dir, 0o755))
	out := filepath.Join(dir, "out")
	require.NoError(t, os.Mkdir(out, 0o755))
	limits := Limits{MemoryBytes: 64 << 20}
	res, o, dirs := runAttempt(t, context.Background(), s, &Cmd{Path: "/bin/sh", Args: []string{"sh", "-c", "head -c 4194304 /dev/zero > out/big"}, Dir: dir, Writable: []string{out}, Limits: limits}, false)
	require.Equal(t, 0, res.ExitCode, o)
	for _, d := range dirs {
		assert.NoDirExists(t, d)
	}
	res, o, next := runAttempt(t, context.Background(), s, &Cmd{Path: "/bin/true", Args: []string{"true"}, Limits: limits}, false)
	require.Equal(t, 0, res.ExitCode, o)
	assert.NotEqual(t, dirs, next)
	assert.Less(t, res.PeakMemoryBytes, int64(2<<20), "%+v", res)
}

// idleCgroupsEmpty asserts that every cgroup this process still has is a
// drained cgroup in s's pool: no process in it or below it.
func idleCgroupsEmpty(t *testing.T, s *linuxSandbox) {
	t.Helper()
	var idle []string
	if s.pool != nil {
		idle = s.pool.idlePaths()
	}
	for _, d := range ourCgroups(t) {
		assert.True(t, slices.Contains(idle, d), "left behind: %s", d)
		assert.Empty(t, treePids(d, "cgroup.procs"), "processes left in %s", d)
	}
}
