//go:build unix

package audit

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLoadKeyFD reads the key from an inherited descriptor, whatever the
// file's mode, and closes the descriptor so that nothing guardrun starts
// inherits it.
func TestLoadKeyFD(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "key")
	require.NoError(t, os.WriteFile(p, []byte(" fd-secret\n"), 0o644)) // mode not checked
	f, err := os.Open(p)
	require.NoError(t, err)
	fd := rawFD(t, f)
	k, err := LoadKeyFD(fd)
	require.NoError(t, err)
	assert.Equal(t, "fd-secret", string(k))
	var st syscall.Stat_t
	assert.Error(t, syscall.Fstat(fd, &st), "the descriptor is closed after reading")

	// A pipe works too.
	r, w, err := os.Pipe()
	require.NoError(t, err)
	_, err = w.WriteString("piped-key\n")
	require.NoError(t, err)
	require.NoError(t, w.Close())
	k, err = LoadKeyFD(rawFD(t, r))
	require.NoError(t, err)
	assert.Equal(t, "piped-key", string(k))

	// Refused with ErrKeyFile (exit 2): a descriptor that is not open, an
	// empty key, a directory.
	_, err = LoadKeyFD(987)
	assert.ErrorIs(t, err, ErrKeyFile)
	assert.ErrorContains(t, err, "audit key file fd 987: is not open")
	_, err = LoadKeyFD(-1)
	assert.ErrorIs(t, err, ErrKeyFile)
	r, w, err = os.Pipe()
	require.NoError(t, err)
	require.NoError(t, w.Close())
	_, err = LoadKeyFD(rawFD(t, r))
	assert.ErrorIs(t, err, ErrKeyFile)
	assert.ErrorContains(t, err, "is empty")
	d, err := os.Open(dir)
	require.NoError(t, err)
	_, err = LoadKeyFD(rawFD(t, d))
	assert.ErrorContains(t, err, "is a directory")
}

// rawFD hands over f's descriptor as a bare number, as a parent process
// would (LoadKeyFD closes it): a duplicate no *os.File owns, so that f's
// finalizer cannot close the number again once another file reuses it.
func rawFD(t *testing.T, f *os.File) int {
	t.Helper()
	fd, err := syscall.Dup(int(f.Fd()))
	require.NoError(t, err)
	require.NoError(t, f.Close())
	return fd
}
