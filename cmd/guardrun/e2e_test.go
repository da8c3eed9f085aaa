package main

import (
	"bytes"
	"encoding/json"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/guardrun/guardrun/internal/execpath"
	"github.com/guardrun/guardrun/internal/runstate"
	"github.com/guardrun/guardrun/internal/testutil"
)

// start runs guardrun in the background.
func start(t *testing.T, dir string, args ...string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(guardrunBin, args...)
	cmd.Dir = dir
	cmd.Env = e2eEnv()
	var se bytes.Buffer
	cmd.Stderr = &se
	require.NoError(t, cmd.Start())
	return cmd, &se
}

// kill9When runs guardrun with args in dir until cond holds (failing if
// it ends before), kills it with SIGKILL, and returns once it and every
// processor it started are gone and its state files all parse.
func kill9When(t *testing.T, dir, what string, cond func() bool, args ...string) {
	t.Helper()
	cmd, se := start(t, dir, args...)
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	waitFor(t, what, 120*time.Second, func() bool {
		select {
		case <-exited:
			t.Fatalf("guardrun ended before it was killed: %s", se.String())
		default:
		}
		return cond()
	})
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	<-exited
	waitFor(t, "processors to die with guardrun", 10*time.Second, func() bool { return len(processorsOf(dir)) == 0 })
	allStateParses(t, filepath.Join(dir, "state"))
}

func exitOf(err error) int {
	if err == nil {
		return 0
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	return -1
}

// waitFor polls cond every 5 ms until it holds or the deadline passes.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// processorsOf lists live processes whose environment names an output dir
// inside dir: processors started for that workspace.
func processorsOf(dir string) []int {
	var pids []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err != nil {
			continue
		}
		if bytes.Contains(b, []byte("PIPELINE_OUTPUT_DIR="+dir)) {
			var pid int
			if _, err := fmtSscan(e.Name(), &pid); err == nil {
				st, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
				if !bytes.Contains(st, []byte(") Z ")) { // zombies are dead
					pids = append(pids, pid)
				}
			}
		}
	}
	return pids
}

// allStateParses checks that every JSON file under stateDir and every
// marker parses: the contract after a crash at any instant.
func allStateParses(t *testing.T, dir string) {
	t.Helper()
	_ = filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return nil
		}
		if strings.HasSuffix(p, ".json") || strings.HasSuffix(p, ".done") {
			b, err := os.ReadFile(p)
			require.NoError(t, err)
			assert.True(t, json.Valid(b), "%s does not parse after a crash: %q", p, b)
		}
		return nil
	})
}

const killSpec = `{"version": 1, "name": "kill", "stages": [
  {"name": "slow", "processor": {"exec": ["bin/slowcopy"]}, "inputs": ["in.txt"], "outputDir": "work", "outputs": ["copy.txt"],
   "params": {"delayMicrosPerLine": 40}, "checkpoint": {"everyLines": 500, "everySeconds": 0.05}},
  {"name": "up", "processor": {"exec": ["bin/upper"]}, "inputs": ["work/copy.txt"], "outputDir": "out", "outputs": ["result.txt"],
   "checkpoint": {"everyLines": 2000}}]}`

