//go:build linux

package sandbox

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// fakeCgroup2 builds a directory tree shaped like a cgroup2 mount with the
// given group holding procs; files are plain files, so the test sees
// exactly what the driver writes.
func fakeCgroup2(t *testing.T, group string, procs ...int) string {
	t.Helper()
	root := t.TempDir()
	dir := root
	for _, part := range append([]string{""}, strings.Split(strings.Trim(group, "/"), "/")...) {
		dir = filepath.Join(dir, part)
		require.NoError(t, os.MkdirAll(dir, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "cgroup.controllers"), []byte("cpuset cpu io memory pids\n"), 0o644))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "cgroup.subtree_control"), nil, 0o644))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "cgroup.procs"), nil, 0o644))
	}
	var b strings.Builder
	for _, p := range procs {
		fmt.Fprintln(&b, p)
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(b.String()), 0o644))
	return root
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return strings.TrimSpace(string(b))
}

func TestV2DriverSetup(t *testing.T) {
	const self = 4242
	tests := []struct {
		name      string
		group     string
		procs     []int
		nsRoot    bool // "/" of a cgroup namespace: has cgroup.type, unlike the real root
		wantLeaf  bool
		wantErr   string
		wantCtrls string // written to the group's cgroup.subtree_control
	}{
		{"alone in its group: moves itself to a leaf", "/user.slice/run.scope", []int{self}, false, true, "", "+cpu +memory +pids +io"},
		{"empty delegated group", "/user.slice/run.scope", nil, false, false, "", "+cpu +memory +pids +io"},
		{"root group", "/", []int{self, 1, 2}, false, false, "", "+cpu +memory +pids +io"},
		{"shares its group", "/user.slice/session.scope", []int{self, 77}, false, false, "other processes", ""},
		// A container's cgroup namespace: 0::/ but not the root cgroup,
		// so the kernel refuses controllers while guardrun is in it
		// (EBUSY, seen in the VM: TestV2CgroupNamespaceRoot).
		{"alone at a cgroup namespace's root: moves itself to a leaf", "/", []int{self}, true, true, "", "+cpu +memory +pids +io"},
		{"shares a cgroup namespace's root", "/", []int{self, 1}, true, false, "other processes", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := fakeCgroup2(t, tt.group, tt.procs...)
			if tt.nsRoot {
				require.NoError(t, os.WriteFile(filepath.Join(root, "cgroup.type"), []byte("domain\n"), 0o644))
			}
			d, err := newV2Driver(root, tt.group, self)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, []string{"cpu", "memory", "pids", "io"}, d.ctrls)
			group := filepath.Join(root, tt.group)
			assert.Equal(t, tt.wantCtrls, read(t, filepath.Join(group, "cgroup.subtree_control")))
			if tt.wantLeaf {
				require.NotEmpty(t, d.selfLeaf)
				assert.True(t, strings.HasPrefix(filepath.Base(d.selfLeaf), fmt.Sprintf("%s%d-", cgroupPrefix, self)))
				assert.Equal(t, "4242", read(t, filepath.Join(root, d.selfLeaf, "cgroup.procs")))
			} else {
				assert.Empty(t, d.selfLeaf)
			}
		})
	}
}

func TestV2AttemptFiles(t *testing.T) {
	root := fakeCgroup2(t, "/guardrun.scope")
	d, err := newV2Driver(root, "/guardrun.scope", 1)
	require.NoError(t, err)
	work := t.TempDir()
	major, minor, haveDev := blockDevice(work)

	a, err := d.create("guardrun-1-2-3-x", Limits{CPUs: 0.5, MemoryBytes: 64 << 20, Pids: 32, WriteBps: 1 << 20}, work, true)
	require.NoError(t, err)
	dir := filepath.Join(root, "guardrun.scope", "guardrun-1-2-3-x")
	assert.Equal(t, []string{dir}, a.paths())
	assert.Equal(t, "50000 100000", read(t, filepath.Join(dir, "cpu.max")))
	assert.Equal(t, "67108864", read(t, filepath.Join(dir, "memory.max")))
	assert.Equal(t, "1", read(t, filepath.Join(dir, "memory.oom.group")))
	assert.Equal(t, "32", read(t, filepath.Join(dir, "pids.max")))
	if haveDev {
		assert.Equal(t, fmt.Sprintf("%d:%d wbps=1048576", major, minor), read(t, filepath.Join(dir, "io.max")))
	} else {
		assert.NoFileExists(t, filepath.Join(dir, "io.max"))
	}
	// A fake tree has no memory.swap.max until written: reported, not hidden.
	assert.Contains(t, a.notes(), "swap not limited: no memory.swap.max")
	assert.GreaterOrEqual(t, a.fd(), 0, "clone-into-cgroup descriptor")

	// Counters as the kernel would leave them after a memory kill.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "cpu.stat"), []byte("usage_usec 1500000\nuser_usec 1000000\nsystem_usec 500000\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "memory.peak"), []byte("67100000\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "memory.events"), []byte("low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\noom_group_kill 1\n"), 0o644))
	st := a.stats()
	assert.InDelta(t, 1.5, st.cpuSeconds, 1e-9)
	assert.Equal(t, int64(67100000), st.peakBytes)
	assert.True(t, st.haveOOM)
	assert.Equal(t, uint64(1), st.oomKills)

	a.killOnce()
	assert.Equal(t, "1", read(t, filepath.Join(dir, "cgroup.kill")))

	// No limits: no limit files at all.
	b, err := d.create("guardrun-1-2-4", Limits{}, work, true)
	require.NoError(t, err)
	for _, f := range []string{"cpu.max", "memory.max", "pids.max", "io.max"} {
		assert.NoFileExists(t, filepath.Join(root, "guardrun.scope", "guardrun-1-2-4", f))
	}
	unix.Close(b.fd())
	unix.Close(a.fd())
}

