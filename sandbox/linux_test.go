//go:build linux

package sandbox

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/cgroups/v3/cgroup1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

var (
	helperOnce sync.Once
	helperPath string
	helperErr  error
)

// helper builds testdata/helper (a hostile processor) once, or uses the
// prebuilt one named by GUARDRUN_SANDBOX_HELPER (the VM tests of vmtest/,
// where there is no Go toolchain).
func helper(t *testing.T) string {
	t.Helper()
	helperOnce.Do(func() {
		if p := os.Getenv("GUARDRUN_SANDBOX_HELPER"); p != "" {
			helperPath = p
			return
		}
		dir, err := os.MkdirTemp("", "sandbox-helper")
		if err != nil {
			helperErr = err
			return
		}
		helperPath = filepath.Join(dir, "helper")
		out, err := exec.Command("go", "build", "-o", helperPath, "./testdata/helper").CombinedOutput()
		if err != nil {
			helperErr = fmt.Errorf("building helper: %v\n%s", err, out)
		}
	})
	require.NoError(t, helperErr)
	return helperPath
}

// enforcing returns the real sandbox of this host, or skips when it cannot
// enforce isolation and limits (not root, no cgroups, no namespaces).
func enforcing(t *testing.T) *linuxSandbox {
	t.Helper()
	if os.Getuid() != 0 {
		t.Skip("needs root to create cgroups")
	}
	s, err := newLinux(Options{}, probeHost())
	if err != nil {
		t.Skipf("host cannot enforce the sandbox: %v", err)
	}
	t.Cleanup(func() { assert.NoError(t, s.Close()) })
	return s
}

func runIn(t *testing.T, ctx context.Context, s Sandbox, c *Cmd) (Result, string) {
	t.Helper()
	var out bytes.Buffer
	c.Stdout, c.Stderr = &out, &out
	if c.ID == "" {
		c.ID = t.Name()
	}
	p, err := s.Start(ctx, c)
	require.NoError(t, err)
	res, err := p.Wait()
	require.NoError(t, err)
	return res, out.String()
}

// ourCgroups lists cgroups this test process created that still exist.
func ourCgroups(t *testing.T) []string {
	t.Helper()
	prefix := fmt.Sprintf("%s%d-", cgroupPrefix, os.Getpid())
	var out []string
	for _, base := range cgroupBases(t) {
		ents, _ := os.ReadDir(base)
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), prefix) {
				out = append(out, filepath.Join(base, e.Name()))
			}
		}
	}
	return out
}

