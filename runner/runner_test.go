package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/guardrun/guardrun/internal/flock"
	"github.com/guardrun/guardrun/internal/hashcache"
	"github.com/guardrun/guardrun/internal/runstate"
	"github.com/guardrun/guardrun/internal/testutil"
	"github.com/guardrun/guardrun/pipeline"
	"github.com/guardrun/guardrun/sandbox"
)

const twoStages = `{
  "version": 1, "name": "t",
  "stages": [
    {"name": "stage_copy", "processor": {"exec": ["bin/copy"]}, "inputs": ["data/input/sample.txt"],
     "outputDir": "data/work", "outputs": ["copy.txt"]},
    {"name": "stage_upper", "processor": {"exec": ["bin/upper"]}, "inputs": ["data/work/copy.txt"],
     "outputDir": "data/output", "outputs": ["result.txt"], "params": {"output": "a.txt"}}
  ]
}`

func load(t *testing.T, dir string) *pipeline.Pipeline {
	t.Helper()
	p, err := pipeline.Load(filepath.Join(dir, "pipeline.json"), pipeline.LoadOptions{})
	require.NoError(t, err)
	return p
}

// plainSandbox runs processors without namespaces or cgroups: these tests
// are about orchestration; package sandbox tests confinement.
func plainSandbox(t *testing.T) sandbox.Sandbox {
	t.Helper()
	sb, err := sandbox.New(sandbox.Options{BestEffort: true, AllowNetwork: true})
	require.NoError(t, err)
	if c, ok := sb.(io.Closer); ok { // the cgroups it keeps for reuse
		t.Cleanup(func() { _ = c.Close() })
	}
	return sb
}

func runOnce(t *testing.T, dir string, opts Options) (*Result, error) {
	t.Helper()
	if opts.Sandbox == nil {
		opts.Sandbox = plainSandbox(t)
	}
	return Run(context.Background(), load(t, dir), opts)
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(b)
}

func fileID(t *testing.T, path string) hashcache.FileID {
	t.Helper()
	id, _, err := hashcache.Stat(path)
	require.NoError(t, err)
	return id
}

func stageStatuses(rs *runstate.RunState) map[string]string {
	m := map[string]string{}
	for _, s := range rs.AllStages() {
		m[s.Name] = s.Status
	}
	return m
}

// runLine is the line of stage name in a run record.
func runLine(t *testing.T, rs *runstate.RunState, name string) runstate.RunStage {
	t.Helper()
	for _, s := range rs.AllStages() {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no stage %s in run %s", name, rs.RunID)
	return runstate.RunStage{}
}

func TestRunThenSkipRewritesNothing(t *testing.T) {
	input := testutil.Lines(1000)
	dir := testutil.Workspace(t, map[string]string{"pipeline.json": twoStages, "data/input/sample.txt": input})
	res, err := runOnce(t, dir, Options{RunID: "r1"})
	require.NoError(t, err)
	assert.Equal(t, runstate.RunSucceeded, res.State.Status)
	assert.Equal(t, strings.ToUpper(input), readFile(t, filepath.Join(dir, "data/output/result.txt")))
	assert.Equal(t, input, readFile(t, filepath.Join(dir, "data/work/copy.txt")))

	watched := []string{"data/output/result.txt", "data/work/copy.txt", "data/output/.stage_upper.done", "data/work/.stage_copy.done",
		"state/stage_stage_copy.json", "state/stage_stage_upper.json"}
	before := map[string]hashcache.FileID{}
	for _, f := range watched {
		before[f] = fileID(t, filepath.Join(dir, f))
	}
	res, err = runOnce(t, dir, Options{RunID: "r2"})
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"stage_copy": runstate.StageSkipped, "stage_upper": runstate.StageSkipped}, stageStatuses(res.State))
	for _, f := range watched {
		assert.Equal(t, before[f], fileID(t, filepath.Join(dir, f)), "%s was rewritten by a no-op run", f)
	}
	// No staging dir or progress left behind.
	assert.NoDirExists(t, filepath.Join(dir, "data/work/.stage_copy.staging"))
	assert.NoFileExists(t, filepath.Join(dir, "state/progress_stage_copy.json"))
	// State files parse and say what happened.
	ss, err := stateOf(dir).ReadStage("stage_upper")
	require.NoError(t, err)
	assert.Equal(t, runstate.StageSucceeded, ss.Status)
	require.Len(t, ss.Outputs, 1)
	assert.Equal(t, "data/output/result.txt", ss.Outputs[0].Path)
	assert.Equal(t, int64(len(input)), ss.Outputs[0].Size)
	sum, err := hashcache.File(filepath.Join(dir, "data/output/result.txt"))
	require.NoError(t, err)
	assert.Equal(t, sum, ss.Outputs[0].SHA256)
	// Skipped stages are summed up in the metrics, with the volumes their
	// outputs were produced with.
	m := res.Metrics
	assert.Empty(t, m.Stages)
	require.NotNil(t, m.Skipped)
	assert.Equal(t, 2, m.Skipped.Count)
	assert.Equal(t, int64(2*len(input)), m.Skipped.BytesIn)
	assert.Equal(t, 2, m.Totals.StagesSkipped)
}

