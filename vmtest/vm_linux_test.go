package vmtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// bin holds guardrun, guardrun-guard, helper (sandbox/testdata/helper) and
// the processors slowcopy and upper.
var bin string

func TestMain(m *testing.M) {
	if p := os.Getenv("VMTEST_CGROUPNS_EXEC"); p != "" {
		cgroupnsExec(p) // TestV2CgroupNamespaceRoot's container; does not return
	}
	if runtime.GOOS != "linux" || os.Getuid() != 0 {
		os.Exit(m.Run()) // every test skips, saying why
	}
	if d := os.Getenv("GUARDRUN_VMTEST_BIN"); d != "" {
		bin = d
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "guardrun-vmtest-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for _, b := range [][]string{
		{"build", "-o", dir + "/", "github.com/guardrun/guardrun/cmd/guardrun", "github.com/guardrun/guardrun/cmd/guardrun-guard"},
		{"build", "-o", filepath.Join(dir, "helper"), "github.com/guardrun/guardrun/sandbox/testdata/helper"},
		{"build", "-o", dir + "/", "github.com/guardrun/guardrun/processors/slowcopy", "github.com/guardrun/guardrun/processors/upper"},
	} {
		cmd := exec.Command("go", b...)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "go %s: %v\n%s", strings.Join(b, " "), err, out)
			os.Exit(1)
		}
	}
	bin = dir
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

func need(t *testing.T) {
	t.Helper()
	if runtime.GOOS != "linux" || os.Getuid() != 0 {
		t.Skip("the kernel sandbox is tested as root on Linux")
	}
}

// cgroupVersion is 2 when /sys/fs/cgroup is cgroup2 (unified), else 1.
func cgroupVersion() int {
	var st unix.Statfs_t
	if unix.Statfs("/sys/fs/cgroup", &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
		return 2
	}
	return 1
}

// workspace is a world-readable temp dir (processors run as another uid)
// holding the helper and a policy allowing the shell, with files added.
func workspace(t *testing.T, files map[string]string) (dir, sh string) {
	t.Helper()
	dir, err := os.MkdirTemp("", "vmtest-ws-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	require.NoError(t, os.Chmod(dir, 0o755))
	b, err := os.ReadFile(filepath.Join(bin, "helper"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "helper"), b, 0o755))
	// The spec names sh as found on PATH (busybox, in the VM, needs to be
	// called sh); the policy allows the file it resolves to.
	sh, err = exec.LookPath("sh")
	require.NoError(t, err)
	real, err := filepath.EvalSymlinks(sh)
	require.NoError(t, err)
	files["policy/allow.rego"] = fmt.Sprintf("package guardrun.config\n\nallowed_outside_paths contains %q\n", real)
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	}
	return dir, sh
}

// stage is one stage of a spec: sh -c script, independent of the others.
func stage(sh, name, script, extra string) string {
	return fmt.Sprintf(`{"name": %q, "processor": {"exec": [%q, "-c", %q]}, "outputDir": "out/%s", "dependsOn": [], "retry": {"maxAttempts": 1}%s}`,
		name, sh, script, name, extra)
}

// spec is a pipeline of stages. Stages get 256 MB unless they say
// otherwise: guardrun's default (1024 MB) is more than the VM's run budget.
func spec(stages ...string) string {
	return `{"version": 1, "name": "vm", "defaults": {"resources": {"memoryMB": 256}}, "stages": [` + strings.Join(stages, ",\n") + `]}`
}

type result struct {
	code           int
	pid            int // guardrun's pid: its cgroups are named guardrun-<pid>-...
	stdout, stderr string
}

func command(dir string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(bin, "guardrun"), args...)
	cmd.Dir = dir
	return cmd
}

func guardrun(t *testing.T, dir string, args ...string) result {
	t.Helper()
	return wait(t, command(dir, args...))
}

func wait(t *testing.T, cmd *exec.Cmd) result {
	t.Helper()
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	require.NoError(t, cmd.Start())
	err := cmd.Wait()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return result{code: code, pid: cmd.Process.Pid, stdout: o.String(), stderr: e.String()}
}

type attempt struct {
	Outcome         string  `json:"outcome"`
	ExitCode        int     `json:"exitCode"`
	Error           string  `json:"error"`
	CPUSeconds      float64 `json:"cpuSeconds"`
	PeakMemoryBytes int64   `json:"peakMemoryBytes"`
}

type stageState struct {
	Status   string    `json:"status"`
	Attempts []attempt `json:"attempts"`
}

