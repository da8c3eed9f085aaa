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
				if c.Err == "" {
					assert.NoError(t, err, "call %d", i)
				} else {
					assert.EqualError(t, err, c.Err, "call %d", i)
				}
			}
		})
	}
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
