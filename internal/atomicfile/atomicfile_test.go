package atomicfile_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/guardrun/guardrun/internal/atomicfile"
)

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "1" {
		crashHelperMain()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// listDir returns the names in dir, sorted.
func listDir(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	names := make([]string, 0, len(ents))
	for _, e := range ents {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

// requireNoTemps fails when dir holds any temporary file of the package.
func requireNoTemps(t *testing.T, dir string) {
	t.Helper()
	for _, n := range listDir(t, dir) {
		require.False(t, atomicfile.IsTemp(n), "leftover temp file %s in %v", n, listDir(t, dir))
	}
}

func TestWriteFileCreatesAndReplaces(t *testing.T) {
	tests := []struct {
		name     string
		existing []byte // nil: target does not exist yet
		data     []byte
		perm     os.FileMode
	}{
		{name: "create", data: []byte("hello\n"), perm: 0o644},
		{name: "create empty", data: []byte{}, perm: 0o600},
		{name: "create executable", data: []byte("#!/bin/sh\n"), perm: 0o755},
		{name: "replace longer with shorter", existing: []byte("a much longer old content\n"), data: []byte("new\n"), perm: 0o640},
		{name: "replace shorter with longer", existing: []byte("x"), data: make([]byte, 3<<20), perm: 0o644},
		{name: "replace applies new perm", existing: []byte("old"), data: []byte("new"), perm: 0o600},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "state.json")
			if tc.existing != nil {
				require.NoError(t, os.WriteFile(path, tc.existing, 0o666))
			}
			require.NoError(t, atomicfile.WriteFile(path, tc.data, tc.perm))

			got, err := os.ReadFile(path)
			require.NoError(t, err)
			assert.Equal(t, tc.data, got)
			fi, err := os.Stat(path)
			require.NoError(t, err)
			// The mode is set with fchmod, so the umask does not apply.
			assert.Equal(t, tc.perm, fi.Mode().Perm())
			assert.True(t, fi.Mode().IsRegular())
			assert.Equal(t, []string{"state.json"}, listDir(t, dir), "only the target remains")
		})
	}
}

func TestWriteFileReplacesByRename(t *testing.T) {
	// A reader holding the old file open keeps seeing the old complete
	// content: the target is replaced, never rewritten in place.
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	require.NoError(t, os.WriteFile(path, []byte("old content"), 0o644))
	old, err := os.Open(path)
	require.NoError(t, err)
	defer old.Close()

	require.NoError(t, atomicfile.WriteFile(path, []byte("new"), 0o644))

	b := make([]byte, 64)
	n, err := old.ReadAt(b, 0)
	require.Error(t, err) // io.EOF: short read of the whole old file
	assert.Equal(t, "old content", string(b[:n]))
	oldFi, err := old.Stat()
	require.NoError(t, err)
	newFi, err := os.Stat(path)
	require.NoError(t, err)
	assert.False(t, os.SameFile(oldFi, newFi), "target must be a new inode")
}

func TestWriteFileRelativePath(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	require.NoError(t, atomicfile.WriteFile("rel.txt", []byte("x"), 0o644))
	got, err := os.ReadFile(filepath.Join(dir, "rel.txt"))
	require.NoError(t, err)
	assert.Equal(t, "x", string(got))
	requireNoTemps(t, dir)
}