// TestKill9AtRandomInstantsThenResume kills guardrun with SIGKILL at random
// moments during checkpointed stages, many times; each time the processors
// must die with it and the state must parse, and the final output must be
// byte-identical to an uninterrupted run. Every other kill waits for the
// run's first checkpoint before its random delay starts, so that on a slow
// machine the kills do not all land before any checkpoint exists (which
// would leave resume untested): the test waits for the event, then acts.
func TestKill9AtRandomInstantsThenResume(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("kill -9 semantics tested on Linux")
	}
	input := testutil.Lines(30000)
	dir := workspace(t, map[string]string{"pipeline.json": killSpec, "in.txt": input})
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	t.Logf("seed-independent: kills at random instants; logged below")
	checkpointLeft := false
	for i := 0; i < 12; i++ {
		id := "k" + string(rune('a'+i))
		cmd, _ := start(t, dir, "run", "--run-id", id)
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(exited) }()
		delay := time.Duration(20+rng.Intn(700)) * time.Millisecond
		after := "start"
		if i%2 == 1 {
			after = "first checkpoint"
			delay = time.Duration(rng.Intn(300)) * time.Millisecond
			waitFor(t, "a checkpoint of run "+id, 60*time.Second, func() bool {
				select {
				case <-exited:
					return true
				default:
				}
				for _, st := range []string{"slow", "up"} {
					if p, _ := stateOf(dir).ReadProgress(st); p != nil && p.RunID == id {
						return true
					}
				}
				return false
			})
		}
		select {
		case <-exited:
		case <-time.After(delay):
		}
		_ = cmd.Process.Signal(syscall.SIGKILL)
		<-exited
		// SIGKILL takes effect when a processor leaves the kernel: one
		// blocked in fsync on a loaded machine (a checkpoint) dies when the
		// write completes, which took over 3 s in a CI run at load 11. A
		// processor that outlived guardrun for good still fails this.
		waitFor(t, "processors to die with guardrun", 30*time.Second, func() bool { return len(processorsOf(dir)) == 0 })
		allStateParses(t, filepath.Join(dir, "state"))
		allStateParses(t, filepath.Join(dir, "work"))
		allStateParses(t, filepath.Join(dir, "out"))
		for _, st := range []string{"slow", "up"} {
			if p, _ := stateOf(dir).ReadProgress(st); p != nil && p.ByteOffset > 0 {
				checkpointLeft = true
			}
		}
		t.Logf("kill %d %s after %s", i+1, delay, after)
	}
	r := guardrun(t, dir, "run", "--run-id", "final")
	require.Equal(t, 0, r.code, r.stderr)
	got, err := os.ReadFile(filepath.Join(dir, "work", "copy.txt"))
	require.NoError(t, err)
	assert.True(t, string(got) == input, "copy differs from input after kills (%d vs %d bytes)", len(got), len(input))
	got, err = os.ReadFile(filepath.Join(dir, "out", "result.txt"))
	require.NoError(t, err)
	assert.True(t, string(got) == strings.ToUpper(input), "result differs after kills")
	// A checkpoint left by a kill must be resumed from by a later run.
	require.True(t, checkpointLeft, "no kill left a checkpoint behind (every kill after a checkpoint hit a finished stage?)")
	audit, err := os.ReadFile(stateOf(dir).AuditLog())
	require.NoError(t, err)
	assert.Contains(t, string(audit), `"event":"stage.resume"`, "a checkpoint was left but no run resumed from it")
	// The crashed runs are recorded as interrupted, not left "running".
	ents, _ := os.ReadDir(filepath.Join(dir, "state"))
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "run_") {
			rs, err := stateOf(dir).ReadRun(strings.TrimSuffix(strings.TrimPrefix(e.Name(), "run_"), ".json"))
			require.NoError(t, err)
			assert.NotEqual(t, runstate.RunRunning, rs.Status, e.Name())
		}
	}
}

const pythonUpper = `import json, os, sys, time
env = os.environ
inputs = json.loads(env["PIPELINE_INPUTS"])
out_dir = env["PIPELINE_OUTPUT_DIR"]
outputs = json.loads(env["PIPELINE_OUTPUTS"])
line_off = int(env["PIPELINE_LINE_OFFSET"]); byte_off = int(env["PIPELINE_BYTE_OFFSET"])
every = int(env.get("PIPELINE_CHECKPOINT_LINES") or 0)
progress = os.fdopen(int(env["PIPELINE_PROGRESS_FD"]), "wb", buffering=0)
name = outputs[0]
out = open(os.path.join(out_dir, name), "ab")
def checkpoint():
    out.flush(); os.fsync(out.fileno())
    progress.write((json.dumps({"lineOffset": line_off, "byteOffset": byte_off,
        "outputs": {name: os.fstat(out.fileno()).st_size}}) + "\n").encode())
start, since = 0, 0
for path in inputs:
    size = os.path.getsize(path)
    if byte_off < start + size:
        with open(path, "rb") as f:
            f.seek(byte_off - start)
            for line in f:
                out.write(line.upper()); line_off += 1; byte_off += len(line); since += 1
                if every and since >= every:
                    checkpoint(); since = 0; time.sleep(0.002)
    start += size
checkpoint()
`

