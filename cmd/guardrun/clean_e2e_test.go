package main

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/guardrun/guardrun/internal/flock"
	"github.com/guardrun/guardrun/internal/testutil"
)

const cleanSpec = `{"version": 1, "name": "cl", "stages": [
  {"name": "first", "processor": {"exec": ["bin/copy"]}, "inputs": ["in.txt"], "outputDir": "out", "outputs": ["a.txt"]},
  {"name": "second", "processor": {"exec": ["bin/copy"]}, "inputs": ["in.txt"], "outputDir": "out2", "outputs": ["b.txt"], "dependsOn": []}]}`

const cleanSpecOne = `{"version": 1, "name": "cl", "stages": [
  {"name": "first", "processor": {"exec": ["bin/copy"]}, "inputs": ["in.txt"], "outputDir": "out", "outputs": ["a.txt"]}]}`

// TestCleanTakesThePipelineLock: clean waits for no one: while another
// process holds the pipeline lock it exits 4 naming the holder and deletes
// nothing, --dry-run included.
func TestCleanTakesThePipelineLock(t *testing.T) {
	dir := workspace(t, map[string]string{"pipeline.json": cleanSpec, "in.txt": "x\n"})
	require.Equal(t, 0, guardrun(t, dir, "run", "--run-id", "r1").code)
	require.Equal(t, 0, guardrun(t, dir, "run", "--run-id", "r2").code)
	l, _, err := flock.TryAcquire(filepath.Join(dir, "locks", "pipeline.lock"), flock.Holder{RunID: "other", PID: os.Getpid(), Host: "h", Since: time.Now()})
	require.NoError(t, err)
	for _, args := range [][]string{{"clean", "--keep", "0"}, {"clean", "--keep", "0", "--dry-run"}} {
		r := guardrun(t, dir, args...)
		assert.Equal(t, exitLocked, r.code, r.stderr)
		assert.Contains(t, r.stderr, "locked by run other")
	}
	assert.FileExists(t, filepath.Join(dir, "state", "run_r1.json"))
	require.NoError(t, l.Release())
	r := guardrun(t, dir, "clean", "--keep", "0")
	assert.Equal(t, 0, r.code, r.stderr)
	assert.NoFileExists(t, filepath.Join(dir, "state", "run_r1.json"))
	assert.NoFileExists(t, filepath.Join(dir, "state", "run_r2.json"))
	r = guardrun(t, dir, "verify")
	assert.Equal(t, 0, r.code, r.stderr)
}

// TestCleanNeverFollowsASymlinkOutOfTheWorkspace: the output dir of a
// stage gone from the spec was replaced by a symlink to a directory
// outside the workspace holding files of the same names: clean deletes
// none of them.
func TestCleanNeverFollowsASymlinkOutOfTheWorkspace(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("symlinks need privileges on Windows")
	}
	dir := workspace(t, map[string]string{"pipeline.json": cleanSpec, "in.txt": "x\n"})
	require.Equal(t, 0, guardrun(t, dir, "run").code)
	outside := t.TempDir()
	for _, f := range []string{"b.txt", ".second.done"} {
		require.NoError(t, os.WriteFile(filepath.Join(outside, f), []byte("not guardrun's\n"), 0o644))
	}
	require.NoError(t, os.RemoveAll(filepath.Join(dir, "out2")))
	require.NoError(t, os.Symlink(outside, filepath.Join(dir, "out2")))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "pipeline.json"), []byte(cleanSpecOne), 0o644))
	r := guardrun(t, dir, "clean")
	require.Equal(t, 0, r.code, r.stderr)
	assert.FileExists(t, filepath.Join(outside, "b.txt"))
	assert.FileExists(t, filepath.Join(outside, ".second.done"))
	assert.NotContains(t, r.stdout, "out2/b.txt")
	assert.NoFileExists(t, filepath.Join(dir, "state", "stage_second.json"), "its state goes")
}

// TestCleanRemovesGoneItems: the outputs of a fan-out item whose input was
// deleted go, the journal records the removal (plan has nothing left to
// remove), and the next run skips the stage.
func TestCleanRemovesGoneItems(t *testing.T) {
	spec := `{"version": 1, "name": "fan", "stages": [
  {"name": "each", "foreach": {"glob": "in/*.txt"}, "processor": {"exec": ["bin/copy"]}, "outputDir": "each", "outputs": ["{stem}.txt"]}]}`
	dir := workspace(t, map[string]string{"pipeline.json": spec, "in/a.txt": "a\n", "in/b.txt": "b\n"})
	require.Equal(t, 0, guardrun(t, dir, "run").code)
	require.FileExists(t, filepath.Join(dir, "each", "b.txt"))
	require.NoError(t, os.Remove(filepath.Join(dir, "in", "b.txt")))

	r := guardrun(t, dir, "clean", "--dry-run")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "would delete each/b.txt (item b.txt of stage each is gone")
	assert.FileExists(t, filepath.Join(dir, "each", "b.txt"))

	r = guardrun(t, dir, "clean")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "deleted each/b.txt (item b.txt of stage each is gone")
	assert.NoFileExists(t, filepath.Join(dir, "each", "b.txt"))
	assert.FileExists(t, filepath.Join(dir, "each", "a.txt"))
	r = guardrun(t, dir, "plan", "--json")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, `"remove": 0,`, "the removal is in the journal")
	r = guardrun(t, dir, "run")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stderr, "each                 skipped (up to date)")
	assert.Equal(t, 0, guardrun(t, dir, "verify").code)
}