// stageOf reads state/stage_<name>.json and returns its only attempt.
func stageOf(t *testing.T, dir, name string) (stageState, attempt) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "state", "stage_"+name+".json"))
	require.NoError(t, err, name)
	var s stageState
	require.NoError(t, json.Unmarshal(b, &s), name)
	require.Len(t, s.Attempts, 1, "%s: %s", name, b)
	return s, s.Attempts[0]
}

type stageMetrics struct {
	Name            string   `json:"name"`
	Status          string   `json:"status"`
	WallSeconds     float64  `json:"wallSeconds"`
	CPUSeconds      *float64 `json:"cpuSeconds"`
	PeakMemoryBytes *int64   `json:"peakMemoryBytes"`
}

// metricsOf reads state/metrics_<run>.json by stage name.
func metricsOf(t *testing.T, dir, run string) map[string]stageMetrics {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "state", "metrics_"+run+".json"))
	require.NoError(t, err)
	var m struct {
		Stages []stageMetrics `json:"stages"`
	}
	require.NoError(t, json.Unmarshal(b, &m))
	out := map[string]stageMetrics{}
	for _, s := range m.Stages {
		out[s.Name] = s
	}
	return out
}

// cgroupBases are the directories guardrun started by this test creates
// its attempt cgroups in: this process's cgroup of every v1 controller,
// or its unified group on v2.
func cgroupBases(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/cgroup")
	require.NoError(t, err)
	var out []string
	v2 := cgroupVersion() == 2
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.SplitN(line, ":", 3)
		if len(f) != 3 {
			continue
		}
		switch {
		case v2 && f[0] == "0":
			out = append(out, filepath.Join("/sys/fs/cgroup", f[2]))
		case !v2 && f[1] != "":
			for _, c := range strings.Split(f[1], ",") {
				if c == "memory" || c == "pids" || c == "cpu" || c == "cpuacct" {
					// Mounted as /sys/fs/cgroup/<controllers as listed>
					// (cpu,cpuacct) or one dir per controller.
					d := filepath.Join("/sys/fs/cgroup", f[1], f[2])
					if _, err := os.Stat(d); err != nil {
						d = filepath.Join("/sys/fs/cgroup", c, f[2])
					}
					out = append(out, d)
				}
			}
		}
	}
	require.NotEmpty(t, out, "no cgroup of this process in %s", b)
	return out
}

// cgroupsOf lists the cgroups guardrun process pid created that exist.
func cgroupsOf(t *testing.T, pid int) []string {
	t.Helper()
	prefix := fmt.Sprintf("guardrun-%d-", pid)
	var out []string
	for _, base := range cgroupBases(t) {
		ents, _ := os.ReadDir(base)
		for _, e := range ents {
			if e.IsDir() && strings.HasPrefix(e.Name(), prefix) {
				out = append(out, filepath.Join(base, e.Name()))
			}
		}
	}
	return out
}

func procsIn(dir string) []int {
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		return nil
	}
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		if n, err := strconv.Atoi(f); err == nil {
			pids = append(pids, n)
		}
	}
	return pids
}

func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// landlockABI is what the kernel answers landlock_create_ruleset(NULL, 0,
// LANDLOCK_CREATE_RULESET_VERSION), 0 without Landlock.
func landlockABI() int {
	abi, _, errno := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, 0, 0, 1)
	if errno != 0 {
		return 0
	}
	return int(abi)
}

