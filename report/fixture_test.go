package report

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/guardrun/guardrun/internal/runstate"
	"github.com/guardrun/guardrun/internal/testutil"
	"github.com/guardrun/guardrun/pipeline"
	"github.com/guardrun/guardrun/runner"
	"github.com/guardrun/guardrun/sandbox"
)

// evilProc is a processor path whose error message carries markup: the
// directory "bin/<script>alert(1)<" holds a file "script>" that is not
// executable, so starting it fails with an error naming the path.
const evilProc = "bin/<script>alert(1)</script>"

// fixtureSpec: copy -> flaky (fails twice with the transient exit code,
// then succeeds) -> upper; crash (transient failures until it runs out of
// attempts); bad (cannot start) -> after (blocked).
const fixtureSpec = `{
  "version": 1, "name": "demo",
  "stages": [
    {"name": "stage_copy", "processor": {"exec": ["bin/copy"]}, "inputs": ["data/input/sample.txt"],
     "outputDir": "data/work", "outputs": ["copy.txt"]},
    {"name": "stage_flaky", "processor": {"exec": ["bin/flaky"]}, "inputs": ["data/work/copy.txt"],
     "outputDir": "data/flaky", "outputs": ["copy.txt"], "params": {"failTimes": 2, "exitCode": 75},
     "retry": {"maxAttempts": 4, "baseDelayMs": 150, "multiplier": 2, "maxDelayMs": 2000, "jitter": 0}},
    {"name": "stage_upper", "processor": {"exec": ["bin/upper"]}, "inputs": ["data/flaky/copy.txt"],
     "outputDir": "data/output", "outputs": ["result.txt"]},
    {"name": "stage_crash", "processor": {"exec": ["bin/flaky"]}, "inputs": ["data/input/sample.txt"],
     "outputDir": "data/crash", "outputs": ["copy.txt"], "params": {"failTimes": 9, "exitCode": 75},
     "retry": {"maxAttempts": 2, "baseDelayMs": 100, "jitter": 0}},
    {"name": "stage_bad", "processor": {"exec": ["` + evilProc + `"]}, "inputs": ["data/input/sample.txt"],
     "outputDir": "data/bad", "outputs": ["copy.txt"], "dependsOn": ["stage_upper"]},
    {"name": "stage_after", "processor": {"exec": ["bin/upper"]}, "inputs": ["data/bad/copy.txt"],
     "outputDir": "data/after", "outputs": ["result.txt"]}
  ]
}`

// fixture is a state dir after three real runs of fixtureSpec:
//
//	r1  copy ok, flaky ok after 2 retries, upper ok, crash fails after a
//	    retry, bad fails to start, after blocked
//	r2  copy, flaky, upper skipped (up to date), crash and bad fail again,
//	    after blocked
//	r3  the spec without crash, bad and after: everything skipped, no
//	    stage ran
//
// r2 overwrites stage_stage_crash.json, so r1's report must take
// stage_crash's attempts from the audit log.
type fixture struct {
	Workspace string
	StateDir  string
}

var (
	fixtureOnce sync.Once
	fixtureVal  fixture
	fixtureErr  error
)

func runFixture(t *testing.T) fixture {
	t.Helper()
	fixtureOnce.Do(func() {
		dir := testutil.Workspace(t, map[string]string{
			"pipeline.json":         fixtureSpec,
			"data/input/sample.txt": testutil.Lines(2000),
		})
		// Workspace lives in t.TempDir of the first test; copy the state
		// out at the end so that later tests can still read it.
		evil := filepath.Join(dir, filepath.FromSlash(evilProc))
		testutil.WriteFile(t, evil, "#!/bin/sh\nexit 0\n")
		if err := os.Chmod(evil, 0o644); err != nil {
			fixtureErr = err
			return
		}
		run := func(id string) {
			if fixtureErr != nil {
				return
			}
			p, err := pipeline.Load(filepath.Join(dir, "pipeline.json"), pipeline.LoadOptions{})
			if err != nil {
				fixtureErr = err
				return
			}
			sb, err := sandbox.New(sandbox.Options{BestEffort: true, AllowNetwork: true})
			if err != nil {
				fixtureErr = err
				return
			}
			_, err = runner.Run(context.Background(), p, runner.Options{RunID: id, Sandbox: sb, BestEffort: true,
				Preflight: &runstate.PolicyVerdict{Policy: "pass", Netlint: "pass (0 go processors)"}})
			var sf *runner.StageFailedError
			if err != nil && !errors.As(err, &sf) {
				fixtureErr = err
			}
		}
		run("r1")
		run("r2")
		if fixtureErr == nil {
			spec := fixtureSpec[:strings.Index(fixtureSpec, `,
    {"name": "stage_crash"`)] + "\n  ]\n}"
			testutil.WriteFile(t, filepath.Join(dir, "pipeline.json"), spec)
		}
		run("r3")
		if fixtureErr != nil {
			return
		}
		keep, err := os.MkdirTemp("", "guardrun-report-fixture-")
		if err != nil {
			fixtureErr = err
			return
		}
		if err := os.CopyFS(filepath.Join(keep, "state"), os.DirFS(filepath.Join(dir, "state"))); err != nil {
			fixtureErr = err
			return
		}
		fixtureVal = fixture{Workspace: keep, StateDir: filepath.Join(keep, "state")}
	})
	require.NoError(t, fixtureErr)
	return fixtureVal
}

// copyState gives a test its own copy of the fixture's state dir, to change.
func copyState(t *testing.T) string {
	t.Helper()
	fx := runFixture(t)
	dst := filepath.Join(t.TempDir(), "state")
	require.NoError(t, os.CopyFS(dst, os.DirFS(fx.StateDir)))
	return dst
}

func TestMain(m *testing.M) {
	code := m.Run()
	if fixtureVal.Workspace != "" {
		_ = os.RemoveAll(fixtureVal.Workspace)
	}
	os.Exit(code)
}
