package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestGitHook runs hooks/pre-commit in a real git repository with the real
// binary: it must lint what is staged, not the working tree.
func TestGitHook(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("sh is not installed")
	}
	bin := buildNetlint(t)
	hook, err := filepath.Abs(filepath.Join("..", "..", "hooks", "pre-commit"))
	require.NoError(t, err)

	repo := t.TempDir()
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = repo
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, string(out))
	}
	write := func(name, content string) {
		t.Helper()
		path := filepath.Join(repo, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
	}
	runHook := func() result {
		t.Helper()
		cmd := exec.Command("sh", hook)
		cmd.Dir = repo
		cmd.Env = append(os.Environ(), "NETLINT="+bin)
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else {
			require.NoError(t, err)
		}
		return result{stdout: string(out), code: code}
	}

	git("init", "-q")
	write("go.mod", "module example.com/hooked\n\ngo 1.22\n")
	write("lib/lib.go", "package lib\n\nimport \"net/url\"\n\nvar Parse = url.Parse\n")
	write("main.go", "package main\n\nimport _ \"example.com/hooked/lib\"\n\nfunc main() {}\n")
	git("add", ".")
	r := runHook()
	assert.Equal(t, 0, r.code, r.stdout)

	// A forbidden import reached through lib is staged: the commit is refused.
	write("lib/lib.go", "package lib\n\nimport \"net/http\"\n\nvar Get = http.Get\n")
	git("add", "lib/lib.go")
	r = runHook()
	assert.Equal(t, exitFindings, r.code, r.stdout)
	assert.Contains(t, r.stdout, `lib/lib.go:3:8: forbidden network import "net/http"`)
	assert.Contains(t, r.stdout, `main.go:3:8: import "example.com/hooked/lib" reaches forbidden package net/http`)

	// Fixed in the working tree but not staged: still refused.
	write("lib/lib.go", "package lib\n\nimport \"net/url\"\n\nvar Parse = url.Parse\n")
	r = runHook()
	assert.Equal(t, exitFindings, r.code, r.stdout)

	// Staged: accepted.
	git("add", "lib/lib.go")
	r = runHook()
	assert.Equal(t, 0, r.code, r.stdout)
}

// TestGitHookGOFLAGS: the hook lints a new temporary directory each time,
// and passes GOFLAGS as it is (no -trimpath): netlint compiles nothing of
// the linted module (suite's TestNoCompileOfLintedPackages), so the
// directory is in no cache key, and the developer's own build cache
// serves the hook.
func TestGitHookGOFLAGS(t *testing.T) {
	for _, tool := range []string{"git", "sh"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skip(tool + " is not installed")
		}
	}
	hook, err := filepath.Abs(filepath.Join("..", "..", "hooks", "pre-commit"))
	require.NoError(t, err)
	repo := t.TempDir()
	fake := filepath.Join(t.TempDir(), "fake-netlint")
	require.NoError(t, os.WriteFile(fake, []byte("#!/bin/sh\necho \"GOFLAGS=$GOFLAGS\"\n"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(repo, "go.mod"), []byte("module example.com/t\n\ngo 1.22\n"), 0o644))
	for _, args := range [][]string{{"init", "-q"}, {"add", "."}} {
		cmd := exec.Command("git", args...)
		cmd.Dir = repo
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, string(out))
	}
	for env, want := range map[string]string{"": "GOFLAGS=\n", "-mod=mod": "GOFLAGS=-mod=mod\n", "-trimpath": "GOFLAGS=-trimpath\n"} {
		cmd := exec.Command("sh", hook)
		cmd.Dir = repo
		cmd.Env = append(os.Environ(), "NETLINT="+fake, "GOFLAGS="+env)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, string(out))
		assert.Equal(t, want, string(out), "GOFLAGS=%q", env)
	}
}