// TestCheckReportsThisKernel: `guardrun check` says what this kernel
// enforces, and that is what the kernel has: the cgroup version of
// /sys/fs/cgroup, the Landlock ABI the kernel answers, seccomp.
func TestCheckReportsThisKernel(t *testing.T) {
	need(t)
	dir, sh := workspace(t, map[string]string{})
	require.NoError(t, os.WriteFile(filepath.Join(dir, "pipeline.json"), []byte(spec(stage(sh, "a", "true", ""))), 0o644))
	r := guardrun(t, dir, "check", "--policy", "policy")
	require.Equal(t, 0, r.code, r.stderr)
	var uts unix.Utsname
	_ = unix.Uname(&uts)
	t.Logf("guardrun check on Linux %s, cgroup v%d:\n%s", unix.ByteSliceToString(uts.Release[:]), cgroupVersion(), r.stdout)

	r = guardrun(t, dir, "check", "--policy", "policy", "--json")
	require.Equal(t, 0, r.code, r.stderr)
	var out struct {
		Enforcement map[string]any `json:"enforcement"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &out), r.stdout)
	e := out.Enforcement
	cg := fmt.Sprintf("cgroup v%d", cgroupVersion())
	want := map[string]string{
		"network": "netns", "memory": cg, "cpu": cg, "pids": cg, "tree": "pidns+cgroup",
		"user": "unprivileged uid per attempt", "syscalls": "seccomp",
		"landlock": "none", "filesystem": "mount namespace (host read-only)",
	}
	if abi := landlockABI(); abi > 0 {
		want["landlock"] = fmt.Sprintf("abi %d", abi)
		want["filesystem"] += " + landlock"
	}
	if err := unix.Prctl(unix.PR_GET_SECCOMP, 0, 0, 0, 0); errors.Is(err, unix.EINVAL) {
		want["syscalls"] = "none"
	}
	for k, v := range want {
		assert.Equal(t, v, e[k], "enforcement %s", k)
	}
}

// TestMemoryHogReportedAsOOMKill: a processor allocating 300 MiB under
// memoryMB 64 is killed by the kernel and the attempt says oom_kill, also
// when the hog is a shell's child and the shell exits normally.
func TestMemoryHogReportedAsOOMKill(t *testing.T) {
	need(t)
	dir, sh := workspace(t, map[string]string{})
	mem := `, "resources": {"memoryMB": 64}`
	require.NoError(t, os.WriteFile(filepath.Join(dir, "pipeline.json"), []byte(spec(
		stage(sh, "hog", "exec ./helper hog 300", mem),
		stage(sh, "child", `./helper hog 300; echo "status $?" > "$PIPELINE_OUTPUT_DIR/status"; exit 0`, mem),
		stage(sh, "fits", "exec ./helper hog 8", mem),
	)), 0o644))
	r := guardrun(t, dir, "run", "--policy", "policy", "--run-id", "m1")
	assert.Equal(t, 1, r.code, r.stderr)
	for _, name := range []string{"hog", "child"} {
		s, a := stageOf(t, dir, name)
		assert.Equal(t, "failed", s.Status, name)
		assert.Equal(t, "oom_kill", a.Outcome, "%s: %+v", name, a)
		assert.Equal(t, "killed: memory limit 64 MiB exceeded", a.Error, name)
		assert.LessOrEqual(t, a.PeakMemoryBytes, int64(64<<20+64*4096), name)
	}
	s, a := stageOf(t, dir, "fits")
	assert.Equal(t, "succeeded", s.Status, "%+v", a)
	assert.Empty(t, cgroupsOf(t, r.pid))
}

// TestForkStormCappedAtPids: a processor starting 200 children under pids
// 20 gets fewer than 20; a shell fork bomb under pids 32 is contained and
// killed at its timeout; no cgroup is left.
func TestForkStormCappedAtPids(t *testing.T) {
	need(t)
	dir, sh := workspace(t, map[string]string{})
	require.NoError(t, os.WriteFile(filepath.Join(dir, "pipeline.json"), []byte(spec(
		stage(sh, "storm", `./helper fork 200 > "$PIPELINE_OUTPUT_DIR/started"`, `, "resources": {"pids": 20}, "outputs": ["started"]`),
		// The bomb in a subshell: busybox sh exits when a fork of its own
		// fails, and the stage must hit its timeout, not end first.
		stage(sh, "bomb", `(f(){ f | f & }; f); while :; do :; done`, `, "resources": {"pids": 32}, "timeoutSeconds": 3`),
	)), 0o644))
	start := time.Now()
	r := guardrun(t, dir, "run", "--policy", "policy", "--run-id", "f1")
	assert.Equal(t, 1, r.code, r.stderr)
	assert.Less(t, time.Since(start), 60*time.Second)
	s, a := stageOf(t, dir, "storm")
	require.Equal(t, "succeeded", s.Status, "%+v\n%s", a, r.stderr)
	b, err := os.ReadFile(filepath.Join(dir, "out", "storm", "started"))
	require.NoError(t, err)
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	require.NoError(t, err, "%q", b)
	assert.Greater(t, n, 0)
	assert.Less(t, n, 20, "children started under pids 20")
	_, a = stageOf(t, dir, "bomb")
	assert.Equal(t, "timeout", a.Outcome, "%+v", a)
	assert.Empty(t, cgroupsOf(t, r.pid))
}

// TestCPUQuotaFromMetrics: two spinners under cpus 0.5 use half a CPU:
// the stage's cpuSeconds / wallSeconds in the run's metrics is within 20%
// of 0.5. A control stage without a real cap first shows that the
// spinners can get a whole CPU or more (else the host is too busy to
// tell, and the test says so and skips).
func TestCPUQuotaFromMetrics(t *testing.T) {
	need(t)
	dir, sh := workspace(t, map[string]string{})
	spin := `(while :; do :; done) & (while :; do :; done) & sleep %d; exit 0`
	require.NoError(t, os.WriteFile(filepath.Join(dir, "pipeline.json"), []byte(spec(
		stage(sh, "control", fmt.Sprintf(spin, 2), `, "resources": {"cpus": 2}`),
	)), 0o644))
	r := guardrun(t, dir, "run", "--policy", "policy", "--run-id", "c0")
	require.Equal(t, 0, r.code, r.stderr)
	c := metricsOf(t, dir, "c0")["control"]
	require.NotNil(t, c.CPUSeconds)
	control := *c.CPUSeconds / c.WallSeconds
	t.Logf("control, cpus 2: %.2f CPU s in %.2f s = %.2f", *c.CPUSeconds, c.WallSeconds, control)
	if control < 1.0 {
		t.Skipf("host too busy for the quota test: two uncapped spinners got %.2f CPUs", control)
	}

	require.NoError(t, os.WriteFile(filepath.Join(dir, "pipeline.json"), []byte(spec(
		// 6 s: the attempt's start-up, in wallSeconds too, stays small.
		stage(sh, "quota", fmt.Sprintf(spin, 6), `, "resources": {"cpus": 0.5}`),
	)), 0o644))
	r = guardrun(t, dir, "run", "--policy", "policy", "--run-id", "c1")
	require.Equal(t, 0, r.code, r.stderr)
	q := metricsOf(t, dir, "c1")["quota"]
	require.NotNil(t, q.CPUSeconds)
	ratio := *q.CPUSeconds / q.WallSeconds
	t.Logf("two spinners, cpus 0.5: %.2f CPU s in %.2f s = %.2f", *q.CPUSeconds, q.WallSeconds, ratio)
	assert.InDelta(t, 0.5, ratio, 0.1, "cpuSeconds / wallSeconds under cpus 0.5")
	assert.Empty(t, cgroupsOf(t, r.pid))
}

// TestPeakMemoryAndCPUInMetrics: the metrics (JSON and Prometheus text)
// carry the stage's peak memory and CPU time from its cgroup.
func TestPeakMemoryAndCPUInMetrics(t *testing.T) {
	need(t)
	dir, sh := workspace(t, map[string]string{})
	require.NoError(t, os.WriteFile(filepath.Join(dir, "pipeline.json"), []byte(spec(
		stage(sh, "alloc", "exec ./helper hog 100", `, "resources": {"memoryMB": 256}`),
	)), 0o644))
	r := guardrun(t, dir, "run", "--policy", "policy", "--run-id", "p1")
	require.Equal(t, 0, r.code, r.stderr)
	m := metricsOf(t, dir, "p1")["alloc"]
	require.NotNil(t, m.PeakMemoryBytes, "peakMemoryBytes")
	require.NotNil(t, m.CPUSeconds, "cpuSeconds")
	t.Logf("100 MiB allocated: peak %d bytes, %.3f CPU s", *m.PeakMemoryBytes, *m.CPUSeconds)
	assert.GreaterOrEqual(t, *m.PeakMemoryBytes, int64(100<<20))
	assert.LessOrEqual(t, *m.PeakMemoryBytes, int64(256<<20))
	assert.Greater(t, *m.CPUSeconds, 0.0)
	prom, err := os.ReadFile(filepath.Join(dir, "state", "metrics_p1.prom"))
	require.NoError(t, err)
	assert.Regexp(t, `(?m)^guardrun_stage_peak_memory_bytes\{[^}]*stage="alloc"[^}]*\} [1-9]`, string(prom))
	assert.Regexp(t, `(?m)^guardrun_stage_cpu_seconds(_total)?\{[^}]*stage="alloc"[^}]*\} [0-9.e+-]+$`, string(prom))
}

// TestNoCgroupLeftAfterSuccessFailureTimeout: whatever way a stage ends,
// its cgroup is gone when guardrun exits.
func TestNoCgroupLeftAfterSuccessFailureTimeout(t *testing.T) {
	need(t)
	dir, sh := workspace(t, map[string]string{})
	lim := `, "resources": {"memoryMB": 64, "pids": 16, "cpus": 1}`
	require.NoError(t, os.WriteFile(filepath.Join(dir, "pipeline.json"), []byte(spec(
		stage(sh, "success", "sleep 100 & exit 0", lim),
		stage(sh, "failure", "exit 3", lim),
		stage(sh, "timeout", "sleep 100 & sleep 100", lim+`, "timeoutSeconds": 1`),
	)), 0o644))
	r := guardrun(t, dir, "run", "--policy", "policy", "--run-id", "n1")
	assert.Equal(t, 1, r.code, r.stderr)
	want := map[string]string{"success": "succeeded", "failure": "failed", "timeout": "failed"}
	for name, status := range want {
		s, _ := stageOf(t, dir, name)
		assert.Equal(t, status, s.Status, name)
	}
	_, a := stageOf(t, dir, "failure")
	assert.Equal(t, 3, a.ExitCode)
	_, a = stageOf(t, dir, "timeout")
	assert.Equal(t, "timeout", a.Outcome)
	assert.Empty(t, cgroupsOf(t, r.pid))
}

// TestKill9OfGuardrunSweptByTheNextRun: kill -9 of guardrun kills its
// processor (pid namespace, Pdeathsig); its cgroup stays behind, and the
// next run removes it.
func TestKill9OfGuardrunSweptByTheNextRun(t *testing.T) {
	need(t)
	dir, sh := workspace(t, map[string]string{})
	require.NoError(t, os.WriteFile(filepath.Join(dir, "pipeline.json"), []byte(spec(
		stage(sh, "sleeper", "sleep 300 & sleep 300 & wait", `, "resources": {"memoryMB": 64, "pids": 16}`),
	)), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "quick.json"), []byte(spec(stage(sh, "quick", "true", ""))), 0o644))
	cmd := command(dir, "run", "--policy", "policy", "--run-id", "k1")
	require.NoError(t, cmd.Start())
	pid := cmd.Process.Pid
	var busy []string
	waitFor(t, "the sleeper's cgroup to hold the shell and both sleepers", 60*time.Second, func() bool {
		busy = nil
		for _, d := range cgroupsOf(t, pid) {
			if len(procsIn(d)) >= 3 {
				busy = append(busy, d)
			}
		}
		return len(busy) > 0
	})
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()
	waitFor(t, "the processor tree to die with guardrun", 10*time.Second, func() bool {
		for _, d := range busy {
			if len(procsIn(d)) > 0 {
				return false
			}
		}
		return true
	})
	left := cgroupsOf(t, pid)
	require.NotEmpty(t, left, "kill -9 leaves the attempt cgroup for the next run")
	t.Logf("left by the killed guardrun: %v", left)

	r := guardrun(t, dir, "run", "--policy", "policy", "--pipeline", "quick.json", "--run-id", "k2")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Empty(t, cgroupsOf(t, pid), "swept by the next run")
	assert.Empty(t, cgroupsOf(t, r.pid))
}

// TestProcessorsResumeAfterKill9: the repository's own processors
// (slowcopy, then upper) checkpoint under the sandbox; kill -9 of guardrun
// after a checkpoint, and the next run finishes with the same output as
// an uninterrupted one (no line lost or doubled), sweeps the dead run's
// cgroups, and the run after that skips everything.
func TestProcessorsResumeAfterKill9(t *testing.T) {
	need(t)
	var in strings.Builder
	for i := 0; i < 10000; i++ {
		fmt.Fprintf(&in, "line %d of the input\n", i)
	}
	dir, _ := workspace(t, map[string]string{"in.txt": in.String(), "pipeline.json": `{"version": 1, "name": "resume",
  "defaults": {"resources": {"memoryMB": 256}},
  "stages": [
  {"name": "slow", "processor": {"exec": ["bin/slowcopy"]}, "inputs": ["in.txt"], "outputDir": "work", "outputs": ["copy.txt"],
   "params": {"delayMicrosPerLine": 300}, "checkpoint": {"everyLines": 500, "everySeconds": 0.05}},
  {"name": "up", "processor": {"exec": ["bin/upper"]}, "inputs": ["work/copy.txt"], "outputDir": "out", "outputs": ["result.txt"]}]}`})
	for _, p := range []string{"slowcopy", "upper"} {
		b, err := os.ReadFile(filepath.Join(bin, p))
		require.NoError(t, err)
		require.NoError(t, os.MkdirAll(filepath.Join(dir, "bin"), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "bin", p), b, 0o755))
	}
	cmd := command(dir, "run", "--run-id", "r1")
	require.NoError(t, cmd.Start())
	waitFor(t, "slowcopy's first checkpoint", 60*time.Second, func() bool {
		_, err := os.Stat(filepath.Join(dir, "state", "progress_slow.json"))
		return err == nil
	})
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()
	require.NoFileExists(t, filepath.Join(dir, "out", "result.txt"), "killed before the end")
	require.NotEmpty(t, cgroupsOf(t, cmd.Process.Pid), "the killed run's cgroup is left for the next run")

	r := guardrun(t, dir, "run", "--run-id", "r2")
	require.Equal(t, 0, r.code, r.stderr)
	got, err := os.ReadFile(filepath.Join(dir, "out", "result.txt"))
	require.NoError(t, err)
	assert.True(t, string(got) == strings.ToUpper(in.String()), "the resumed output differs from an uninterrupted run's (%d bytes, want %d)", len(got), in.Len())
	assert.Empty(t, cgroupsOf(t, cmd.Process.Pid), "swept by the next run")
	assert.Empty(t, cgroupsOf(t, r.pid))

	r = guardrun(t, dir, "run", "--run-id", "r3")
	require.Equal(t, 0, r.code, r.stderr)
	b, err := os.ReadFile(filepath.Join(dir, "state", "metrics_r3.json"))
	require.NoError(t, err)
	var m struct {
		Totals struct {
			StagesRun     int `json:"stagesRun"`
			StagesSkipped int `json:"stagesSkipped"`
		} `json:"totals"`
	}
	require.NoError(t, json.Unmarshal(b, &m))
	assert.Equal(t, 0, m.Totals.StagesRun, "the next run has nothing to redo")
	assert.Equal(t, 2, m.Totals.StagesSkipped)
}

// TestHostileProcessorRefused: a processor that tries to raise its own
// memory limit, move itself out of its cgroup, make a child cgroup, or
// write outside its staging dir (another stage's output and marker, the
// state, the spec, /etc) is refused, and the next run trusts what it
// tried to forge.
func TestHostileProcessorRefused(t *testing.T) {
	need(t)
	dir, sh := workspace(t, map[string]string{})
	attack := `