func TestWriteFileFailureLeavesNoTemp(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string) string // returns the target path
		check func(t *testing.T, err error)
	}{
		{
			name: "directory at target path",
			setup: func(t *testing.T, dir string) string {
				p := filepath.Join(dir, "target")
				require.NoError(t, os.Mkdir(p, 0o755))
				require.NoError(t, os.WriteFile(filepath.Join(p, "inside"), []byte("keep"), 0o644))
				return p
			},
			check: func(t *testing.T, err error) {
				assert.ErrorContains(t, err, "renaming into")
			},
		},
		{
			name: "empty directory at target path",
			setup: func(t *testing.T, dir string) string {
				p := filepath.Join(dir, "target")
				require.NoError(t, os.Mkdir(p, 0o755))
				return p
			},
			check: func(t *testing.T, err error) {
				assert.ErrorContains(t, err, "renaming into")
			},
		},
		{
			name: "missing parent directory",
			setup: func(t *testing.T, dir string) string {
				return filepath.Join(dir, "nope", "target")
			},
			check: func(t *testing.T, err error) {
				assert.ErrorIs(t, err, fs.ErrNotExist)
				assert.ErrorContains(t, err, "creating temp file")
			},
		},
		{
			name: "read-only target directory",
			setup: func(t *testing.T, dir string) string {
				ro := filepath.Join(dir, "ro")
				require.NoError(t, os.Mkdir(ro, 0o555))
				t.Cleanup(func() { _ = os.Chmod(ro, 0o755) })
				if f, err := os.Create(filepath.Join(ro, "probe")); err == nil {
					f.Close()
					_ = os.Remove(filepath.Join(ro, "probe"))
					t.Skip("running with CAP_DAC_OVERRIDE (root): a read-only directory is still writable")
				}
				return filepath.Join(ro, "target")
			},
			check: func(t *testing.T, err error) {
				assert.ErrorIs(t, err, fs.ErrPermission)
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := tc.setup(t, dir)
			var before []string
			if _, err := os.Stat(filepath.Dir(path)); err == nil {
				before = listDir(t, filepath.Dir(path))
			}

			err := atomicfile.WriteFile(path, []byte(`{"a":1}`), 0o644)
			require.Error(t, err)
			tc.check(t, err)
			assert.False(t, atomicfile.IsTransient(err), "a real failure is not transient: %v", err)

			if before != nil {
				assert.Equal(t, before, listDir(t, filepath.Dir(path)), "directory content unchanged")
				requireNoTemps(t, filepath.Dir(path))
			}
			requireNoTemps(t, dir)
		})
	}
}

func TestWriteJSON(t *testing.T) {
	type doc struct {
		Name  string         `json:"name"`
		N     int            `json:"n"`
		Items []string       `json:"items"`
		Meta  map[string]int `json:"meta"`
	}
	tests := []struct {
		name string
		v    any
	}{
		{name: "struct", v: doc{Name: "x", N: 3, Items: []string{"a", "b"}, Meta: map[string]int{"k": 1}}},
		{name: "empty object", v: map[string]any{}},
		{name: "string", v: "line\nbreak"},
		{name: "null", v: nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "v.json")
			require.NoError(t, atomicfile.WriteJSON(path, tc.v))
			b, err := os.ReadFile(path)
			require.NoError(t, err)
			require.NotEmpty(t, b)
			assert.Equal(t, byte('\n'), b[len(b)-1], "ends with a newline")
			assert.NotEqual(t, byte('\n'), b[len(b)-2], "exactly one trailing newline")
			assert.True(t, json.Valid(b))
			want, err := json.Marshal(tc.v)
			require.NoError(t, err)
			assert.JSONEq(t, string(want), string(b))
			fi, err := os.Stat(path)
			require.NoError(t, err)
			assert.Equal(t, os.FileMode(0o644), fi.Mode().Perm())
			requireNoTemps(t, dir)
		})
	}
}

func TestWriteJSONEncodingError(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "v.json")
	require.NoError(t, os.WriteFile(path, []byte("{}\n"), 0o644))
	err := atomicfile.WriteJSON(path, map[string]any{"f": func() {}})
	require.Error(t, err)
	assert.ErrorContains(t, err, "encoding v.json")
	var ute *json.UnsupportedTypeError
	assert.ErrorAs(t, err, &ute)
	got, rerr := os.ReadFile(path)
	require.NoError(t, rerr)
	assert.Equal(t, "{}\n", string(got), "target untouched")
	assert.Equal(t, []string{"v.json"}, listDir(t, dir))
}