// waitProcs waits until one of the cgroup dirs holds at least n processes.
func waitProcs(t *testing.T, dirs []string, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		for _, d := range dirs {
			if pids, err := readPidsFile(filepath.Join(d, "cgroup.procs")); err == nil && len(pids) >= n {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no cgroup of %v reached %d processes within 30 s", dirs, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// cgroupBases are the directories attempt cgroups are created in: one per
// controller on cgroup v1, guardrun's own group on v2.
func cgroupBases(t *testing.T) []string {
	switch d := probeHost().cg.(type) {
	case *v1Driver:
		var out []string
		for n, s := range d.subs {
			out = append(out, v1Dir(s, d.base[n]))
		}
		return out
	case *v2Driver:
		return []string{filepath.Join(d.mount, d.parent)}
	}
	t.Skip("no cgroups on this host")
	return nil
}

// cgroupV2 reports whether this host's cgroups are unified (v2).
func cgroupV2() bool {
	_, ok := probeHost().cg.(*v2Driver)
	return ok
}

// attemptCgroupDir is the directory of controller ctrl ("cpu", "memory")
// of the cgroup process pid is in, from /proc/<pid>/cgroup.
func attemptCgroupDir(t *testing.T, pid int, ctrl string) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	require.NoError(t, err)
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.SplitN(line, ":", 3)
		if len(f) != 3 {
			continue
		}
		switch d := probeHost().cg.(type) {
		case *v1Driver:
			if f[1] == ctrl || strings.HasPrefix(f[1], ctrl+",") {
				return v1Dir(d.subs[cgroup1.Name(ctrl)], f[2])
			}
		case *v2Driver:
			if f[0] == "0" {
				return filepath.Join(d.mount, f[2])
			}
		}
	}
	t.Fatalf("no %s cgroup for pid %d in %s", ctrl, pid, b)
	return ""
}

func TestNetworkIsolation(t *testing.T) {
	s := enforcing(t)
	h := helper(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	defer udp.Close()
	args := []string{"helper", "net", ln.Addr().String(), udp.LocalAddr().String()}

	open, err := newLinux(Options{AllowNetwork: true}, probeHost())
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, open.Close()) })
	tests := []struct {
		name string
		sb   Sandbox
		want map[string]string
	}{
		// The same probe without isolation reaches the host: the probe works.
		{"allow network", open, map[string]string{"tcp": "ok", "udp": "ok"}},
		{"sandboxed", s, map[string]string{"tcp": "fail", "udp": "fail", "udp-public": "fail", "setns": "fail"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, out := runIn(t, context.Background(), tt.sb, &Cmd{Path: h, Args: args})
			require.Equal(t, 0, res.ExitCode, out)
			got := map[string]string{}
			sc := bufio.NewScanner(strings.NewReader(out))
			for sc.Scan() {
				f := strings.Fields(sc.Text())
				if len(f) >= 2 {
					got[f[0]] = strings.TrimSuffix(f[1], ":")
				}
			}
			for k, v := range tt.want {
				assert.Equal(t, v, got[k], "%s\n%s", k, out)
			}
		})
	}
	t.Run("shell", func(t *testing.T) {
		port := ln.Addr().(*net.TCPAddr).Port
		script := fmt.Sprintf(`exec 3<>/dev/tcp/127.0.0.1/%d && echo tcp-ok; echo x >/dev/udp/127.0.0.1/53 && echo udp-ok; ip link 2>/dev/null | grep -c 'state UP' || true`, port)
		res, out := runIn(t, context.Background(), s, &Cmd{Path: "/bin/bash", Args: []string{"bash", "-c", script}})
		assert.NotContains(t, out, "tcp-ok")
		assert.NotContains(t, out, "udp-ok")
		assert.Equal(t, 0, res.ExitCode, out)
	})
}

func TestOnlyDownLoopback(t *testing.T) {
	s := enforcing(t)
	res, out := runIn(t, context.Background(), s, &Cmd{Path: helper(t), Args: []string{"helper", "ifaces"}})
	require.Equal(t, 0, res.ExitCode, out)
	assert.Equal(t, "lo down\n", out)
}

func TestMemoryHogKilled(t *testing.T) {
	s := enforcing(t)
	h := helper(t)
	limit := int64(64 << 20)
	res, out := runIn(t, context.Background(), s, &Cmd{Path: h, Args: []string{"helper", "hog", "300"}, Limits: Limits{MemoryBytes: limit}})
	assert.True(t, res.OOMKilled, "%+v %s", res, out)
	assert.Equal(t, "killed", res.Signal)
	assert.NotContains(t, out, "allocated")
	assert.Greater(t, res.PeakMemoryBytes, limit/2)
	// The kernel charges in per-CPU batches (MEMCG_CHARGE_BATCH, 64 pages):
	// the recorded peak can pass the limit by a page or so before the
	// OOM kill (seen once: limit + 4096), never by more than a batch.
	assert.LessOrEqual(t, res.PeakMemoryBytes, limit+64*4096)

	// The same program within its limit is not reported as a memory kill.
	res, out = runIn(t, context.Background(), s, &Cmd{Path: h, Args: []string{"helper", "hog", "8"}, Limits: Limits{MemoryBytes: limit}})
	assert.False(t, res.OOMKilled)
	assert.Equal(t, 0, res.ExitCode, out)
	assert.Greater(t, res.PeakMemoryBytes, int64(8<<20))

	// A shell whose child is killed still reports the memory kill, from
	// the cgroup's counter: on v1 the shell exits normally (137); on v2
	// memory.oom.group = 1 makes the kernel kill the shell with its child.
	res, out = runIn(t, context.Background(), s, &Cmd{Path: "/bin/sh", Args: []string{"sh", "-c", h + " hog 300; echo status $?"}, Limits: Limits{MemoryBytes: limit}, Visible: []string{h}})
	assert.True(t, res.OOMKilled, out)
	if cgroupV2() {
		assert.Equal(t, "killed", res.Signal, "the whole group is killed (memory.oom.group): %s", out)
		assert.NotContains(t, out, "status")
	} else {
		assert.Contains(t, out, "status 137")
	}
}