out="$PIPELINE_OUTPUT_DIR/doors.txt"
t() { if sh -c "$2" >/dev/null 2>&1; then echo "open $1" >> "$out"; else echo "closed $1" >> "$out"; fi; }
if grep -q ':memory:' /proc/self/cgroup; then
  CGDIR=/sys/fs/cgroup/memory$(grep -E ':memory:' /proc/self/cgroup | cut -d: -f3) LIMIT=memory.limit_in_bytes
else
  CGDIR=/sys/fs/cgroup$(sed -n 's/^0:://p' /proc/self/cgroup) LIMIT=memory.max
fi
t cgroup-files "test -f $CGDIR/$LIMIT && test -f $(dirname $CGDIR)/cgroup.procs"
t cgroup-limit "echo 9223372036854771712 > $CGDIR/$LIMIT"
t cgroup-migrate "echo \$\$ > $(dirname $CGDIR)/cgroup.procs"
t cgroup-root-migrate "echo \$\$ > /sys/fs/cgroup/cgroup.procs"
t cgroup-mkdir "mkdir $CGDIR/escape"
t victim-output 'echo forged > out/victim/result.txt'
t victim-marker 'echo forged > out/victim/.victim.done'
t hashcache 'echo forged >> state/hashcache.txt'
t run-record 'echo {} > state/run_forged.json'
t audit-log 'echo {} >> state/audit.jsonl'
t spec 'echo {} > pipeline.json'
t outdir 'echo x > out/attacker/planted'
t etc 'echo x > /etc/guardrun-pwned'
t root 'test "$(id -u)" = 0'
t staging 'echo ok > "$PIPELINE_OUTPUT_DIR/ok"'
exit 0
`
	victim := stage(sh, "victim", `echo trusted > "$PIPELINE_OUTPUT_DIR/result.txt"`, "")
	attacker := strings.Replace(stage(sh, "attacker", attack, `, "resources": {"memoryMB": 64, "pids": 32}`), `"dependsOn": []`, `"dependsOn": ["victim"]`, 1)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "pipeline.json"), []byte(spec(victim, attacker)), 0o644))
	r := guardrun(t, dir, "run", "--policy", "policy", "--run-id", "h1")
	require.Equal(t, 0, r.code, r.stderr)
	b, err := os.ReadFile(filepath.Join(dir, "out", "attacker", "doors.txt"))
	require.NoError(t, err)
	t.Logf("doors:\n%s", b)
	got := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^(open|closed) ([a-z-]+)$`).FindAllStringSubmatch(string(b), -1) {
		got[m[2]] = m[1]
	}
	want := map[string]string{"cgroup-files": "open", "staging": "open"}
	for _, d := range []string{"cgroup-limit", "cgroup-migrate", "cgroup-root-migrate", "cgroup-mkdir", "victim-output", "victim-marker",
		"hashcache", "run-record", "audit-log", "spec", "outdir", "etc", "root"} {
		want[d] = "closed"
	}
	assert.Equal(t, want, got)
	assert.NoFileExists(t, "/etc/guardrun-pwned")
	out, err := os.ReadFile(filepath.Join(dir, "out", "victim", "result.txt"))
	require.NoError(t, err)
	assert.Equal(t, "trusted\n", string(out))
	assert.Empty(t, cgroupsOf(t, r.pid))

	r = guardrun(t, dir, "run", "--policy", "policy", "--run-id", "h2", "--json")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, `"skipped"`)
	r = guardrun(t, dir, "verify")
	assert.Equal(t, 0, r.code, r.stdout+r.stderr)
}

