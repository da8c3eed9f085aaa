//go:build unix

package safefs

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// hostile builds a staging dir holding every kind of file guardrun must
// refuse, each pointing at (or linked to) a victim file outside it.
func hostile(t *testing.T) (dir, victim string) {
	root := t.TempDir()
	victim = filepath.Join(root, "victim")
	require.NoError(t, os.WriteFile(victim, []byte("precious"), 0o644))
	dir = filepath.Join(root, "staging")
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "sub"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "ok.txt"), []byte("fine"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "sub", "ok.txt"), []byte("fine"), 0o644))
	require.NoError(t, os.Symlink(victim, filepath.Join(dir, "link")))
	require.NoError(t, os.Link(victim, filepath.Join(dir, "hard")))
	require.NoError(t, syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644))
	require.NoError(t, os.Symlink(root, filepath.Join(dir, "subdir")))
	return dir, victim
}

func testRefusals(t *testing.T) {
	dir, victim := hostile(t)
	d, err := OpenDir(dir)
	require.NoError(t, err)
	defer d.Close()
	for name, reason := range map[string]string{
		"link":          "is a symlink",
		"hard":          "has 2 hard links",
		"fifo":          "is a named pipe (FIFO)",
		"subdir/victim": "is a symlink",
		"../victim":     "leaves its directory",
	} {
		for _, flag := range []int{os.O_RDONLY, os.O_WRONLY, os.O_RDWR} {
			f, err := d.OpenFile(name, flag, 0)
			if !assert.Error(t, err, name) {
				_ = f.Close()
				continue
			}
			assert.True(t, errors.Is(err, ErrUnsafe), "%s: %v", name, err)
			assert.Contains(t, err.Error(), reason, name)
			assert.Contains(t, err.Error(), "refusing "+dir, name)
		}
	}
	f, err := d.OpenFile("sub/ok.txt", os.O_RDWR, 0)
	require.NoError(t, err)
	require.NoError(t, f.Truncate(1))
	_ = f.Close()
	_, err = d.Files()
	assert.ErrorIs(t, err, ErrUnsafe)
	_, err = d.Sub("subdir", false)
	assert.ErrorContains(t, err, "subdir: is a symlink")
	_, err = d.Stat("missing")
	assert.ErrorIs(t, err, os.ErrNotExist)
	b, err := os.ReadFile(victim)
	require.NoError(t, err)
	assert.Equal(t, "precious", string(b))

	// Only regular files and real directories: listed and renamed.
	for _, n := range []string{"link", "hard", "fifo", "subdir"} {
		require.NoError(t, os.Remove(filepath.Join(dir, n)))
	}
	files, err := d.Files()
	require.NoError(t, err)
	assert.Equal(t, []string{"ok.txt", "sub/ok.txt"}, files)
	out, err := OpenBeneath(filepath.Dir(dir), "out/a", true)
	require.NoError(t, err)
	defer out.Close()
	require.NoError(t, d.Rename("sub/ok.txt", out, "x/y.txt"))
	_, err = os.Stat(filepath.Join(filepath.Dir(dir), "out", "a", "x", "y.txt"))
	assert.NoError(t, err)
	// A planted symlinked directory on the destination side is refused.
	require.NoError(t, os.Symlink(filepath.Dir(dir), filepath.Join(out.Path(), "evil")))
	err = d.Rename("ok.txt", out, "evil/ok.txt")
	assert.ErrorContains(t, err, "evil: is a symlink")
}

func TestRefusesWhatAProcessorPlants(t *testing.T) { testRefusals(t) }

func TestRefusesWithoutOpenat2(t *testing.T) {
	old := noOpenatAvailable()
	defer restoreOpenat(old)
	testRefusals(t)
}

func TestOwnClearsDangerousBits(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	require.NoError(t, os.WriteFile(p, nil, 0o644))
	require.NoError(t, os.Chmod(p, 0o6777))
	f, err := os.Open(p)
	require.NoError(t, err)
	defer f.Close()
	require.NoError(t, Own(f))
	fi, err := os.Stat(p)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o755), fi.Mode())
}
