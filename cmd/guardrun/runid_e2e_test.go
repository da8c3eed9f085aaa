package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRunIDUnique: a run id names one run. Reusing one is refused (exit 2,
// naming the run that has it) and changes nothing; --replace-run replaces
// that run's records; runs without --run-id never collide.
func TestRunIDUnique(t *testing.T) {
	spec := `{"version": 1, "name": "ids", "stages": [
  {"name": "copy", "processor": {"exec": ["bin/copy"]}, "inputs": ["in.txt"], "outputDir": "out", "outputs": ["copy.txt"]}]}`
	dir := workspace(t, map[string]string{"pipeline.json": spec, "in.txt": "a\n"})
	r := guardrun(t, dir, "run", "--run-id", "x1")
	require.Equal(t, 0, r.code, r.stderr)
	before, err := os.ReadFile(filepath.Join(dir, "state", "run_x1.json"))
	require.NoError(t, err)

	r = guardrun(t, dir, "run", "--run-id", "x1")
	assert.Equal(t, 2, r.code, r.stderr)
	assert.Regexp(t, `run id x1 is already used by the run started at \S+ \(succeeded\): choose another --run-id, or pass --replace-run`, r.stderr)
	after, err := os.ReadFile(filepath.Join(dir, "state", "run_x1.json"))
	require.NoError(t, err)
	assert.Equal(t, string(before), string(after), "the refused run wrote nothing over it")

	r = guardrun(t, dir, "run", "--run-id", "x1", "--replace-run", "--force", "copy")
	require.Equal(t, 0, r.code, r.stderr)
	rs, err := stateOf(dir).ReadRun("x1")
	require.NoError(t, err)
	assert.Equal(t, "succeeded", rs.Status)
	require.Len(t, rs.Stages, 1)
	assert.Equal(t, 1, rs.Stages[0].Attempts)
	r = guardrun(t, dir, "report", "--run-id", "x1")
	require.Equal(t, 0, r.code, r.stderr)

	for range 3 {
		r = guardrun(t, dir, "run")
		require.Equal(t, 0, r.code, r.stderr)
	}
	runs, err := filepath.Glob(filepath.Join(dir, "state", "run_*.json"))
	require.NoError(t, err)
	assert.Len(t, runs, 4, "every run without --run-id got an id of its own")
}