// TestV2DelegatedCgroup (cgroup v2): started alone in a cgroup of its own
// whose controllers are not yet handed to children (a systemd scope with
// Delegate=yes, a container), guardrun moves itself into a leaf, enables
// the controllers and its limits hold; started in a cgroup shared with
// another process it refuses, saying how to start it.
func TestV2DelegatedCgroup(t *testing.T) {
	need(t)
	if cgroupVersion() != 2 {
		t.Skip("cgroup v2 only (this host is cgroup v1)")
	}
	dir, sh := workspace(t, map[string]string{})
	require.NoError(t, os.WriteFile(filepath.Join(dir, "pipeline.json"), []byte(spec(
		stage(sh, "hog", "exec ./helper hog 300", `, "resources": {"memoryMB": 64}`),
		stage(sh, "ok", `echo ok > "$PIPELINE_OUTPUT_DIR/ok"`, `, "resources": {"memoryMB": 64, "pids": 8, "cpus": 0.5}`),
	)), 0o644))
	g, fd := newGroup(t, "alone")
	r := wait(t, into(command(dir, "run", "--policy", "policy", "--run-id", "d1"), fd))
	assert.Equal(t, 1, r.code, r.stderr)
	_, a := stageOf(t, dir, "hog")
	assert.Equal(t, "oom_kill", a.Outcome, "%+v", a)
	s, _ := stageOf(t, dir, "ok")
	assert.Equal(t, "succeeded", s.Status)
	for _, c := range []string{"cpu", "memory", "pids"} {
		assert.Contains(t, strings.Fields(readFile(filepath.Join(g, "cgroup.subtree_control"))), c)
	}
	onlySelfLeaf(t, g, r.pid)

	g2, fd2 := newGroup(t, "shared")
	other := into(exec.Command("sleep", "60"), fd2)
	require.NoError(t, other.Start())
	defer func() { _ = other.Process.Kill(); _ = other.Wait() }()
	r = wait(t, into(command(dir, "run", "--policy", "policy", "--run-id", "d2"), fd2))
	assert.NotEqual(t, 0, r.code)
	assert.Contains(t, r.stderr, "start guardrun in a cgroup of its own", "%s holds another process", g2)
}