func TestForkStormCapped(t *testing.T) {
	s := enforcing(t)
	h := helper(t)
	const pids = 20
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	res, out := runIn(t, ctx, s, &Cmd{Path: h, Args: []string{"helper", "fork", "200"}, Limits: Limits{Pids: pids}})
	n, err := strconv.Atoi(strings.TrimSpace(lastLine(out)))
	require.NoError(t, err, out)
	assert.Greater(t, n, 0)
	assert.Less(t, n, pids, "children started under pids=%d", pids)
	assert.Equal(t, 0, res.ExitCode, out)
	// The sleeping children were killed with the tree, not waited for.
	assert.Less(t, time.Since(start), 20*time.Second)
	idleCgroupsEmpty(t, s)

	// A shell fork bomb is contained too and killed on timeout. The bomb
	// goes off in a subshell, forked before the cap is reached; the shell
	// then spins on a builtin: a fork of its own (sleep, the bomb itself)
	// could fail under the cap and end it before the timeout (busybox sh
	// exits when it cannot fork).
	ctx, cancel = context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	res, out = runIn(t, ctx, s, &Cmd{Path: "/bin/sh", Args: []string{"sh", "-c", `(b() { b | b & }; b); while :; do :; done`}, Limits: Limits{Pids: pids}})
	assert.True(t, res.TimedOut)
	assert.True(t, res.Killed)
	idleCgroupsEmpty(t, s)
	require.NoError(t, s.Close())
	assert.Empty(t, ourCgroups(t))
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

func TestCPUQuota(t *testing.T) {
	s := enforcing(t)
	// Other work on this shared host must not starve the spinners below
	// their quota: raise the attempt's cpu.shares / cpu.weight (a weight,
	// not a cap), so only the quota (cpu.cfs_quota_us / cpu.max) decides
	// how much they get.
	s.afterFork = func(pid int) {
		dir := attemptCgroupDir(t, pid, "cpu")
		file, weight := "cpu.shares", "262144"
		if cgroupV2() {
			file, weight = "cpu.weight", "10000"
		}
		require.NoError(t, os.WriteFile(filepath.Join(dir, file), []byte(weight), 0))
	}
	spin := `(while :; do :; done) & (while :; do :; done) & wait`
	// Control: without a quota, two spinners get (nearly) two CPUs.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	res, _ := runIn(t, ctx, s, &Cmd{Path: "/bin/sh", Args: []string{"sh", "-c", spin}})
	cancel()
	t.Logf("control, no quota, 1 s: %.2f CPU seconds", res.CPUSeconds)
	if res.CPUSeconds < 1.2 {
		t.Skipf("host too busy for the quota test: two unlimited spinners got %.2f CPU seconds in 1 s", res.CPUSeconds)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	res, out := runIn(t, ctx, s, &Cmd{Path: "/bin/sh", Args: []string{"sh", "-c", spin}, Limits: Limits{CPUs: 0.5}})
	assert.True(t, res.TimedOut, out)
	t.Logf("two spinners under cpus=0.5 for 3 s: %.2f CPU seconds", res.CPUSeconds)
	assert.InDelta(t, 1.5, res.CPUSeconds, 0.3, "cpu seconds of two spinners under cpus=0.5 for 3 s")
}

func TestInCgroupFromFirstInstruction(t *testing.T) {
	for _, gate := range []bool{false, true} {
		t.Run(fmt.Sprintf("gated=%v", gate), func(t *testing.T) {
			s := enforcing(t)
			s.forceGate = gate
			// A start-then-attach implementation would let cat run in
			// guardrun's cgroups during this pause.
			s.afterFork = func(int) { time.Sleep(200 * time.Millisecond) }
			// Twice: the second attempt runs in the first one's cgroup
			// when this host reuses them.
			for i := 0; i < 2; i++ {
				res, out, dirs := runAttempt(t, context.Background(), s, &Cmd{ID: "first", Path: "/bin/cat", Args: []string{"cat", "/proc/self/cgroup"}, Limits: Limits{MemoryBytes: 64 << 20, Pids: 8, CPUs: 1}}, false)
				require.Equal(t, 0, res.ExitCode, out)
				name := filepath.Base(dirs[0])
				seen := 0
				for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
					f := strings.SplitN(line, ":", 3)
					if cgroupV2() {
						// One unified line, 0::<group>: clone3 into the cgroup.
						if f[0] == "0" {
							seen++
							assert.Contains(t, f[2], cgroupPrefix, line)
							assert.Equal(t, name, filepath.Base(f[2]), line)
						}
						continue
					}
					for _, c := range strings.Split(f[1], ",") {
						switch c {
						case "memory", "pids", "cpu", "cpuacct":
							seen++
							assert.Contains(t, f[2], cgroupPrefix, line)
							assert.Equal(t, name, filepath.Base(f[2]), line)
						}
					}
				}
				want := 4 // memory, pids, cpu, cpuacct
				if cgroupV2() {
					want = 1
				}
				assert.Equal(t, want, seen, out)
			}
		})
	}
}

func TestNoCgroupLeftBehind(t *testing.T) {
	s := enforcing(t)
	tests := []struct {
		name    string
		args    []string
		timeout time.Duration
		kill    bool
		check   func(t *testing.T, r Result)
	}{
		{"success", []string{"sh", "-c", "true"}, 0, false, func(t *testing.T, r Result) { assert.Equal(t, 0, r.ExitCode) }},
		{"failure", []string{"sh", "-c", "exit 3"}, 0, false, func(t *testing.T, r Result) { assert.Equal(t, 3, r.ExitCode) }},
		{"orphans", []string{"sh", "-c", "sleep 100 & sleep 100 & exit 0"}, 0, false, func(t *testing.T, r Result) { assert.Equal(t, 0, r.ExitCode) }},
		{"timeout", []string{"sh", "-c", "sleep 100 & sleep 100"}, 300 * time.Millisecond, false, func(t *testing.T, r Result) {
			assert.True(t, r.TimedOut)
			assert.Equal(t, "killed", r.Signal)
		}},
		// "& wait": the shell stays (busybox sh execs a last command).
		{"kill", []string{"sh", "-c", "sleep 100 & sleep 100 & wait"}, 0, true, func(t *testing.T, r Result) {
			assert.True(t, r.Killed)
			assert.False(t, r.TimedOut)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			if tt.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.timeout)
				defer cancel()
			}
			start := time.Now()
			p, err := s.Start(ctx, &Cmd{ID: tt.name, Path: "/bin/sh", Args: tt.args, Stdout: io_discard{}, Limits: Limits{MemoryBytes: 64 << 20, Pids: 16, CPUs: 1}})
			require.NoError(t, err)
			require.NotEmpty(t, ourCgroups(t))
			if tt.kill {
				waitProcs(t, ourCgroups(t), 3) // the shell and both sleepers
				require.NoError(t, p.Kill())
			}
			dirs := p.(*linuxProc).cg.paths()
			res, err := p.Wait()
			require.NoError(t, err)
			tt.check(t, res)
			assert.Less(t, time.Since(start), 10*time.Second)
			// What is left is drained and kept for the next attempt
			// (orphans included: the pid namespace took them); never
			// after a kill.
			idleCgroupsEmpty(t, s)
			if res.Killed {
				for _, d := range dirs {
					assert.NoDirExists(t, d)
				}
			}
		})
	}
	require.NoError(t, s.Close())
	assert.Empty(t, ourCgroups(t), "Close removes the cgroups kept for reuse")
}

