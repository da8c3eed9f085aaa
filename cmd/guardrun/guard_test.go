package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/guardrun/guardrun/internal/testutil"
)

// TestGuardOnlyWhenAVerdictIsNotCached runs a copy of guardrun that has no
// guardrun-guard next to it: whatever finds its verdicts cached works
// without the guard (it is never started), whatever must compute one says
// how to build it and exits 2.
func TestGuardOnlyWhenAVerdictIsNotCached(t *testing.T) {
	ws := workspace(t, map[string]string{
		"pipeline.json": `{"version": 1, "name": "g", "stages": [
  {"name": "copy", "processor": {"exec": ["bin/copy"]}, "inputs": ["in.txt"], "outputDir": "out"}]}`,
		"in.txt":       "x\n",
		"org/org.rego": "package guardrun.pipeline\n",
	})
	// A run with the guard next to guardrun caches the verdicts.
	r := guardrun(t, ws, "run", "--run-id", "r1")
	require.Equal(t, 0, r.code, r.stderr)

	alone := filepath.Join(t.TempDir(), filepath.Base(guardrunBin))
	testutil.CopyFile(t, guardrunBin, alone, 0o755)
	empty := t.TempDir()
	env := []string{"PATH=" + empty, "GUARDRUN_GUARD="}
	run := func(args ...string) result {
		t.Helper()
		cmd := exec.Command(alone, args...)
		cmd.Dir = ws
		cmd.Env = append(e2eEnv(), env...)
		var so, se bytes.Buffer
		cmd.Stdout, cmd.Stderr = &so, &se
		err := cmd.Run()
		var ee *exec.ExitError
		code := 0
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else {
			require.NoError(t, err)
		}
		return result{code: code, stdout: so.String(), stderr: se.String()}
	}

	r = run("run", "--run-id", "r2")
	assert.Equal(t, 0, r.code, "a cached verdict needs no guard: %s", r.stderr)
	r = run("plan")
	assert.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "skip")

	next := filepath.Join(filepath.Dir(alone), exeName("guardrun-guard"))
	for _, args := range [][]string{
		{"check"},            // check always evaluates afresh
		{"plan", "--strict"}, // another verdict
		{"run", "--run-id", "r3", "--policy", "org"}, // another policy
	} {
		r = run(args...)
		assert.Equal(t, 2, r.code, "%v: %s", args, r.stderr)
		assert.Contains(t, r.stderr, "guardrun: guardrun-guard not found (it evaluates the policy and lints Go processors for guardrun; looked next to guardrun at "+next, args)
		assert.Contains(t, r.stderr, "go build -o "+next+" ./cmd/guardrun-guard", args)
	}
	_, err := os.Stat(filepath.Join(ws, "state", "run_r3.json"))
	assert.ErrorIs(t, err, os.ErrNotExist, "nothing ran")

	// $GUARDRUN_GUARD points at it.
	env = []string{"PATH=" + empty, "GUARDRUN_GUARD=" + guardBin}
	r = run("check")
	assert.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "policy    ok")
}

func TestGuardHelp(t *testing.T) {
	cmd := exec.Command(guardBin, "-h")
	cmd.Env = e2eEnv()
	out, err := cmd.CombinedOutput()
	require.NoError(t, err)
	assert.Contains(t, string(out), "guardrun-guard computes verdicts for guardrun")
}

func exeName(name string) string {
	if filepath.Ext(guardrunBin) == ".exe" {
		return name + ".exe"
	}
	return name
}