// newGroup makes a fresh cgroup below this process's (v2, whose
// subtree_control must hand memory to children) and opens it for
// clone-into-cgroup; it is removed, with guardrun's empty leaf, at cleanup.
func newGroup(t *testing.T, name string) (string, int) {
	t.Helper()
	base := cgroupBases(t)[0]
	if !strings.Contains(" "+readFile(filepath.Join(base, "cgroup.subtree_control"))+" ", " memory ") {
		t.Skipf("%s does not hand the memory controller to its children", base)
	}
	g := filepath.Join(base, fmt.Sprintf("vmtest-%d-%s", os.Getpid(), name))
	require.NoError(t, os.Mkdir(g, 0o755))
	fd, err := unix.Open(g, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	require.NoError(t, err)
	t.Cleanup(func() {
		unix.Close(fd)
		ents, _ := os.ReadDir(g)
		for _, e := range ents {
			if e.IsDir() {
				_ = unix.Rmdir(filepath.Join(g, e.Name()))
			}
		}
		_ = unix.Rmdir(g)
	})
	return g, fd
}

// into starts cmd inside the cgroup opened as fd (clone3 CLONE_INTO_CGROUP).
func into(cmd *exec.Cmd, fd int) *exec.Cmd {
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: fd}
	return cmd
}

