package policy

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/guardrun/guardrun/pipeline"
	"github.com/guardrun/guardrun/policy/policytest"
)

// testHost is the host every test judges against: 4 cpus, 8 GiB.
var testHost = Host{CPUs: 4, MemoryMB: 8192, OS: "linux"}

// workspace and stageSpec are policytest's (shared with the other
// package's tests).
var (
	workspace = policytest.Workspace
	stageSpec = policytest.StageSpec
	loadOpts  = policytest.LoadOpts
)

func TestInputFillsResolvedAndRealPaths(t *testing.T) {
	ws, p := workspace(t, stageSpec(`"processor": {"exec": ["tools/sort.sh"]}`))
	in := Input(p, Host{Resolved: map[string]string{"other": "/x"}})
	h := in["host"].(Host)
	assert.Equal(t, "/x", h.Resolved["other"])
	assert.Equal(t, filepath.ToSlash(filepath.Join(p.Workspace, "tools", "sort.sh")), h.Resolved["stage_a"])
	assert.Equal(t, []string{filepath.ToSlash(filepath.Join(p.Workspace, "data", "input", "sample.txt"))}, h.RealInputs["stage_a"])
	_ = ws

	// a caller's value wins over resolution
	in = Input(p, Host{Resolved: map[string]string{"stage_a": "/usr/bin/sort"}})
	assert.Equal(t, "/usr/bin/sort", in["host"].(Host).Resolved["stage_a"])
}

func TestResolveExec(t *testing.T) {
	ws := t.TempDir()
	writeFile(t, filepath.Join(ws, "tools", "x.sh"), "#!/bin/sh\n")
	assert.Equal(t, filepath.ToSlash(filepath.Join(ws, "tools", "x.sh")), ResolveExec(ws, "tools/x.sh"))
	assert.Equal(t, "", ResolveExec(ws, "tools/missing.sh"))
	assert.Equal(t, "", ResolveExec(ws, "no-such-program-guardrun"))
	assert.Equal(t, "", ResolveExec(ws, ""))
	sh := ResolveExec(ws, "sh")
	require.NotEmpty(t, sh, "sh on PATH")
	assert.True(t, filepath.IsAbs(filepath.FromSlash(sh)))
	assert.Equal(t, "", ResolvePath(ws, "data/not-yet.txt"))
	assert.Equal(t, "", ResolvePath("", "rel.txt"))
}

func TestDetectHost(t *testing.T) {
	h := DetectHost()
	assert.Positive(t, h.CPUs)
	assert.NotEmpty(t, h.OS)
	if h.OS == "linux" {
		assert.Positive(t, h.MemoryMB)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
}

func TestFingerprint(t *testing.T) {
	ws, p := workspace(t, stageSpec(`"processor": {"exec": ["tools/sort.sh"]}`))
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a.rego"), "package guardrun.pipeline\n\nwarn contains \"[X1] a\" if false\n")
	opts := Options{Dirs: []string{dir}}

	fp := func(o Options, p *pipeline.Pipeline, h Host) string {
		t.Helper()
		s, err := Fingerprint(o, p, h)
		require.NoError(t, err)
		require.Len(t, s, 64)
		return s
	}
	base := fp(opts, p, testHost)
	assert.Equal(t, base, fp(opts, p, testHost), "stable")
	assert.NotEqual(t, base, fp(Options{Dirs: opts.Dirs, Strict: true}, p, testHost), "strict")
	assert.NotEqual(t, base, fp(Options{}, p, testHost), "user modules")
	assert.NotEqual(t, base, fp(opts, p, Host{CPUs: 2, MemoryMB: 8192, OS: "linux"}), "host")

	writeFile(t, filepath.Join(dir, "a.rego"), "package guardrun.pipeline\n\nwarn contains \"[X1] b\" if false\n")
	changed := fp(opts, p, testHost)
	assert.NotEqual(t, base, changed, "module content")

	// the program argv[0] resolves to moved: a symlink now leaves the workspace
	require.NoError(t, os.Remove(filepath.Join(ws, "tools", "sort.sh")))
	require.NoError(t, os.Symlink("/usr/bin/sort", filepath.Join(ws, "tools", "sort.sh")))
	assert.NotEqual(t, changed, fp(opts, p, testHost), "resolved processor")

	q := *p
	q.Stages = append([]pipeline.Stage(nil), p.Stages...)
	q.Stages[0].TimeoutSeconds++
	assert.NotEqual(t, fp(opts, p, testHost), fp(opts, &q, testHost), "spec")

	_, err := Fingerprint(Options{Dirs: []string{filepath.Join(dir, "missing")}}, p, testHost)
	require.Error(t, err)
}

// An input another stage produces is judged by name, so the document (and
// the fingerprint of its verdict) is the same before and after the run that
// creates it; an input nobody produces is still resolved.
func TestInputOfProducedFilesIsStable(t *testing.T) {
	spec := `{"version": 1, "name": "t", "resources": {"cpus": 2, "memoryMB": 2048}, "stages": [
  {"name": "a", "processor": {"exec": ["tools/sort.sh"]}, "inputs": ["data/input/sample.txt"], "outputDir": "data/work", "outputs": ["a.txt"]},
  {"name": "b", "processor": {"exec": ["tools/sort.sh"]}, "inputs": ["data/work/a.txt", "data/input/sample.txt"], "outputDir": "data/out", "outputs": ["b.txt"]}]}`
	ws, p := workspace(t, spec)
	before, err := InputJSON(p, testHost)
	require.NoError(t, err)
	fp, err := Fingerprint(Options{}, p, testHost)
	require.NoError(t, err)

	writeFile(t, filepath.Join(ws, "data", "work", "a.txt"), "made by stage a\n")
	after, err := InputJSON(p, testHost)
	require.NoError(t, err)
	assert.JSONEq(t, string(before), string(after))
	fp2, err := Fingerprint(Options{}, p, testHost)
	require.NoError(t, err)
	assert.Equal(t, fp, fp2)

	h := Input(p, testHost)["host"].(Host)
	assert.Equal(t, []string{"", filepath.ToSlash(filepath.Join(p.Workspace, "data", "input", "sample.txt"))}, h.RealInputs["b"])
}
