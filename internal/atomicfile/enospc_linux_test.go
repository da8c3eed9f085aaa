package atomicfile_test

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/guardrun/guardrun/internal/atomicfile"
)

// TestWriteFileFullDisk writes more than a tiny tmpfs can hold: the error is
// ENOSPC, not transient, the old target is intact and no temp file remains.
func TestWriteFileFullDisk(t *testing.T) {
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=64k"); err != nil {
		t.Skipf("cannot mount a small tmpfs (needs root): %v", err)
	}
	t.Cleanup(func() { _ = unix.Unmount(dir, unix.MNT_DETACH) })

	path := filepath.Join(dir, "state.json")
	require.NoError(t, atomicfile.WriteFile(path, []byte("old\n"), 0o644))

	err := atomicfile.WriteFile(path, make([]byte, 1<<20), 0o644)
	require.Error(t, err)
	assert.ErrorIs(t, err, syscall.ENOSPC)
	assert.False(t, atomicfile.IsTransient(err))

	got, rerr := os.ReadFile(path)
	require.NoError(t, rerr)
	assert.Equal(t, "old\n", string(got))
	assert.Equal(t, []string{"state.json"}, listDir(t, dir))

	// The space of the failed temp file was given back: a small write works.
	require.NoError(t, atomicfile.WriteFile(path, []byte("new\n"), 0o644))
}

// TestWriteFileReadOnlyFS writes into a read-only mount, which refuses even
// root (a chmod 0555 directory does not): the error is EROFS, the old target
// is intact and no temp file exists.
func TestWriteFileReadOnlyFS(t *testing.T) {
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=64k"); err != nil {
		t.Skipf("cannot mount a small tmpfs (needs root): %v", err)
	}
	t.Cleanup(func() { _ = unix.Unmount(dir, unix.MNT_DETACH) })
	path := filepath.Join(dir, "state.json")
	require.NoError(t, atomicfile.WriteFile(path, []byte("old\n"), 0o644))
	require.NoError(t, unix.Mount("", dir, "", unix.MS_REMOUNT|unix.MS_RDONLY, ""))

	err := atomicfile.WriteFile(path, []byte("new\n"), 0o644)
	require.Error(t, err)
	assert.ErrorIs(t, err, syscall.EROFS)
	assert.False(t, atomicfile.IsTransient(err))
	got, rerr := os.ReadFile(path)
	require.NoError(t, rerr)
	assert.Equal(t, "old\n", string(got))
	assert.Equal(t, []string{"state.json"}, listDir(t, dir))
}
