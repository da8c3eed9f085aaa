package suite_test

import (
	"context"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/guardrun/guardrun/analyzers/suite"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func demoDir(t *testing.T) string {
	dir, err := filepath.Abs(filepath.Join("testdata", "demo"))
	require.NoError(t, err)
	return dir
}

func render(fs []suite.Finding) string {
	var b strings.Builder
	for _, f := range fs {
		b.WriteString(f.String())
		b.WriteByte('\n')
	}
	return b.String()
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test -update to create the golden file")
	assert.Equal(t, string(want), got)
}

func TestRunGolden(t *testing.T) {
	tests := []struct {
		name string
		opts suite.Options
	}{
		{"direct.txt", suite.Options{Patterns: []string{"./..."}, Tests: true}},
		{"transitive.txt", suite.Options{Patterns: []string{"./..."}, Tests: true, Transitive: true}},
		{"windows.txt", suite.Options{Patterns: []string{"./..."}, Transitive: true, Env: []string{"GOOS=windows", "GOARCH=amd64"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Dir = demoDir(t)
			fs, err := suite.Run(context.Background(), tt.opts)
			require.NoError(t, err)
			golden(t, tt.name, render(fs))
		})
	}
}

func TestVetPackage(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(demoDir(t), "cmd", "proc")

	fs, err := suite.VetPackage(ctx, dir, false)
	require.NoError(t, err)
	assert.Empty(t, fs, "proc imports no forbidden package directly")

	fs, err = suite.VetPackage(ctx, dir, true)
	require.NoError(t, err)
	require.Len(t, fs, 1)
	assert.Equal(t, "main.go:4:8", fs[0].Pos)
	assert.Equal(t, "nettransitive", fs[0].Analyzer)
	assert.Contains(t, fs[0].Message, "example.com/demo/cmd/proc -> example.com/demo/app -> example.com/demo/chain/b -> example.com/demo/chain/c -> example.com/demo/chain/d -> net/http")

	fs, err = suite.VetPackage(ctx, filepath.Join(demoDir(t), "cmd", "cleanproc"), true)
	require.NoError(t, err)
	assert.Empty(t, fs)
}

func TestVetPackageErrors(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/broken\n\ngo 1.22\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n\nfunc main() { undefined() }\n"), 0o644))
	_, err := suite.VetPackage(ctx, dir, true)
	var e *suite.Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, "load", e.Op)
	assert.Contains(t, err.Error(), "undefined")

	require.NoError(t, os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n\nfunc main() {}\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, suite.ConfigName), []byte(`{"exceptions": [{"package": "x", "import": "net"}]}`), 0o644))
	_, err = suite.VetPackage(ctx, dir, false)
	require.ErrorAs(t, err, &e)
	assert.Equal(t, "config", e.Op)
	assert.Contains(t, err.Error(), "reason is required")
}

func TestVetPackageCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := suite.VetPackage(ctx, filepath.Join(demoDir(t), "cmd", "proc"), true)
	require.Error(t, err)
}

// TestTimings records how long each phase takes on the demo module; the
// numbers of this repository's processors are measured by
// BenchmarkVetPackage.
func TestTimings(t *testing.T) {
	phases := map[string]time.Duration{}
	_, err := suite.Run(context.Background(), suite.Options{Dir: demoDir(t), Patterns: []string{"./..."}, Transitive: true,
		Timings: func(p string, d time.Duration) { phases[p] = d }})
	require.NoError(t, err)
	for _, p := range []string{"load", "graph", "analyze"} {
		assert.Contains(t, phases, p)
	}
}

