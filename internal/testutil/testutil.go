// Package testutil owns helpers shared by guardrun's tests: building the
// test processors and the guardrun binary once per test process, and
// creating throw-away workspaces, reading back what a run produced. It is
// imported only from _test.go files.
package testutil

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/guardrun/guardrun/internal/runstate"
)

// RepoRoot is the repository root (where go.mod is).
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

// Processors are the test processors built by Build.
var Processors = []string{"copy", "upper", "flaky", "slowcopy", "batchy"}

// Build compiles the test processors (and, with withGuardrun, nothing else)
// once per test process into a shared temp dir and returns it.
func Build(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "guardrun-testbin-")
		if buildErr != nil {
			return
		}
		args := []string{"build", "-trimpath", "-o", buildDir + string(os.PathSeparator)}
		for _, p := range Processors {
			args = append(args, "./processors/"+p)
		}
		cmd := exec.Command("go", args...)
		cmd.Dir = RepoRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("building test processors: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildDir
}

// Workspace creates a temp workspace holding bin/<processor> copies of the
// test processors and the given files (path -> content), and returns it.
func Workspace(t testing.TB, files map[string]string) string {
	t.Helper()
	bin := Build(t)
	dir := ReadableTempDir(t)
	for _, p := range Processors {
		CopyFile(t, filepath.Join(bin, exe(p)), filepath.Join(dir, "bin", exe(p)), 0o755)
	}
	for name, content := range files {
		WriteFile(t, filepath.Join(dir, filepath.FromSlash(name)), content)
	}
	return dir
}

// GoWorkspace creates a temp workspace that holds the repository's
// processors as Go source with a minimal go.mod, for `go` processor tests.
func GoWorkspace(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := Workspace(t, files)
	WriteFile(t, filepath.Join(dir, "go.mod"), "module github.com/guardrun/guardrun\n\ngo 1.26\n")
	root := RepoRoot()
	for _, p := range append([]string{"sdk"}, Processors...) {
		src := filepath.Join(root, "processors", p)
		ents, err := os.ReadDir(src)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			if e.IsDir() || !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
				continue
			}
			CopyFile(t, filepath.Join(src, e.Name()), filepath.Join(dir, "processors", p, e.Name()), 0o644)
		}
	}
	return dir
}

// ReadableTempDir is t.TempDir made readable and traversable by everyone
// (it and its parent are 0700 by default): processors run as an
// unprivileged uid of their own and must be able to read their
// workspace (docs/SANDBOX.md, "Who the processor is").
func ReadableTempDir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	if d, err := filepath.EvalSymlinks(dir); err == nil {
		dir = d
	}
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func exe(name string) string {
	if runtime.GOOS == "windows" {
		return name + ".exe"
	}
	return name
}

// WriteFile writes content, creating parent directories.
func WriteFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// CopyFile copies src to dst with mode.
func CopyFile(t testing.TB, src, dst string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, mode)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// Lines returns n deterministic text lines, for inputs.
func Lines(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "line %06d the quick brown fox jumps over the lazy dog %d\n", i, i*7919%1000)
	}
	return b.String()
}

// Products maps the regular files beneath dir's subdirs (missing ones
// are empty), guardrun's artifacts skipped, to their content, by their
// slash path relative to dir: what a run produced, to compare with a clean
// run's.
func Products(t testing.TB, dir string, subdirs ...string) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, d := range subdirs {
		root := filepath.Join(dir, filepath.FromSlash(d))
		err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
			if p == root && errors.Is(err, fs.ErrNotExist) {
				return fs.SkipAll // not made yet
			}
			if err != nil {
				return err
			}
			if runstate.IsArtifact(e.Name()) {
				if e.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			if e.Type().IsRegular() {
				b, err := os.ReadFile(p)
				if err != nil {
					return err
				}
				rel, _ := filepath.Rel(dir, p)
				m[filepath.ToSlash(rel)] = string(b)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("reading the products beneath %s: %v", root, err)
		}
	}
	return m
}
