package execpath_test

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/guardrun/guardrun/internal/execpath"
	"github.com/guardrun/guardrun/internal/execpath/execpathtest"
)

func TestResolveShapes(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("execute bits and PATHEXT differ on Windows")
	}
	f := execpathtest.New(t)
	shared := execpath.NewResolver()
	for _, c := range f.Cases {
		t.Run(c.Name, func(t *testing.T) {
			for i, resolve := range []func(string, string) (execpath.Program, error){
				execpath.Resolve,
				shared.Resolve,
				shared.Resolve, // memoised answer
			} {
				p, err := resolve(f.Workspace, c.Argv0)
				assert.Equal(t, c.Path, p.Path, "Path (call %d)", i)
				assert.Equal(t, c.Real, p.Real, "Real (call %d)", i)
				assert.Equal(t, c.Interps, interps(p), "Interpreters (call %d)", i)
				if c.Err == "" {
					assert.NoError(t, err, "call %d", i)
				} else {
					assert.EqualError(t, err, c.Err, "call %d", i)
				}
			}
		})
	}
}

func interps(p execpath.Program) []string {
	var out []string
	for _, it := range p.Interpreters {
		out = append(out, it.Real)
	}
	return out
}

// TestResolveInterpreterDetails: each interpreter names the script whose
// "#!" line named it and the line itself (what the policy's message shows).
func TestResolveInterpreterDetails(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no #! on Windows")
	}
	f := execpathtest.New(t)
	j := filepath.Join
	p, err := execpath.Resolve(f.Workspace, "sb/chain")
	require.NoError(t, err)
	assert.Equal(t, []execpath.Interpreter{
		{Script: j(f.Workspace, "sb", "chain"), Line: j(f.Outside, "wrap"), Path: j(f.Outside, "wrap"), Real: filepath.ToSlash(j(f.Outside, "wrap"))},
		{Script: j(f.Outside, "wrap"), Line: j(f.Outside, "py"), Path: j(f.Outside, "py"), Real: filepath.ToSlash(j(f.Outside, "py"))},
	}, p.Interpreters)

	p, err = execpath.Resolve(f.Workspace, "sb/env-split")
	require.NoError(t, err)
	require.Len(t, p.Interpreters, 1)
	assert.Equal(t, j(f.Outside, "env")+" -S fakepy -u -v", p.Interpreters[0].Line)
	assert.Equal(t, j(f.Bin, "fakepy"), p.Interpreters[0].Path, "what runs, as found on PATH")
}

// TestResolveInUsesTheProgramsPATH: "#!/usr/bin/env NAME" looks NAME up on
// the PATH the program runs with (a stage's env may set one), not on
// guardrun's own; SearchPath says which.
func TestResolveInUsesTheProgramsPATH(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no #! on Windows")
	}
	f := execpathtest.New(t)
	alt := filepath.Join(f.Outside, "alt")
	r := execpath.NewResolver()
	for _, c := range []struct {
		path, want, err string
	}{
		{f.Bin, filepath.Join(f.Outside, "realpy2"), ""},
		{alt, filepath.Join(alt, "fakepy"), ""},
		{f.Outside + string(os.PathListSeparator) + alt, filepath.Join(alt, "fakepy"), ""},
		{"", "", "not found on PATH"},
		{"rel" + string(os.PathListSeparator) + alt, filepath.Join(alt, "fakepy"), ""}, // no match in the relative entry
	} {
		for _, p := range []func() (execpath.Program, error){
			func() (execpath.Program, error) { return execpath.ResolveIn(f.Workspace, "sb/env", c.path) },
			func() (execpath.Program, error) { return r.ResolveIn(f.Workspace, "sb/env", c.path) },
		} {
			prog, err := p()
			if c.err != "" {
				assert.ErrorContains(t, err, c.err, "PATH=%s", c.path)
				assert.Empty(t, prog.Interpreters, "PATH=%s", c.path)
				continue
			}
			require.NoError(t, err, "PATH=%s", c.path)
			assert.Equal(t, []string{filepath.ToSlash(c.want)}, interps(prog), "PATH=%s", c.path)
		}
	}
	assert.Equal(t, "/x", execpath.SearchPath(map[string]string{"PATH": "/x"}))
	assert.Equal(t, os.Getenv("PATH"), execpath.SearchPath(map[string]string{"LC_ALL": "C"}))
}

func TestResolveMissingWrapsNotExist(t *testing.T) {
	_, err := execpath.Resolve(t.TempDir(), "tools/missing.sh")
	assert.ErrorIs(t, err, os.ErrNotExist)
}

func TestResolveWithoutWorkspace(t *testing.T) {
	p, err := execpath.Resolve("", "tools/x.sh")
	assert.EqualError(t, err, `processor "tools/x.sh" not found in the workspace or PATH`)
	assert.Equal(t, execpath.Program{}, p)
}

func TestRealPath(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("symlinks need privileges on Windows")
	}
	ws, err := filepath.EvalSymlinks(t.TempDir())
	require.NoError(t, err)
	out, err := filepath.EvalSymlinks(t.TempDir())
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(ws, "a.txt"), nil, 0o644))
	require.NoError(t, os.Symlink(out, filepath.Join(ws, "out")))
	require.NoError(t, os.Symlink(filepath.Join(out, "later", "x"), filepath.Join(ws, "dangling")))
	require.NoError(t, os.Symlink("dangling", filepath.Join(ws, "chain")))

	r := execpath.NewResolver()
	for _, c := range []struct{ in, want string }{
		{filepath.Join(ws, "a.txt"), filepath.Join(ws, "a.txt")},
		{filepath.Join(ws, "out"), out},
		{filepath.Join(ws, "out", "missing.txt"), ""},
		{filepath.Join(ws, "dangling"), filepath.Join(out, "later", "x")},
		{filepath.Join(ws, "chain"), filepath.Join(out, "later", "x")},
		{filepath.Join(ws, "nothing.txt"), ""},
		{filepath.Join(ws, "no", "such", "dir"), ""},
	} {
		want := filepath.ToSlash(c.want)
		assert.Equal(t, want, execpath.RealPath(c.in), "RealPath(%s)", c.in)
		assert.Equal(t, want, r.Real(c.in), "Real(%s)", c.in)
		assert.Equal(t, want, r.Real(c.in), "Real(%s), memoised", c.in)
	}
}