func TestChangesRerunExactlyWhatTheyShould(t *testing.T) {
	dir := testutil.Workspace(t, map[string]string{"pipeline.json": twoStages, "data/input/sample.txt": "a\nb\n"})
	_, err := runOnce(t, dir, Options{RunID: "r1"})
	require.NoError(t, err)

	// A param of the second stage: only it reruns.
	spec := strings.Replace(twoStages, `{"output": "a.txt"}`, `{"output": "b.txt"}`, 1)
	testutil.WriteFile(t, filepath.Join(dir, "pipeline.json"), spec)
	res, err := runOnce(t, dir, Options{RunID: "r2"})
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"stage_copy": runstate.StageSkipped, "stage_upper": runstate.StageSucceeded}, stageStatuses(res.State))
	assert.Contains(t, runLine(t, res.State, "stage_upper").Reasons[0], "params changed")

	// The input: both rerun.
	testutil.WriteFile(t, filepath.Join(dir, "data/input/sample.txt"), "a\nc\n")
	res, err = runOnce(t, dir, Options{RunID: "r3"})
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"stage_copy": runstate.StageSucceeded, "stage_upper": runstate.StageSucceeded}, stageStatuses(res.State))
	assert.Equal(t, "A\nC\n", readFile(t, filepath.Join(dir, "data/output/result.txt")))

	// The processor binary: its stage reruns, and downstream only if the
	// output changed (it does not here).
	f, err := os.OpenFile(filepath.Join(dir, "bin/copy"), os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, _ = f.Write([]byte{0}) // trailing byte: still a valid binary, different hash
	require.NoError(t, f.Close())
	res, err = runOnce(t, dir, Options{RunID: "r4"})
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"stage_copy": runstate.StageSucceeded, "stage_upper": runstate.StageSkipped}, stageStatuses(res.State))

	// An output tampered with: its stage reruns and restores it.
	testutil.WriteFile(t, filepath.Join(dir, "data/output/result.txt"), "tampered\n")
	res, err = runOnce(t, dir, Options{RunID: "r5"})
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"stage_copy": runstate.StageSkipped, "stage_upper": runstate.StageSucceeded}, stageStatuses(res.State))
	assert.Contains(t, runLine(t, res.State, "stage_upper").Reasons[0], "output data/output/result.txt modified")
	assert.Equal(t, "A\nC\n", readFile(t, filepath.Join(dir, "data/output/result.txt")))

	// --force reruns a stage that is up to date.
	res, err = runOnce(t, dir, Options{RunID: "r6", Force: []string{"stage_copy"}})
	require.NoError(t, err)
	assert.Equal(t, runstate.StageSucceeded, stageStatuses(res.State)["stage_copy"])
	_, err = runOnce(t, dir, Options{RunID: "r7", Force: []string{"nope"}})
	require.ErrorIs(t, err, ErrNoSuchStage)
	assert.EqualError(t, err, "--force nope: no such stage")
}