func TestSweep(t *testing.T) {
	dir := t.TempDir()
	keep := []string{
		"state.json",
		"x.grtmp",             // no leading dot: not ours
		".hidden",             // dot file without the suffix
		".state.json.grtmp.x", // suffix not at the end
		"state.json.tmp",
	}
	temps := []string{
		".state.json.123456" + atomicfile.TempSuffix,
		".hashcache.json.9" + atomicfile.TempSuffix,
	}
	for _, n := range append(append([]string{}, keep...), temps...) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, n), []byte("x"), 0o644))
	}
	// A temp-named directory (e.g. a staging leftover) is removed too.
	tempDir := ".stage.1" + atomicfile.TempSuffix
	require.NoError(t, os.MkdirAll(filepath.Join(dir, tempDir, "sub"), 0o755))
	temps = append(temps, tempDir)
	// Sweep is not recursive.
	sub := filepath.Join(dir, "sub")
	require.NoError(t, os.Mkdir(sub, 0o755))
	nested := ".nested.1" + atomicfile.TempSuffix
	require.NoError(t, os.WriteFile(filepath.Join(sub, nested), []byte("x"), 0o644))

	removed, err := atomicfile.Sweep(dir)
	require.NoError(t, err)
	var want []string
	for _, n := range temps {
		want = append(want, filepath.Join(dir, n))
	}
	assert.ElementsMatch(t, want, removed)

	wantLeft := append(append([]string{}, keep...), "sub")
	sort.Strings(wantLeft)
	assert.Equal(t, wantLeft, listDir(t, dir))
	assert.Equal(t, []string{nested}, listDir(t, sub))

	removed, err = atomicfile.Sweep(dir)
	require.NoError(t, err)
	assert.Empty(t, removed, "second sweep finds nothing")
}

func TestSweepMissingDir(t *testing.T) {
	removed, err := atomicfile.Sweep(filepath.Join(t.TempDir(), "missing"))
	require.NoError(t, err)
	assert.Empty(t, removed)
}

func TestSweepNotADir(t *testing.T) {
	f := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(f, nil, 0o644))
	_, err := atomicfile.Sweep(f)
	require.Error(t, err)
	assert.ErrorContains(t, err, "sweeping")
}

func TestIsTemp(t *testing.T) {
	tests := []struct {
		name string
		want bool
	}{
		{".a.123" + atomicfile.TempSuffix, true},
		{".a" + atomicfile.TempSuffix, true},
		{"a" + atomicfile.TempSuffix, false},
		{".a.grtmp.bak", false},
		{".a", false},
		{"", false},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, atomicfile.IsTemp(tc.name), tc.name)
	}
}

func TestIsTransient(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"bare EINTR", syscall.EINTR, true},
		{"bare EAGAIN", syscall.EAGAIN, true},
		{"EINTR in PathError", &fs.PathError{Op: "write", Path: "/x", Err: syscall.EINTR}, true},
		{"EAGAIN wrapped twice", fmt.Errorf("writing x: %w", &os.SyscallError{Syscall: "write", Err: syscall.EAGAIN}), true},
		{"EWOULDBLOCK", fmt.Errorf("a: %w", syscall.EWOULDBLOCK), true},
		{"ENOSPC", syscall.ENOSPC, false},
		{"ENOSPC wrapped", fmt.Errorf("writing x: %w", &fs.PathError{Op: "write", Path: "/x", Err: syscall.ENOSPC}), false},
		{"EIO", syscall.EIO, false},
		{"not exist", fs.ErrNotExist, false},
		{"plain error", errors.New("EINTR"), false},
		{"EINTR formatted without wrapping", fmt.Errorf("writing: %v", syscall.EINTR), false},
		{"nil", nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, atomicfile.IsTransient(tc.err))
		})
	}
}

func TestSyncDir(t *testing.T) {
	require.NoError(t, atomicfile.SyncDir(t.TempDir()))
	err := atomicfile.SyncDir(filepath.Join(t.TempDir(), "missing"))
	require.Error(t, err)
	assert.ErrorIs(t, err, fs.ErrNotExist)
}