// TestPythonProcessorSurvivesKill9 runs a processor written in Python
// against the documented protocol and kills guardrun under it.
func TestPythonProcessorSurvivesKill9(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 not installed")
	}
	// A python3 the processor's unprivileged uid can run: a pyenv shim
	// under root's 0700 home is not one (docs/SANDBOX.md, "Granting read
	// access").
	py := othersCanRun("python3")
	if py == "" {
		t.Skip("no python3 on PATH that other users can run")
	}
	t.Setenv("PATH", filepath.Dir(py)+string(os.PathListSeparator)+os.Getenv("PATH"))
	spec := `{"version": 1, "name": "py", "stages": [
	  {"name": "py", "processor": {"exec": ["python3", "tools/upper.py"]}, "inputs": ["a.txt", "b.txt"], "outputDir": "out",
	   "outputs": ["result.txt"], "checkpoint": {"everyLines": 1000}}]}`
	a, b := testutil.Lines(40000), testutil.Lines(20000)+"no newline at the end"
	// python3 lives outside the workspace: the default policy refuses it
	// unless a user policy allows that exact program, as a user would; and
	// when python3 on PATH is a script (a pyenv shim: #!/usr/bin/env bash),
	// the interpreters the kernel runs for it too.
	prog, err := execpath.Resolve("", "python3")
	require.NoError(t, err)
	allow := "package guardrun.config\n\nallowed_outside_paths contains " + strconv.Quote(prog.Real) + "\n"
	for _, it := range prog.Interpreters {
		allow += "allowed_outside_paths contains " + strconv.Quote(it.Real) + "\n"
	}
	dir := workspace(t, map[string]string{"pipeline.json": spec, "a.txt": a, "b.txt": b, "tools/upper.py": pythonUpper, "policy/python.rego": allow})
	r := guardrun(t, dir, "check")
	require.Equal(t, 3, r.code, "without --policy the default policy refuses python3 outside the workspace")
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	for i := 0; i < 6; i++ {
		cmd, _ := start(t, dir, "run", "--policy", "policy")
		time.Sleep(time.Duration(50+rng.Intn(400)) * time.Millisecond)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		waitFor(t, "python to die with guardrun", 3*time.Second, func() bool { return len(processorsOf(dir)) == 0 })
		allStateParses(t, filepath.Join(dir, "state"))
	}
	r = guardrun(t, dir, "run", "--policy", "policy")
	require.Equal(t, 0, r.code, r.stderr)
	got, err := os.ReadFile(filepath.Join(dir, "out", "result.txt"))
	require.NoError(t, err)
	assert.True(t, string(got) == strings.ToUpper(a+b), "python output differs after kills (%d vs %d bytes)", len(got), len(a+b))
}

// othersCanRun returns the first name on PATH that every user may run:
// the file and every directory above it (after symlinks) are executable
// by others.
func othersCanRun(name string) string {
	for _, d := range filepath.SplitList(os.Getenv("PATH")) {
		p := filepath.Join(d, name)
		real, err := filepath.EvalSymlinks(p)
		if err != nil {
			continue
		}
		ok := true
		for q := real; ok; q = filepath.Dir(q) {
			fi, err := os.Stat(q)
			ok = err == nil && fi.Mode().Perm()&0o001 != 0
			if q == filepath.Dir(q) {
				break
			}
		}
		if ok {
			return p
		}
	}
	return ""
}