func TestV2Resources(t *testing.T) {
	r := v2Resources(Limits{CPUs: 2, MemoryBytes: 1 << 30, Pids: 10, ReadBps: 5}, []string{"cpu", "memory"}, 8, 0, true)
	assert.Equal(t, "200000 100000", string(r.CPU.Max))
	if assert.NotNil(t, r.Memory, "memory.max") {
		assert.Equal(t, int64(1<<30), *r.Memory.Max)
	}
	assert.Nil(t, r.Pids, "pids controller not available")
	assert.Nil(t, r.IO, "io controller not available")
	r = v2Resources(Limits{CPUs: 0.001}, []string{"cpu"}, 0, 0, false)
	assert.Equal(t, "1000 100000", string(r.CPU.Max), "quota floor of 1 ms")
}

// TestV2RealUnified runs the v2 path against the kernel's real cgroup2
// mount of a hybrid host (no controllers there, so no limits): clone into
// the cgroup, cgroup.kill, and removal are the kernel's, not a fake's.
func TestV2RealUnified(t *testing.T) {
	const mount = "/sys/fs/cgroup/unified"
	var st unix.Statfs_t
	if os.Getuid() != 0 || unix.Statfs(mount, &st) != nil || st.Type != unix.CGROUP2_SUPER_MAGIC {
		t.Skip("needs root and a cgroup2 mount at " + mount)
	}
	own := "/"
	b, err := os.ReadFile("/proc/self/cgroup")
	require.NoError(t, err)
	for _, line := range strings.Split(string(b), "\n") {
		if g, ok := strings.CutPrefix(line, "0::"); ok {
			own = g
		}
	}
	if own != "/" {
		t.Skipf("test process is in %s of the unified hierarchy, not its root", own)
	}
	d, err := newV2Driver(mount, own, os.Getpid())
	require.NoError(t, err)
	s, err := newLinux(Options{BestEffort: true}, hostProbe{ns: probeHost().ns, cg: d})
	require.NoError(t, err)

	res, out := runIn(t, context.Background(), s, &Cmd{ID: "v2", Path: "/bin/cat", Args: []string{"cat", "/proc/self/cgroup"}})
	require.Equal(t, 0, res.ExitCode, out)
	assert.Regexp(t, `(?m)^0::/guardrun-\d+-\d+-\d+-v2$`, out)
	require.NoError(t, s.Close())

	// Reuse (as root, where the kernel's files allow it): the second
	// attempt runs in the first one's drained cgroup, and its CPU time is
	// its own (cpu.stat is cumulative: a baseline is subtracted).
	probe, err := d.create(attemptCgroupName("probe"), Limits{}, "", true)
	require.NoError(t, err)
	reuse, why := d.reusable(probe)
	require.NoError(t, probe.remove())
	require.True(t, reuse, why)
	pooled, err := newLinux(Options{BestEffort: true}, hostProbe{ns: probeHost().ns, cg: d, cgReuse: true})
	require.NoError(t, err)
	defer pooled.Close()
	require.NotNil(t, pooled.pool)
	res, out, dirs1 := runAttempt(t, context.Background(), pooled, &Cmd{ID: "v2spin", Path: "/bin/sh", Args: []string{"sh", "-c", `i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done`}}, false)
	require.Equal(t, 0, res.ExitCode, out)
	require.Greater(t, res.CPUSeconds, 0.1, "%+v", res)
	res, out, dirs2 := runAttempt(t, context.Background(), pooled, &Cmd{ID: "v2true", Path: "/bin/true", Args: []string{"true"}}, false)
	require.Equal(t, 0, res.ExitCode, out)
	assert.Equal(t, dirs1, dirs2, "reused")
	assert.Less(t, res.CPUSeconds, 0.05, "CPU seconds of /bin/true alone: %+v", res)
	require.NoError(t, pooled.Close())
	assert.NoDirExists(t, dirs1[0])

	// Without namespaces, and with the sleepers in sessions of their own,
	// only the cgroup (cgroup.kill) can find and kill them.
	bare, err := newLinux(Options{BestEffort: true, AllowNetwork: true}, hostProbe{cg: d})
	require.NoError(t, err)
	p, err := bare.Start(context.Background(), &Cmd{ID: "v2kill", Path: "/bin/sh", Args: []string{"sh", "-c", "setsid sleep 100 & setsid sleep 100 & wait"}})
	require.NoError(t, err)
	// Kill once the shell and both sleepers are in the cgroup: the event,
	// not a guessed delay (a kill before they exist would test nothing).
	var groups []string
	_ = filepath.WalkDir(mount, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() && strings.HasSuffix(path, "-v2kill") {
			groups = append(groups, path)
		}
		return nil
	})
	require.NotEmpty(t, groups, "the attempt's cgroup under %s", mount)
	waitProcs(t, groups, 3)
	start := time.Now()
	require.NoError(t, p.Kill())
	res, err = p.Wait()
	require.NoError(t, err)
	assert.True(t, res.Killed)
	assert.Less(t, time.Since(start), 5*time.Second)
	ents, err := os.ReadDir(mount)
	require.NoError(t, err)
	for _, e := range ents {
		assert.False(t, strings.HasPrefix(e.Name(), fmt.Sprintf("%s%d-", cgroupPrefix, os.Getpid())), "left behind: %s", e.Name())
	}
}