// TestVetPackageConcurrent runs calls with different modules at once: each
// call binds its own policy, so the demo's exceptions must not leak into a
// module without a config.
func TestVetPackageConcurrent(t *testing.T) {
	plain := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(plain, "go.mod"), []byte("module example.com/plain\n\ngo 1.22\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(plain, "main.go"), []byte("package main\n\nimport \"net/smtp\"\n\nvar _ = smtp.SendMail\n\nfunc main() {}\n"), 0o644))
	excepted := filepath.Join(demoDir(t), "excepted")

	type res struct {
		fs  []suite.Finding
		err error
	}
	results := make([]res, 6)
	done := make(chan struct{})
	for i := range results {
		go func() {
			defer func() { done <- struct{}{} }()
			dir := plain
			if i%2 == 1 {
				dir = excepted
			}
			fs, err := suite.VetPackage(context.Background(), dir, i%3 == 0)
			results[i] = res{fs, err}
		}()
	}
	for range results {
		<-done
	}
	for i, r := range results {
		require.NoError(t, r.err)
		if i%2 == 1 {
			assert.Empty(t, r.fs, "the demo's .netlint.json excepts net/smtp and git")
		} else {
			require.Len(t, r.fs, 1)
			assert.Equal(t, "main.go:3:8", r.fs[0].Pos)
		}
	}
}

func TestConfigPath(t *testing.T) {
	assert.Equal(t, filepath.Join(demoDir(t), suite.ConfigName), suite.ConfigPath(filepath.Join(demoDir(t), "cmd", "proc")))
	assert.Empty(t, suite.ConfigPath(t.TempDir()))
}

// TestBrokenPackage: a package that does not compile is an error, but the
// findings of the packages that do are still returned.
func TestBrokenPackage(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644))
	}
	write("go.mod", "module example.com/broken\n\ngo 1.22\n")
	write("bad/bad.go", "package bad\n\nfunc F() { undefined() }\n")
	write("good/good.go", "package good\n\nimport \"os/exec\"\n\nvar C = exec.Command(\"curl\")\n")
	fs, err := suite.Run(context.Background(), suite.Options{Dir: dir, Patterns: []string{"./..."}})
	var e *suite.Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, "load", e.Op)
	assert.Contains(t, e.Error(), "undefined")
	require.Len(t, fs, 1)
	assert.Equal(t, "good/good.go:5:9", fs[0].Pos)
	assert.Contains(t, fs[0].Message, `runs network tool "curl"`)
}

// TestUnresolvedWarn: Run returns unresolved programs as warnings under
// "unresolved": "warn"; VetPackage, whose findings fail a guardrun run,
// leaves them out.
func TestUnresolvedWarn(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644))
	}
	write("go.mod", "module example.com/warn\n\ngo 1.22\n")
	write(".netlint.json", `{"unresolved": "warn"}`)
	write("main.go", "package main\n\nimport (\n\t\"os\"\n\t\"os/exec\"\n)\n\nfunc main() { _ = exec.Command(os.Getenv(\"TOOL\")).Run() }\n")
	fs, err := suite.Run(context.Background(), suite.Options{Dir: dir})
	require.NoError(t, err)
	require.Len(t, fs, 1)
	assert.True(t, fs[0].IsWarning())
	assert.Equal(t, "main.go:8:19: warning: unresolved command: runs a program netlint cannot resolve (\"…\"); use a constant, or allow it with //netlint:allow <reason> (netexec)", fs[0].String())
	fs, err = suite.VetPackage(context.Background(), dir, true)
	require.NoError(t, err)
	assert.Empty(t, fs)
}

// TestNoCompileOfLintedPackages: the linted packages are read from source
// and never compiled ("go list -export" is asked only for the standard
// library and versioned modules), so an edit costs no recompile of the
// module, and code that type-checks but would not compile still lints: a
// body-less function is a compile error, not a type error.
func TestNoCompileOfLintedPackages(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/nocompile\n\ngo 1.22\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a.go"), []byte("package a\n\nimport \"os/exec\"\n\nfunc stub() int\n\nvar C = exec.Command(\"curl\")\n"), 0o644))
	out, err := exec.Command("go", "build", "-C", dir, ".").CombinedOutput()
	require.Error(t, err, "the package must not compile")
	assert.Contains(t, string(out), "missing function body")
	fs, err := suite.Run(context.Background(), suite.Options{Dir: dir, Transitive: true})
	require.NoError(t, err)
	assert.Equal(t, "a.go:7:9: runs network tool \"curl\" (netexec)\n", render(fs))
}