// onlySelfLeaf asserts that guardrun (pid) left nothing in g but its own
// empty leaf: every attempt cgroup is gone.
func onlySelfLeaf(t *testing.T, g string, pid int) {
	t.Helper()
	ents, err := os.ReadDir(g)
	require.NoError(t, err)
	var children []string
	for _, e := range ents {
		if e.IsDir() {
			children = append(children, e.Name())
		}
	}
	require.Len(t, children, 1, "left behind in %s: %v", g, children)
	assert.True(t, strings.HasPrefix(children[0], fmt.Sprintf("guardrun-%d-", pid)) && strings.HasSuffix(children[0], "-self"), children[0])
	assert.Empty(t, procsIn(filepath.Join(g, children[0])))
}

// cgroupnsExec is the "container" of TestV2CgroupNamespaceRoot: born in
// its own cgroup, it unshares a cgroup namespace rooted there and a mount
// namespace, mounts that namespace's cgroup2 view on /sys/fs/cgroup (as a
// container runtime does), then becomes guardrun (same pid: guardrun is
// alone in the group, whose /proc/self/cgroup line reads 0::/).
func cgroupnsExec(guardrun string) {
	runtime.LockOSThread() // namespaces are per thread until the exec
	fail := func(what string, err error) {
		fmt.Fprintf(os.Stderr, "vmtest container: %s: %v\n", what, err)
		os.Exit(125)
	}
	if err := unix.Unshare(unix.CLONE_NEWCGROUP | unix.CLONE_NEWNS); err != nil {
		fail("unshare", err)
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		fail("making mounts private", err)
	}
	// The host's view first goes (the same superblock cannot be mounted
	// on itself), then the namespace's view comes.
	if err := unix.Unmount("/sys/fs/cgroup", unix.MNT_DETACH); err != nil {
		fail("unmounting the host's cgroup2", err)
	}
	if err := unix.Mount("cgroup2", "/sys/fs/cgroup", "cgroup2", 0, ""); err != nil {
		fail("mounting cgroup2", err)
	}
	var env []string
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "VMTEST_CGROUPNS_EXEC=") {
			env = append(env, e)
		}
	}
	fail("exec", unix.Exec(guardrun, append([]string{guardrun}, os.Args[1:]...), env))
}

