//go:build linux

package hashcache

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"testing"
)

// A Statter answers exactly as os.Stat does, for every kind of name.
func TestStatterAgreesWithStat(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "sub")
	must(t, os.Mkdir(sub, 0o755))
	must(t, os.WriteFile(filepath.Join(sub, "file"), []byte("hello"), 0o640))
	must(t, os.Chmod(filepath.Join(sub, "file"), 0o640|fs.ModeSetgid))
	if runtime.GOOS != "windows" {
		must(t, os.Symlink("file", filepath.Join(sub, "link")))
		must(t, os.Symlink("../sub", filepath.Join(sub, "dirlink")))
		must(t, os.Symlink("nowhere", filepath.Join(sub, "dangling")))
		must(t, syscall.Mkfifo(filepath.Join(sub, "fifo"), 0o600))
	}
	names := []string{"sub/file", "sub/link", "sub/dirlink", "sub/dangling", "sub/fifo", "sub/missing", "sub", "missing/file", "sub/file/x"}
	var s Statter
	defer s.Close()
	for pass := range 2 { // the second pass reuses the directories opened
		for _, n := range names {
			path := filepath.Join(dir, filepath.FromSlash(n))
			wantID, wantFI, wantErr := Stat(path)
			gotID, gotFI, gotErr := s.Stat(path)
			if (wantErr == nil) != (gotErr == nil) || (wantErr != nil && (wantErr.Error() != gotErr.Error() || errors.Is(gotErr, fs.ErrNotExist) != errors.Is(wantErr, fs.ErrNotExist))) {
				t.Fatalf("pass %d %s: error %v, want %v", pass, n, gotErr, wantErr)
			}
			id, regular, err := s.StatID(path)
			if (err == nil) != (wantErr == nil) || (err != nil && err.Error() != wantErr.Error()) {
				t.Fatalf("pass %d %s: StatID error %v, want %v", pass, n, err, wantErr)
			}
			if wantErr != nil {
				continue
			}
			if id != wantID || regular != wantFI.Mode().IsRegular() {
				t.Fatalf("pass %d %s: StatID %v %v, want %v %v", pass, n, id, regular, wantID, wantFI.Mode().IsRegular())
			}
			if gotID != wantID || gotFI.Mode() != wantFI.Mode() || gotFI.Size() != wantFI.Size() || !gotFI.ModTime().Equal(wantFI.ModTime()) ||
				gotFI.IsDir() != wantFI.IsDir() || gotFI.Name() != wantFI.Name() {
				t.Fatalf("pass %d %s: got %v %v %v, want %v %v %v", pass, n, gotID, gotFI.Mode(), gotFI.Name(), wantID, wantFI.Mode(), wantFI.Name())
			}
		}
	}
	var nilStatter *Statter
	if _, _, err := nilStatter.Stat(filepath.Join(dir, "sub", "file")); err != nil {
		t.Fatal(err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// BenchmarkStatter compares stats of files in one directory by path and
// through a Statter (the fan-out decision pass).
func BenchmarkStatter(b *testing.B) {
	dir := filepath.Join(b.TempDir(), "data", "input")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	var paths []string
	for i := range 1000 {
		p := filepath.Join(dir, "f"+itoa(i)+".txt")
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			b.Fatal(err)
		}
		paths = append(paths, p)
	}
	b.Run("path", func(b *testing.B) {
		for b.Loop() {
			for _, p := range paths {
				if _, _, err := Stat(p); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("statter-id", func(b *testing.B) {
		var s Statter
		defer s.Close()
		for b.Loop() {
			for _, p := range paths {
				if _, _, err := s.StatID(p); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("statter", func(b *testing.B) {
		var s Statter
		defer s.Close()
		for b.Loop() {
			for _, p := range paths {
				if _, _, err := s.Stat(p); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}

func itoa(i int) string { return strconv.Itoa(i) }
