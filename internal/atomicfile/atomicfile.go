package atomicfile

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

// TempSuffix ends the name of every temporary file this package creates.
const TempSuffix = ".grtmp"

// transientAttempts bounds retries of EINTR/EAGAIN-style failures.
const transientAttempts = 5

// WriteFile atomically replaces path with data.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	return WriteFunc(path, perm, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// WriteFunc atomically replaces path with what write writes, streamed to
// the temp file (a large file need not be held in memory whole). write
// may be called again after a transient failure and must then write the
// same bytes.
func WriteFunc(path string, perm os.FileMode, write func(w io.Writer) error) error {
	var err error
	for i := 0; i < transientAttempts; i++ {
		if err = writeOnce(path, write, perm); err == nil || !IsTransient(err) {
			return err
		}
		time.Sleep(time.Duration(i+1) * 5 * time.Millisecond)
	}
	return err
}

// WriteJSON atomically replaces path with the indented JSON encoding of v,
// followed by a newline.
func WriteJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding %s: %w", filepath.Base(path), err)
	}
	return WriteFile(path, append(b, '\n'), 0o644)
}

func writeOnce(path string, write func(w io.Writer) error, perm os.FileMode) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".*"+TempSuffix)
	if err != nil {
		return fmt.Errorf("creating temp file for %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	if err = write(f); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err = f.Chmod(perm); err != nil {
		return fmt.Errorf("setting mode of %s: %w", path, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("closing %s: %w", path, err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("renaming into %s: %w", path, err)
	}
	return SyncDir(dir)
}

// SyncDir fsyncs a directory so that a rename inside it is durable. It is a
// no-op where directories cannot be synced (Windows).
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("opening dir %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !ignorableSyncErr(err) {
		return fmt.Errorf("syncing dir %s: %w", dir, err)
	}
	return nil
}

// Sweep removes leftover temporary files of this package in dir (not
// recursive) and returns their names.
func Sweep(dir string) ([]string, error) {
	d, err := os.Open(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("sweeping %s: %w", dir, err)
	}
	// Names only: an output dir of a fan-out stage holds thousands of
	// files, and this runs at every start.
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return nil, fmt.Errorf("sweeping %s: %w", dir, err)
	}
	var removed []string
	for _, name := range names {
		if IsTemp(name) {
			p := filepath.Join(dir, name)
			if err := os.RemoveAll(p); err != nil {
				return removed, fmt.Errorf("sweeping %s: %w", p, err)
			}
			removed = append(removed, p)
		}
	}
	sort.Strings(removed)
	return removed, nil
}

// IsTemp reports whether name is a temporary file of this package.
func IsTemp(name string) bool {
	return strings.HasPrefix(name, ".") && strings.HasSuffix(name, TempSuffix)
}

// IsTransient reports whether err is worth retrying (interrupted or would
// block), as opposed to a real failure such as a full disk.
func IsTransient(err error) bool {
	return errors.Is(err, syscall.EINTR) || errors.Is(err, syscall.EAGAIN)
}