type io_discard struct{}

func (io_discard) Write(p []byte) (int, error) { return len(p), nil }

// TestParentKilled kills -9 a guardrun-like parent that runs a sandboxed
// sleeper: the sleeper must die with it, its cgroup stays behind, and Sweep
// removes it.
func TestParentKilled(t *testing.T) {
	s := enforcing(t)
	h := helper(t)
	parent := exec.Command(h, "parent", "orphan")
	stdout, err := parent.StdoutPipe()
	require.NoError(t, err)
	parent.Stderr = os.Stderr
	require.NoError(t, parent.Start())
	line, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err)
	sleeper, err := strconv.Atoi(strings.TrimSpace(line))
	require.NoError(t, err)
	require.NoError(t, unix.Kill(sleeper, 0), "sleeper runs")
	prefix := fmt.Sprintf("%s%d-", cgroupPrefix, parent.Process.Pid)
	leftovers := func() []string {
		var out []string
		for _, base := range cgroupBases(t) {
			ents, _ := os.ReadDir(base)
			for _, e := range ents {
				if strings.HasPrefix(e.Name(), prefix) {
					out = append(out, filepath.Join(base, e.Name()))
				}
			}
		}
		return out
	}
	require.NotEmpty(t, leftovers())
	if s.pool != nil {
		// The parent's drained cgroup kept for reuse is left too.
		names := map[string]bool{}
		for _, d := range leftovers() {
			names[filepath.Base(d)] = true
		}
		assert.Len(t, names, 2, "the sleeper's cgroup and the idle one: %v", leftovers())
	}

	require.NoError(t, parent.Process.Signal(syscall.SIGKILL))
	_ = parent.Wait()
	assert.Eventually(t, func() bool { return errors.Is(unix.Kill(sleeper, 0), unix.ESRCH) }, 5*time.Second, 10*time.Millisecond, "sleeper %d survived its parent", sleeper)
	assert.NotEmpty(t, leftovers(), "the dead parent's cgroups are left for Sweep")

	require.NoError(t, s.Sweep())
	assert.Empty(t, leftovers())
}