// TestConcurrentRuns: a second run exits 4 naming the holder; --wait waits
// and then finds everything up to date.
func TestConcurrentRuns(t *testing.T) {
	dir := workspace(t, map[string]string{"pipeline.json": killSpec, "in.txt": testutil.Lines(20000)})
	first, se := start(t, dir, "run", "--run-id", "first")
	waitFor(t, "the first run to take the lock", 20*time.Second, func() bool {
		_, err := os.Stat(filepath.Join(dir, "state", "run_first.json"))
		return err == nil
	})
	r := guardrun(t, dir, "run", "--run-id", "second")
	assert.Equal(t, 4, r.code)
	assert.Regexp(t, `locked by run first, pid \d+ on .*, since \d{4}-\d\d-\d\dT`, r.stderr)
	waitFor(t, "the first stage to start", 20*time.Second, func() bool {
		ss, err := stateOf(dir).ReadStage("slow")
		return err == nil && ss.RunID == "first"
	})
	r = guardrun(t, dir, "status")
	assert.Regexp(t, `locked by run first`, r.stdout)
	assert.Regexp(t, `run first: running`, r.stdout)
	assert.Regexp(t, `slow\s+(running|succeeded)`, r.stdout, "status shows what the running run is doing now")

	third := guardrun(t, dir, "run", "--run-id", "third", "--wait")
	require.NoError(t, first.Wait(), se.String())
	assert.Equal(t, 0, third.code, third.stderr)
	assert.Contains(t, third.stderr, "waiting for the pipeline lock held by run first")
	assert.Contains(t, third.stderr, "skipped (up to date)")
	_, err := os.Stat(filepath.Join(dir, "state", "run_second.json"))
	assert.True(t, os.IsNotExist(err), "a locked-out run writes no run state")
}

// blockSpec: a first stage that copies, then a stage whose processor
// blocks (an hour per line) until the test kills guardrun.
const blockSpec = `{"version": 1, "name": "block", "stages": [
  {"name": "first", "processor": {"exec": ["bin/copy"]}, "inputs": ["in.txt"], "outputDir": "work", "outputs": ["a.txt"]},
  {"name": "block", "processor": {"exec": ["bin/slowcopy"]}, "inputs": ["work/a.txt"], "outputDir": "out", "outputs": ["b.txt"],
   "params": {"delayMicrosPerLine": DELAY}}]}`

