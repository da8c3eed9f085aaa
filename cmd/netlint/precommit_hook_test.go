package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPreCommitHookScript runs hooks/netlint-pre-commit, the entry of
// .pre-commit-hooks.yaml, as pre-commit does: from a clean clone of this
// repository (the hook repository), in another repository, with git's hook
// variables pointing at that other repository. It builds netlint, and only
// netlint, once; reuses it while the hook repository is unchanged; rebuilds
// it when netlint's sources change; and fails the commit on a finding.
func TestPreCommitHookScript(t *testing.T) {
	for _, tool := range []string{"git", "sh", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed", tool)
		}
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(t, err)
	if err := exec.Command("git", "-C", root, "rev-parse", "--verify", "-q", "HEAD").Run(); err != nil {
		t.Skipf("%s is not a git checkout (an export of the sources): no hook repository to clone", root)
	}
	run := func(dir string, env []string, name string, args ...string) (string, int) {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else {
			require.NoError(t, err, string(out))
		}
		return string(out), code
	}
	gitEnv := []string{"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com"}

	// The hook repository: a clone of this one, with this working tree's
	// hook script committed.
	hookRepo := filepath.Join(t.TempDir(), "hookrepo")
	out, code := run(root, nil, "git", "clone", "-q", root, hookRepo)
	require.Equal(t, 0, code, out)
	script, err := os.ReadFile(filepath.Join(root, "hooks", "netlint-pre-commit"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(hookRepo, "hooks", "netlint-pre-commit"), script, 0o755))
	out, code = run(hookRepo, gitEnv, "git", "commit", "-q", "--allow-empty", "-am", "this tree's hook script")
	require.Equal(t, 0, code, out)

	// The repository being committed.
	repo := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(repo, name)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(repo, name), []byte(content), 0o644))
	}
	out, code = run(repo, nil, "git", "init", "-q")
	require.Equal(t, 0, code, out)
	write("go.mod", "module example.com/hooked\n\ngo 1.22\n")
	write("main.go", "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println() }\n")
	// What git sets for a hook of repo: the script must not take it for the
	// hook repository's.
	hookEnv := []string{"GIT_DIR=" + filepath.Join(repo, ".git"), "GIT_INDEX_FILE=" + filepath.Join(repo, ".git", "index")}
	hook := filepath.Join(hookRepo, "hooks", "netlint-pre-commit")
	cache := filepath.Join(hookRepo, ".git", "guardrun-netlint")

	out, code = run(repo, hookEnv, hook, "-transitive", "./...")
	assert.Equal(t, 0, code, out)
	assert.Contains(t, out, "building netlint")
	ents, err := os.ReadDir(cache)
	require.NoError(t, err)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	assert.Equal(t, []string{"netlint", "stamp"}, names, "netlint, and only netlint, is built")

	out, code = run(repo, hookEnv, hook, "-transitive", "./...")
	assert.Equal(t, 0, code, out)
	assert.NotContains(t, out, "building", "the binary is reused while the hook repository is unchanged")

	write("main.go", "package main\n\nimport \"net/http\"\n\nfunc main() { _, _ = http.Get(\"x\") }\n")
	out, code = run(repo, hookEnv, hook, "-transitive", "./...")
	assert.Equal(t, exitFindings, code, out)
	assert.Contains(t, out, `main.go:3:8: forbidden network import "net/http"`)

	// netlint's sources changed in the hook repository: rebuilt.
	f, err := os.OpenFile(filepath.Join(hookRepo, "cmd", "netlint", "main.go"), os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString("\n// changed\n")
	require.NoError(t, err)
	require.NoError(t, f.Close())
	out, code = run(repo, hookEnv, hook, "./...")
	assert.Equal(t, exitFindings, code, out)
	assert.Contains(t, out, "building netlint")
	assert.True(t, strings.Contains(out, "forbidden network import"), out)
}