// TestV2CgroupNamespaceRoot (cgroup v2): in a container with a cgroup
// namespace of its own, guardrun's group reads as 0::/ but is not the root
// cgroup, so the no-internal-processes rule applies to it: guardrun, alone
// there, must move itself into a leaf before it can enable the
// controllers, as it does in any other delegated group.
func TestV2CgroupNamespaceRoot(t *testing.T) {
	need(t)
	if cgroupVersion() != 2 {
		t.Skip("cgroup v2 only (this host is cgroup v1)")
	}
	dir, sh := workspace(t, map[string]string{})
	require.NoError(t, os.WriteFile(filepath.Join(dir, "pipeline.json"), []byte(spec(
		stage(sh, "hog", "exec ./helper hog 300", `, "resources": {"memoryMB": 64}`),
		stage(sh, "ok", `echo ok > "$PIPELINE_OUTPUT_DIR/ok"`, `, "resources": {"memoryMB": 64, "pids": 8, "cpus": 0.5}`),
	)), 0o644))
	g, fd := newGroup(t, "ns")
	self, err := os.Executable()
	require.NoError(t, err)
	cmd := into(exec.Command(self, "run", "--policy", "policy", "--run-id", "ns1"), fd)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "VMTEST_CGROUPNS_EXEC="+filepath.Join(bin, "guardrun"))
	r := wait(t, cmd)
	assert.Equal(t, 1, r.code, r.stderr)
	_, a := stageOf(t, dir, "hog")
	assert.Equal(t, "oom_kill", a.Outcome, "%+v", a)
	s, _ := stageOf(t, dir, "ok")
	assert.Equal(t, "succeeded", s.Status)
	for _, c := range []string{"cpu", "memory", "pids"} {
		assert.Contains(t, strings.Fields(readFile(filepath.Join(g, "cgroup.subtree_control"))), c)
	}
	onlySelfLeaf(t, g, r.pid)
}

func readFile(p string) string {
	b, _ := os.ReadFile(p)
	return strings.TrimSpace(string(b))
}