func TestFlakyProcessorSucceedsAfterDeterministicBackoff(t *testing.T) {
	spec := `{"version": 1, "name": "t", "stages": [
	  {"name": "flaky", "processor": {"exec": ["bin/flaky"]}, "inputs": ["in.txt"], "outputDir": "out", "outputs": ["copy.txt"],
	   "params": {"failTimes": 2, "exitCode": 75},
	   "retry": {"maxAttempts": 4, "baseDelayMs": 40, "multiplier": 3, "maxDelayMs": 1000, "jitter": 0.5}}]}`
	dir := testutil.Workspace(t, map[string]string{"pipeline.json": spec, "in.txt": "x\ny\n"})
	res, err := runOnce(t, dir, Options{RunID: "flaky-run"})
	require.NoError(t, err)
	ss, err := stateOf(dir).ReadStage("flaky")
	require.NoError(t, err)
	require.Len(t, ss.Attempts, 3)
	p := load(t, dir)
	for i, a := range ss.Attempts {
		assert.Equal(t, i+1, a.Attempt)
		assert.Equal(t, Backoff(p.Stages[0].Retry, "flaky-run", "flaky", i+1).Milliseconds(), a.DelayMs, "attempt %d delay", i+1)
	}
	assert.Equal(t, runstate.OutcomeTransient, ss.Attempts[0].Outcome)
	assert.Equal(t, 75, ss.Attempts[0].ExitCode)
	assert.Equal(t, runstate.OutcomeSucceeded, ss.Attempts[2].Outcome)
	assert.Greater(t, ss.Attempts[1].DelayMs, int64(0))
	// The wait really happened between the attempts.
	gap := ss.Attempts[1].StartedAt.Sub(ss.Attempts[0].EndedAt)
	assert.GreaterOrEqual(t, gap, time.Duration(ss.Attempts[1].DelayMs)*time.Millisecond)
	assert.Equal(t, "x\ny\n", readFile(t, filepath.Join(dir, "out/copy.txt")))
	assert.Equal(t, 2, res.Metrics.Stages[0].Retries)
}

func TestHardFailureIsNotRetriedAndStopsDownstream(t *testing.T) {
	spec := `{"version": 1, "name": "t", "stages": [
	  {"name": "bad", "processor": {"exec": ["bin/flaky"]}, "inputs": ["in.txt"], "outputDir": "a", "outputs": ["copy.txt"],
	   "params": {"failTimes": 9, "exitCode": 3}},
	  {"name": "after", "processor": {"exec": ["bin/upper"]}, "inputs": ["a/copy.txt"], "outputDir": "b", "outputs": ["result.txt"]},
	  {"name": "indep", "processor": {"exec": ["bin/upper"]}, "inputs": ["in.txt"], "outputDir": "c", "outputs": ["result.txt"], "dependsOn": []}]}`
	dir := testutil.Workspace(t, map[string]string{"pipeline.json": spec, "in.txt": "q\n"})
	res, err := runOnce(t, dir, Options{RunID: "f1"})
	var sf *StageFailedError
	require.ErrorAs(t, err, &sf)
	assert.ErrorIs(t, err, ErrStageFailed)
	assert.Equal(t, []string{"bad"}, sf.Failed)
	assert.Equal(t, []string{"after"}, sf.Blocked)
	assert.Equal(t, map[string]string{"bad": runstate.StageFailed, "after": runstate.StageBlocked, "indep": runstate.StageSucceeded}, stageStatuses(res.State))
	assert.Equal(t, runstate.RunFailed, res.State.Status)
	ss, err := stateOf(dir).ReadStage("bad")
	require.NoError(t, err)
	require.Len(t, ss.Attempts, 1, "exit code 3 is not retryable")
	assert.Equal(t, "exit code 3", ss.Attempts[0].Error)
	assert.NoFileExists(t, filepath.Join(dir, "a/copy.txt"), "a failed stage promotes nothing")
	assert.NoFileExists(t, filepath.Join(dir, "a/.bad.done"))
	assert.Equal(t, "Q\n", readFile(t, filepath.Join(dir, "c/result.txt")))
}

func TestTimeoutKillsAndIsRetriedOnlyWhenAsked(t *testing.T) {
	for _, retry := range []bool{false, true} {
		spec := `{"version": 1, "name": "t", "stages": [
		  {"name": "hang", "processor": {"exec": ["sh", "-c", "sleep 30"]}, "outputDir": "o", "timeoutSeconds": 1,
		   "retry": {"maxAttempts": 2, "baseDelayMs": 1, "retryOnTimeout": ` + map[bool]string{false: "false", true: "true"}[retry] + `}}]}`
		dir := testutil.Workspace(t, map[string]string{"pipeline.json": spec})
		start := time.Now()
		_, err := runOnce(t, dir, Options{RunID: "t"})
		var sf *StageFailedError
		require.ErrorAs(t, err, &sf)
		assert.Less(t, time.Since(start), 10*time.Second)
		ss, err := stateOf(dir).ReadStage("hang")
		require.NoError(t, err)
		want := map[bool]int{false: 1, true: 2}[retry]
		require.Len(t, ss.Attempts, want)
		assert.Equal(t, runstate.OutcomeTimeout, ss.Attempts[0].Outcome)
		assert.Equal(t, "killed: timeout after 1s", ss.Attempts[0].Error)
	}
}

