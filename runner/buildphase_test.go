package runner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/guardrun/guardrun/internal/runstate"
	"github.com/guardrun/guardrun/internal/testutil"
)

// TestGoBuildIsAPhaseOfTheStageThatMadeIt: run_<id>.json lists the Go
// builds of the run (stage, package, times, seconds), each under the
// first stage that needed the package; a stage whose processor another
// stage built, an exec stage and a rerun with the binaries cached add
// none; a build that fails is recorded as failed; a build made for a
// stage skipped as up to date is recorded too.
func TestGoBuildIsAPhaseOfTheStageThatMadeIt(t *testing.T) {
	dir := testutil.GoWorkspace(t, map[string]string{
		"pipeline.json": `{"version": 1, "name": "go", "stages": [
		  {"name": "copy", "processor": {"go": "./processors/copy"}, "inputs": ["in/a.txt"], "outputDir": "out", "outputs": ["copy.txt"]},
		  {"name": "copy_again", "processor": {"go": "./processors/copy"}, "inputs": ["in/a.txt"], "outputDir": "again", "outputs": ["copy.txt"]},
		  {"name": "each", "foreach": {"glob": "in/*.txt"}, "processor": {"go": "./processors/upper"}, "outputDir": "each", "outputs": ["{stem}.txt"]},
		  {"name": "shell", "processor": {"exec": ["/bin/sh", "-c", "cat \"$0\" >/dev/null", "in/a.txt"]}, "inputs": ["in/a.txt"], "outputDir": "sh", "outputs": [], "dependsOn": []},
		  {"name": "broken", "processor": {"go": "./processors/broken"}, "inputs": ["in/a.txt"], "outputDir": "broken", "outputs": ["x.txt"], "dependsOn": []}]}`,
		"in/a.txt":                  "a\n",
		"in/b.txt":                  "b\n",
		"processors/broken/main.go": "package main\n\nfunc main() { undefined() }\n",
	})
	builds := func(rs *runstate.RunState) map[string]runstate.ProcessorBuild {
		out := map[string]runstate.ProcessorBuild{}
		for i, b := range rs.Builds {
			_, dup := out[b.Stage]
			assert.False(t, dup, "%s built twice", b.Stage)
			out[b.Stage] = b
			if i > 0 {
				assert.False(t, b.StartedAt.Before(rs.Builds[i-1].StartedAt), "in the order they started")
			}
		}
		return out
	}
	check := func(t *testing.T, rs *runstate.RunState, before, after time.Time, want map[string]string) {
		t.Helper()
		got := builds(rs)
		assert.Len(t, got, len(want))
		for stage, pkg := range want {
			b, ok := got[stage]
			if !assert.True(t, ok, "no build recorded for %s", stage) {
				continue
			}
			assert.Equal(t, pkg, b.Package, stage)
			assert.Equal(t, stage == "broken", b.Failed, stage)
			assert.False(t, b.StartedAt.Before(before), "%s: starts within the run", stage)
			assert.False(t, b.EndedAt.After(after), "%s: ends within the run", stage)
			assert.Equal(t, b.EndedAt.Sub(b.StartedAt).Seconds(), b.Seconds, stage)
			assert.Positive(t, b.Seconds, stage)
			assert.Equal(t, time.UTC, b.StartedAt.Location(), stage)
		}
	}
	layout := runstate.Layout{StateDir: load(t, dir).StateDir}
	run := func(t *testing.T, id string, force ...string) *runstate.RunState {
		t.Helper()
		res, err := runOnce(t, dir, Options{RunID: id, Force: force})
		var sf *StageFailedError
		require.ErrorAs(t, err, &sf)
		assert.Equal(t, []string{"broken"}, sf.Failed)
		// The record on disk (and so `run --json`) is the one returned.
		onDisk, err := layout.ReadRun(id)
		require.NoError(t, err)
		assert.Equal(t, len(res.State.Builds), len(onDisk.Builds))
		return onDisk
	}

	for _, tc := range []struct {
		name    string
		prepare func(t *testing.T)
		force   []string
		want    map[string]string // stage -> package built
		skipped []string
	}{
		// copy_again waits for nothing: copy built the package; shell is exec.
		{name: "cold", want: map[string]string{"copy": "processors/copy", "each": "processors/upper", "broken": "processors/broken"}},
		// Binaries cached: a forced rerun builds only what does not compile.
		{name: "cached", force: []string{"copy", "each"}, want: map[string]string{"broken": "processors/broken"}},
		// The builds are gone, the outputs up to date: the stages skip, and
		// the builds they waited for are still recorded.
		{name: "skipped stages rebuild", prepare: func(t *testing.T) {
			require.NoError(t, os.RemoveAll(filepath.Join(layout.StateDir, "bin")))
		}, want: map[string]string{"copy": "processors/copy", "each": "processors/upper", "broken": "processors/broken"},
			skipped: []string{"copy", "copy_again", "each", "shell"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.prepare != nil {
				tc.prepare(t)
			}
			before := time.Now().UTC()
			rs := run(t, strings.ReplaceAll(tc.name, " ", "_"), tc.force...)
			after := time.Now().UTC()
			check(t, rs, before, after, tc.want)
			if tc.skipped != nil {
				require.NotNil(t, rs.Skipped)
				assert.Equal(t, tc.skipped, rs.Skipped.Names)
			}
		})
	}
}