// TestRunRecordTellsWhatEndedAfterKill9: run_<id>.json is updated as stages
// end, so while a later stage runs it already says that the first one
// succeeded, a kill -9 at that moment leaves it saying so, and the next run
// marks the killed run interrupted without losing what it did.
func TestRunRecordTellsWhatEndedAfterKill9(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("kill -9 semantics tested on Linux")
	}
	dir := workspace(t, map[string]string{"pipeline.json": strings.Replace(blockSpec, "DELAY", "3600000000", 1), "in.txt": "a\nb\n"})
	cmd, se := start(t, dir, "run", "--run-id", "k1")
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	statuses := func(rs *runstate.RunState) map[string]string {
		m := map[string]string{}
		for _, s := range rs.AllStages() {
			m[s.Name] = s.Status
		}
		return m
	}
	var rs *runstate.RunState
	waitFor(t, "run_k1.json to say that first succeeded and block runs", 60*time.Second, func() bool {
		select {
		case <-exited:
			t.Fatalf("guardrun ended before it was killed: %s", se.String())
		default:
		}
		var err error
		rs, err = stateOf(dir).ReadRun("k1")
		return err == nil && statuses(rs)["first"] == runstate.StageSucceeded && statuses(rs)["block"] == runstate.StageRunning
	})
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	<-exited
	waitFor(t, "processors to die with guardrun", 30*time.Second, func() bool { return len(processorsOf(dir)) == 0 })

	rs, err := stateOf(dir).ReadRun("k1")
	require.NoError(t, err)
	assert.Equal(t, runstate.RunRunning, rs.Status, "nobody recorded the end yet")
	assert.Equal(t, map[string]string{"first": runstate.StageSucceeded, "block": runstate.StageRunning}, statuses(rs))
	assert.Equal(t, 1, rs.Counts.Ran)

	// The next run (block no longer blocks) recovers the killed run.
	testutil.WriteFile(t, filepath.Join(dir, "pipeline.json"), strings.Replace(blockSpec, "DELAY", "0", 1))
	r := guardrun(t, dir, "run", "--run-id", "k2")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stderr, "run k2 succeeded in ")
	assert.Contains(t, r.stderr, ": 1 ran, 1 skipped\n")
	rs, err = stateOf(dir).ReadRun("k1")
	require.NoError(t, err)
	assert.Equal(t, runstate.RunInterrupted, rs.Status)
	assert.Contains(t, rs.Error, "guardrun died")
	assert.Equal(t, map[string]string{"first": runstate.StageSucceeded, "block": runstate.StageInterrupted}, statuses(rs))
	assert.Equal(t, &runstate.StageCounts{Stages: 2, Ran: 1, Interrupted: 1}, rs.Counts)
	r = guardrun(t, dir, "status", "--run-id", "k1")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Regexp(t, `run k1: interrupted \(.*\): 1 ran, 0 skipped, 1 interrupted`, r.stdout)
	assert.Regexp(t, `first\s+succeeded\s+attempts=1`, r.stdout)
	assert.Regexp(t, `block\s+interrupted`, r.stdout)
}

// TestSIGINTCheckpointsAndExits130: the first SIGINT stops the processors,
// keeps the checkpoint and exits 130; the next run resumes.
func TestSIGINTCheckpointsAndExits130(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no SIGINT delivery to a child on Windows")
	}
	input := testutil.Lines(30000)
	dir := workspace(t, map[string]string{"pipeline.json": killSpec, "in.txt": input})
	cmd, se := start(t, dir, "run", "--run-id", "int1")
	waitFor(t, "a checkpoint", 30*time.Second, func() bool {
		p, _ := stateOf(dir).ReadProgress("slow")
		return p != nil && p.LineOffset >= 2000
	})
	require.NoError(t, cmd.Process.Signal(os.Interrupt))
	err := cmd.Wait()
	assert.Equal(t, 130, exitOf(err), se.String())
	assert.Contains(t, se.String(), "interrupted")
	waitFor(t, "processors to stop", 3*time.Second, func() bool { return len(processorsOf(dir)) == 0 })
	rs, err := stateOf(dir).ReadRun("int1")
	require.NoError(t, err)
	assert.Equal(t, runstate.RunInterrupted, rs.Status)
	p, err := stateOf(dir).ReadProgress("slow")
	require.NoError(t, err)
	require.NotNil(t, p)

	r := guardrun(t, dir, "run", "--run-id", "int2")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stderr, "resuming from checkpoint at line")
	ss, err := stateOf(dir).ReadStage("slow")
	require.NoError(t, err)
	assert.Equal(t, p.LineOffset, ss.Attempts[0].StartLineOffset)
	got, _ := os.ReadFile(filepath.Join(dir, "work", "copy.txt"))
	assert.True(t, string(got) == input, "output differs after SIGINT + resume")
}

func fmtSscan(s string, pid *int) (int, error) {
	n, err := strconv.Atoi(s)
	*pid = n
	return 1, err
}

// stateOf is the state layout of a test workspace (the default dirs).
func stateOf(dir string) runstate.Layout {
	return runstate.Layout{StateDir: filepath.Join(dir, "state"), LocksDir: filepath.Join(dir, "locks")}
}