func TestLockedRunExitsWithHolderOrWaits(t *testing.T) {
	dir := testutil.Workspace(t, map[string]string{"pipeline.json": twoStages, "data/input/sample.txt": "a\n"})
	lockPath := filepath.Join(dir, "locks", "pipeline.lock")
	holder := flock.Holder{RunID: "other", PID: 4242, Host: "h", Since: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	l, _, err := flock.TryAcquire(lockPath, holder)
	require.NoError(t, err)
	_, err = runOnce(t, dir, Options{RunID: "r"})
	var le *LockedError
	require.ErrorAs(t, err, &le)
	assert.ErrorIs(t, err, ErrLocked)
	assert.Contains(t, le.Error(), "run other, pid 4242 on h, since 2026-01-02T03:04:05Z")
	assert.NoDirExists(t, filepath.Join(dir, "data/output"), "nothing ran")

	// --wait: the holder lets go only once the run says it waits (the
	// event), so the test proves the waiting path without guessing a delay.
	waited := false
	res, err := runOnce(t, dir, Options{RunID: "r", Wait: true, OnEvent: func(ev runstate.Event) {
		if w, ok := ev.Data.(runstate.LockWait); ok {
			waited = true
			assert.Contains(t, w.Holder, "run other, pid 4242")
			assert.NoDirExists(t, filepath.Join(dir, "data/output"), "nothing runs while waiting")
			require.NoError(t, l.Release())
		}
	}})
	require.NoError(t, err)
	assert.True(t, waited, "the run waited for the lock")
	assert.Equal(t, runstate.RunSucceeded, res.State.Status)
}

func TestRetryResumesFromCheckpoint(t *testing.T) {
	input := testutil.Lines(5000)
	spec := `{"version": 1, "name": "t", "stages": [
	  {"name": "flaky", "processor": {"exec": ["bin/flaky"]}, "inputs": ["in.txt"], "outputDir": "out", "outputs": ["copy.txt"],
	   "params": {"failTimes": 1, "exitCode": 75, "failAfterLines": 3000},
	   "checkpoint": {"everyLines": 1000}, "retry": {"baseDelayMs": 1}}]}`
	dir := testutil.Workspace(t, map[string]string{"pipeline.json": spec, "in.txt": input})
	_, err := runOnce(t, dir, Options{RunID: "r"})
	require.NoError(t, err)
	ss, err := stateOf(dir).ReadStage("flaky")
	require.NoError(t, err)
	require.Len(t, ss.Attempts, 2)
	assert.Equal(t, int64(0), ss.Attempts[0].StartLineOffset)
	// Checkpoints are taken every 1000 lines (asynchronously, one in flight),
	// so the retry starts at one of them, not from scratch.
	// (Under heavy load the failure can come before the first checkpoint is
	// durable; then there is none and the retry rightly starts at 0.)
	resumed := ss.Attempts[1].StartLineOffset
	if ss.Attempts[0].EndLineOffset > 0 {
		assert.Contains(t, []int64{1000, 2000, 3000}, resumed, "the retry starts at a checkpoint")
	}
	assert.Equal(t, int64(len(testutil.Lines(int(resumed)))), ss.Attempts[1].StartByteOffset)
	assert.Equal(t, ss.Attempts[0].EndLineOffset, resumed)
	assert.Equal(t, input, readFile(t, filepath.Join(dir, "out/copy.txt")), "no duplicated or missing lines")
}

func TestInterruptKeepsCheckpointAndNextRunResumes(t *testing.T) {
	input := testutil.Lines(20000)
	spec := `{"version": 1, "name": "t", "stages": [
	  {"name": "slow", "processor": {"exec": ["bin/slowcopy"]}, "inputs": ["in.txt"], "outputDir": "out", "outputs": ["copy.txt"],
	   "params": {"delayMicrosPerLine": 100}, "checkpoint": {"everyLines": 500, "everySeconds": 0.05}},
	  {"name": "next", "processor": {"exec": ["bin/upper"]}, "inputs": ["out/copy.txt"], "outputDir": "up", "outputs": ["result.txt"]}]}`
	dir := testutil.Workspace(t, map[string]string{"pipeline.json": spec, "in.txt": input})
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for ctx.Err() == nil {
			if p, _ := stateOf(dir).ReadProgress("slow"); p != nil && p.LineOffset >= 2000 {
				cancel()
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	res, err := Run(ctx, load(t, dir), Options{RunID: "i1", Sandbox: plainSandbox(t)})
	cancel()
	var ie *InterruptedError
	require.ErrorAs(t, err, &ie)
	assert.ErrorIs(t, err, ErrInterrupted)
	assert.Equal(t, runstate.RunInterrupted, res.State.Status)
	assert.Equal(t, map[string]string{"slow": runstate.StageInterrupted, "next": runstate.StagePending}, stageStatuses(res.State))
	prog, err := stateOf(dir).ReadProgress("slow")
	require.NoError(t, err)
	require.NotNil(t, prog)
	assert.GreaterOrEqual(t, prog.LineOffset, int64(2000))

	plans, err := Plan(context.Background(), load(t, dir), PlanOptions{})
	require.NoError(t, err)
	require.NotNil(t, plans[0].Resume)
	assert.Equal(t, prog.LineOffset, plans[0].Resume.LineOffset)

	_, err = runOnce(t, dir, Options{RunID: "i2"})
	require.NoError(t, err)
	ss, err := stateOf(dir).ReadStage("slow")
	require.NoError(t, err)
	assert.Equal(t, prog.LineOffset, ss.Attempts[0].StartLineOffset)
	assert.Equal(t, input, readFile(t, filepath.Join(dir, "out/copy.txt")))
	assert.Equal(t, strings.ToUpper(input), readFile(t, filepath.Join(dir, "up/result.txt")))
}

func TestCrashLeftoversAreSweptAndDeadRunRecovered(t *testing.T) {
	dir := testutil.Workspace(t, map[string]string{"pipeline.json": twoStages, "data/input/sample.txt": "a\n"})
	state := filepath.Join(dir, "state")
	testutil.WriteFile(t, filepath.Join(state, ".run_x.json.123"+".grtmp"), "{")
	testutil.WriteFile(t, filepath.Join(dir, "data/output/.result.txt.9.grtmp"), "half")
	dead := runstate.RunState{RunID: "dead", Status: runstate.RunRunning, StartedAt: time.Now().UTC(), Stages: []runstate.RunStage{{Name: "stage_copy", Status: runstate.StageRunning}}}
	b, _ := json.Marshal(dead)
	testutil.WriteFile(t, filepath.Join(state, "run_dead.json"), string(b))
	hb, _ := json.Marshal(flock.Holder{RunID: "dead", PID: 999999, Host: "h", Since: time.Now()})
	testutil.WriteFile(t, filepath.Join(dir, "locks", "pipeline.lock"), string(hb))

	_, err := runOnce(t, dir, Options{RunID: "alive"})
	require.NoError(t, err)
	assert.NoFileExists(t, filepath.Join(state, ".run_x.json.123.grtmp"))
	assert.NoFileExists(t, filepath.Join(dir, "data/output/.result.txt.9.grtmp"))
	rs, err := stateOf(dir).ReadRun("dead")
	require.NoError(t, err)
	assert.Equal(t, runstate.RunInterrupted, rs.Status)
	assert.Equal(t, runstate.StageInterrupted, rs.Stages[0].Status)
	// A clean exit leaves an empty lock file: nothing to recover next time.
	assert.Equal(t, flock.Holder{}, flock.ReadHolder(filepath.Join(dir, "locks", "pipeline.lock")))
}

func TestMissingInputFailsClearly(t *testing.T) {
	dir := testutil.Workspace(t, map[string]string{"pipeline.json": twoStages})
	res, err := runOnce(t, dir, Options{RunID: "m"})
	var sf *StageFailedError
	require.ErrorAs(t, err, &sf)
	assert.Contains(t, res.State.Stages[0].Error, "input data/input/sample.txt: no such file or directory")
}

func TestBackoff(t *testing.T) {
	r := pipeline.Retry{BaseDelayMs: 100, MaxDelayMs: 1000, Multiplier: 2}
	for n, want := range map[int]time.Duration{1: 0, 2: 100 * time.Millisecond, 3: 200 * time.Millisecond, 4: 400 * time.Millisecond, 5: 800 * time.Millisecond, 6: time.Second, 9: time.Second} {
		assert.Equal(t, want, Backoff(r, "run", "s", n), "attempt %d", n)
	}
	r.Jitter = 0.2
	for n := 2; n < 8; n++ {
		d := Backoff(r, "run", "s", n)
		base := Backoff(pipeline.Retry{BaseDelayMs: 100, MaxDelayMs: 1000, Multiplier: 2}, "run", "s", n)
		assert.InDelta(t, float64(base), float64(d), 0.2*float64(base)+float64(time.Millisecond))
		assert.LessOrEqual(t, d, time.Second)
		assert.Equal(t, d, Backoff(r, "run", "s", n), "deterministic")
	}
	assert.NotEqual(t, Backoff(r, "run-a", "s", 2), Backoff(r, "run-b", "s", 2), "jitter depends on the run id")
}

func TestCanonicalParams(t *testing.T) {
	a, err := canonicalJSON(json.RawMessage(`{ "b": [1, 2.50], "a": {"y": true, "x": null} }`))
	require.NoError(t, err)
	assert.Equal(t, `{"a":{"x":null,"y":true},"b":[1,2.50]}`, a)
	e, err := canonicalJSON(nil)
	require.NoError(t, err)
	assert.Equal(t, "{}", e)
	_, err = canonicalJSON(json.RawMessage(`{`))
	assert.Error(t, err)
}

func TestPlanExplainsEveryReason(t *testing.T) {
	dir := testutil.Workspace(t, map[string]string{"pipeline.json": twoStages, "data/input/sample.txt": "a\n"})
	plans, err := Plan(context.Background(), load(t, dir), PlanOptions{})
	require.NoError(t, err)
	assert.Equal(t, "run", plans[0].Action)
	assert.Equal(t, ReasonNeverRun, plans[0].Reasons[0].Kind)
	assert.NoDirExists(t, filepath.Join(dir, "state"), "plan has no side effects")

	_, err = runOnce(t, dir, Options{RunID: "r1"})
	require.NoError(t, err)
	plans, err = Plan(context.Background(), load(t, dir), PlanOptions{})
	require.NoError(t, err)
	assert.Equal(t, []string{"skip", "skip"}, []string{plans[0].Action, plans[1].Action})

	testutil.WriteFile(t, filepath.Join(dir, "data/input/sample.txt"), "b\n")
	plans, err = Plan(context.Background(), load(t, dir), PlanOptions{Force: []string{"stage_upper"}})
	require.NoError(t, err)
	require.Equal(t, ReasonInputChanged, plans[0].Reasons[0].Kind)
	assert.Equal(t, "data/input/sample.txt", plans[0].Reasons[0].Path)
	assert.Regexp(t, `^input data/input/sample.txt changed \([0-9a-f]{12} -> [0-9a-f]{12}\)$`, plans[0].Why[0])
	kinds := []string{}
	for _, r := range plans[1].Reasons {
		kinds = append(kinds, r.Kind)
	}
	assert.Contains(t, kinds, ReasonUpstream)
	assert.Contains(t, kinds, ReasonForced)
}

// TestManyStagesDoNotLeakFileDescriptors: a run of many stages must not
// keep a file open per stage (a pipeline larger than the fd limit would
// fail with EMFILE).
func TestManyStagesDoNotLeakFileDescriptors(t *testing.T) {
	fds := func() int {
		ents, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Skip("no /proc/self/fd")
		}
		return len(ents)
	}
	var stages []string
	files := map[string]string{}
	for i := 0; i < 40; i++ {
		files[fmt.Sprintf("in/%d.txt", i)] = "x\n"
		stages = append(stages, fmt.Sprintf(`{"name": "s%d", "processor": {"exec": ["bin/copy"]}, "inputs": ["in/%d.txt"], "outputDir": "out/%d", "outputs": ["copy.txt"], "dependsOn": []}`, i, i, i))
	}
	files["pipeline.json"] = `{"version": 1, "name": "fds", "stages": [` + strings.Join(stages, ",") + `]}`
	dir := testutil.Workspace(t, files)
	sb := plainSandbox(t)
	// Without GC, a leaked *os.File is not closed behind our back by its
	// finalizer, so a leak shows in the count.
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	_, err := Run(context.Background(), load(t, dir), Options{RunID: "warm", Sandbox: sb, Force: []string{"s0"}})
	require.NoError(t, err)
	before := fds()
	forced := make([]string, 40)
	for i := range forced {
		forced[i] = fmt.Sprintf("s%d", i)
	}
	_, err = Run(context.Background(), load(t, dir), Options{RunID: "again", Sandbox: sb, Force: forced})
	require.NoError(t, err)
	assert.LessOrEqual(t, fds(), before+2, "file descriptors leaked by a run of 40 stages")
}

// stateOf is the state layout of the test workspace dir (the defaults).
func stateOf(dir string) runstate.Layout {
	return runstate.Layout{StateDir: filepath.Join(dir, "state"), LocksDir: filepath.Join(dir, "locks")}
}