func TestSweepKeepsLiveOwners(t *testing.T) {
	s := enforcing(t)
	p, err := s.Start(context.Background(), &Cmd{ID: "live", Path: "/bin/sleep", Args: []string{"sleep", "30"}})
	require.NoError(t, err)
	require.NoError(t, s.Sweep())
	require.NoError(t, unix.Kill(p.Pid(), 0), "Sweep must not kill attempts of a live guardrun")
	require.NotEmpty(t, ourCgroups(t))
	require.NoError(t, p.Kill())
	_, err = p.Wait()
	require.NoError(t, err)
	assert.Empty(t, ourCgroups(t))
}

func TestCgroupOwnerAlive(t *testing.T) {
	self := fmt.Sprintf("%s%d-%d-1-x", cgroupPrefix, os.Getpid(), selfStartTime())
	tests := []struct {
		name string
		in   string
		want bool
	}{
		{"self", self, true},
		{"same pid other start", fmt.Sprintf("%s%d-%d-1", cgroupPrefix, os.Getpid(), selfStartTime()+1), false},
		{"dead pid", cgroupPrefix + "2147483646-5-1", false},
		{"not ours", "docker-abc", true},
		{"unparsable", cgroupPrefix + "x-y-z", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { assert.Equal(t, tt.want, cgroupOwnerAlive(tt.in)) })
	}
}