// TestCleanRemovesAGoneFanoutStage: a fan-out stage dropped from the spec
// leaves nothing: its items' outputs, its journal and its item summary go.
func TestCleanRemovesAGoneFanoutStage(t *testing.T) {
	spec := `{"version": 1, "name": "fan", "stages": [
  {"name": "each", "foreach": {"glob": "in/*.txt"}, "processor": {"exec": ["bin/copy"]}, "outputDir": "each", "outputs": ["{stem}.txt"]},
  {"name": "other", "processor": {"exec": ["bin/copy"]}, "inputs": ["in"], "outputDir": "other", "outputs": ["all.txt"]}]}`
	dir := workspace(t, map[string]string{"pipeline.json": spec, "in/a.txt": "a\n"})
	require.Equal(t, 0, guardrun(t, dir, "run").code)
	state := filepath.Join(dir, "state")
	require.FileExists(t, filepath.Join(state, "items_each.jsonl"))
	require.FileExists(t, filepath.Join(state, "items_each.sum"))
	spec = `{"version": 1, "name": "fan", "stages": [
  {"name": "other", "processor": {"exec": ["bin/copy"]}, "inputs": ["in"], "outputDir": "other", "outputs": ["all.txt"]}]}`
	require.NoError(t, os.WriteFile(filepath.Join(dir, "pipeline.json"), []byte(spec), 0o644))
	r := guardrun(t, dir, "clean")
	require.Equal(t, 0, r.code, r.stderr)
	assert.NoFileExists(t, filepath.Join(dir, "each", "a.txt"))
	assert.NoFileExists(t, filepath.Join(state, "items_each.jsonl"))
	assert.NoFileExists(t, filepath.Join(state, "items_each.sum"))
}

// TestCleanAppendsToAKeyedChain: with the chain's key, clean's run.compacted
// records are HMAC'd like a run's, and verify with the key passes.
func TestCleanAppendsToAKeyedChain(t *testing.T) {
	dir := workspace(t, map[string]string{"pipeline.json": cleanSpecOne, "in.txt": "x\n"})
	key := filepath.Join(dir, "key.txt")
	require.NoError(t, os.WriteFile(key, []byte("0123456789abcdef0123456789abcdef\n"), 0o600))
	for _, id := range []string{"k1", "k2", "k3"} {
		r := guardrun(t, dir, "run", "--audit-key", key, "--run-id", id)
		require.Equal(t, 0, r.code, r.stderr)
	}
	r := guardrun(t, dir, "clean", "--keep", "1", "--audit-key", key)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "2 runs compacted")
	r = guardrun(t, dir, "verify", "--audit-key", key)
	assert.Equal(t, 0, r.code, r.stderr+r.stdout)
	assert.Contains(t, r.stdout, "(1 checked)")
}

// TestCleanGoBuildCache: clean empties the go command's build cache when
// guardrun's GOCACHE lies under stateDir, and leaves one elsewhere alone
// (--keep-go-cache keeps even the first).
func TestCleanGoBuildCache(t *testing.T) {
	dir := workspace(t, map[string]string{"pipeline.json": cleanSpecOne, "in.txt": "x\n"})
	require.Equal(t, 0, guardrun(t, dir, "run").code)
	inState := filepath.Join(dir, "state", "gocache")
	elsewhere := t.TempDir()
	for _, c := range []string{inState, elsewhere} {
		testutil.WriteFile(t, filepath.Join(c, "00", "entry-a"), "cached")
	}
	r := guardrunEnv(t, dir, []string{"GOCACHE=" + elsewhere}, "clean")
	require.Equal(t, 0, r.code, r.stderr)
	assert.FileExists(t, filepath.Join(elsewhere, "00", "entry-a"), "a cache outside stateDir is the user's")
	r = guardrunEnv(t, dir, []string{"GOCACHE=" + inState}, "clean", "--keep-go-cache")
	require.Equal(t, 0, r.code, r.stderr)
	assert.FileExists(t, filepath.Join(inState, "00", "entry-a"))
	r = guardrunEnv(t, dir, []string{"GOCACHE=" + inState}, "clean")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "the Go build cache under stateDir")
	assert.NoDirExists(t, inState)
}