func TestUnenforceable(t *testing.T) {
	conf := probeHost().conf
	noNS := hostProbe{nsErr: errors.New("no netns"), cg: probeHost().cg, conf: conf}
	_, err := newLinux(Options{}, noNS)
	require.ErrorIs(t, err, ErrUnenforceable)
	assert.Contains(t, err.Error(), "network isolation")

	s, err := newLinux(Options{BestEffort: true}, hostProbe{nsErr: errors.New("no netns"), cgErr: errors.New("no cgroups"), conf: conf})
	require.NoError(t, err)
	r := s.Report()
	assert.Equal(t, "none", r.Network)
	assert.Equal(t, "none", r.Memory)
	assert.True(t, r.BestEffort)
	notes := strings.Join(r.Notes, "\n")
	assert.Contains(t, notes, "network isolation (network namespace) cannot be enforced")
	assert.Contains(t, notes, "cpu, memory and process limits (cgroups) cannot be enforced")

	_, err = newLinux(Options{}, hostProbe{ns: probeHost().ns, cgErr: errors.New("no cgroups"), conf: conf})
	require.ErrorIs(t, err, ErrUnenforceable)

	// Neither a mount namespace nor Landlock: filesystem confinement is
	// missing, an error unless best effort.
	_, err = newLinux(Options{}, hostProbe{ns: probeHost().ns, cg: probeHost().cg, conf: confineCaps{mountNSErr: errors.New("no mount api")}})
	require.ErrorIs(t, err, ErrUnenforceable)
	assert.Contains(t, err.Error(), "filesystem confinement")

	// Without cgroups and best effort, a limited attempt still runs and
	// says what was not enforced.
	if probeHost().ns != nil {
		res, _ := runIn(t, context.Background(), s, &Cmd{Path: "/bin/true", Args: []string{"true"}, Limits: Limits{MemoryBytes: 1 << 30}})
		assert.Contains(t, res.Notes, "memory limit not enforced")
	}
}

func TestReportThisHost(t *testing.T) {
	s := enforcing(t)
	r := s.Report()
	assert.Equal(t, "netns", r.Network)
	assert.Equal(t, "mount namespace (host read-only) + landlock", r.Filesystem)
	assert.Equal(t, "unprivileged uid per attempt", r.User)
	assert.Equal(t, "seccomp", r.Syscalls)
	cg := "cgroup v1"
	if cgroupV2() {
		cg = "cgroup v2"
	}
	assert.Equal(t, cg, r.Memory)
	assert.Equal(t, cg, r.CPU)
	assert.Equal(t, cg, r.Pids)
	assert.Equal(t, "pidns+cgroup", r.Tree)
	p := Probe()
	assert.Equal(t, r.Network, p.Network)
	assert.Equal(t, r.Memory, p.Memory)
	assert.False(t, p.BestEffort)
}

// TestRunNetnsShared: as root, every attempt of a run enters the run's one
// network namespace (not the host's), which no processor can change:
// bringing its loopback up fails and the next attempt still sees it down.
// With NetnsPerAttempt each attempt gets its own.
func TestRunNetnsShared(t *testing.T) {
	s := enforcing(t)
	if s.netns == nil {
		t.Skip("no run network namespace (not root, or a user namespace setup)")
	}
	host, err := os.Readlink("/proc/self/ns/net")
	require.NoError(t, err)
	nsOf := func(sb Sandbox) string {
		res, out := runIn(t, context.Background(), sb, &Cmd{Path: "/bin/sh", Args: []string{"sh", "-c", "readlink /proc/self/ns/net"}})
		require.Equal(t, 0, res.ExitCode, out)
		return strings.TrimSpace(out)
	}
	a, b := nsOf(s), nsOf(s)
	assert.Equal(t, a, b, "attempts of one run share its namespace")
	assert.NotEqual(t, host, a)
	assert.True(t, strings.HasPrefix(a, "net:["), a)

	res, out := runIn(t, context.Background(), s, &Cmd{Path: "/bin/sh", Args: []string{"sh", "-c", "ip link set lo up 2>&1; echo rc=$?"}})
	require.Equal(t, 0, res.ExitCode, out)
	assert.NotContains(t, out, "rc=0", "a processor brought the run's loopback up")
	res, out = runIn(t, context.Background(), s, &Cmd{Path: helper(t), Args: []string{"helper", "ifaces"}})
	require.Equal(t, 0, res.ExitCode, out)
	assert.Equal(t, "lo down\n", out)

	per, err := newLinux(Options{NetnsPerAttempt: true}, probeHost())
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, per.Close()) })
	require.Nil(t, per.netns)
	c, d := nsOf(per), nsOf(per)
	assert.NotEqual(t, c, d, "NetnsPerAttempt: one namespace per attempt")
	assert.NotEqual(t, host, c)
	assert.NotEqual(t, a, c)
}
