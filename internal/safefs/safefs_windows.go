package safefs

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Dir is a directory checked to be real (not a symlink or junction); on
// Windows the checks are made by path (Lstat before, SameFile after).
type Dir struct{ path string }

func lstatDir(path string) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return err
	}
	if fi.Mode()&(fs.ModeSymlink|fs.ModeIrregular) != 0 || !fi.IsDir() {
		return unsafePath(path, kind(fi.Mode()))
	}
	return nil
}

// OpenDir checks that path is a directory and not a symlink.
func OpenDir(path string) (*Dir, error) {
	if err := lstatDir(path); err != nil {
		return nil, err
	}
	return &Dir{path: path}, nil
}

// OpenBeneath checks root and then every component of rel beneath it.
func OpenBeneath(root, rel string, create bool) (*Dir, error) {
	r, err := OpenDir(root)
	if err != nil {
		return nil, err
	}
	return r.Sub(rel, create)
}

// Path is the directory's path.
func (d *Dir) Path() string { return d.path }

// Close releases nothing on Windows.
func (d *Dir) Close() error { return nil }

// Sub checks (creating when asked) every component of rel beneath d.
func (d *Dir) Sub(rel string, create bool) (*Dir, error) {
	comps, err := split(d.path, rel)
	if err != nil {
		return nil, err
	}
	path := d.path
	for _, c := range comps {
		path = filepath.Join(path, c)
		if create {
			if err := os.Mkdir(path, 0o755); err != nil && !os.IsExist(err) {
				return nil, err
			}
		}
		if err := lstatDir(path); err != nil {
			return nil, err
		}
	}
	return &Dir{path: path}, nil
}

// OpenFile opens the regular file rel beneath d (O_TRUNC refused).
func (d *Dir) OpenFile(rel string, flag int, perm fs.FileMode) (*os.File, error) {
	full := filepath.Join(d.path, filepath.FromSlash(rel))
	if flag&os.O_TRUNC != 0 {
		return nil, &fs.PathError{Op: "open", Path: full, Err: fs.ErrInvalid}
	}
	comps, err := split(d.path, rel)
	if err != nil {
		return nil, err
	}
	if len(comps) == 0 {
		return nil, unsafePath(full, "is a directory")
	}
	if _, err := d.Sub(strings.Join(comps[:len(comps)-1], "/"), false); err != nil {
		return nil, err
	}
	before, err := os.Lstat(full)
	if err == nil {
		if err := CheckRegular(full, before.Mode(), 0); err != nil {
			return nil, err
		}
	} else if flag&os.O_CREATE == 0 {
		return nil, err
	}
	f, err := os.OpenFile(full, flag, perm)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err == nil {
		err = CheckRegular(full, fi.Mode(), 0)
	}
	if err == nil && before != nil && !os.SameFile(before, fi) {
		err = unsafePath(full, "changed while being opened")
	}
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	return f, nil
}

// Stat returns the FileInfo of the regular file rel.
func (d *Dir) Stat(rel string) (fs.FileInfo, error) {
	f, err := d.OpenFile(rel, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.Stat()
}

// Files lists every regular file beneath d; anything else but a
// directory is an *UnsafeError.
func (d *Dir) Files() ([]string, error) { return d.FilesMax(0) }

// FilesMax is Files that gives up with an error wrapping ErrTooMany once
// more than max entries were seen; 0 means no limit.
func (d *Dir) FilesMax(max int) ([]string, error) {
	var out []string
	seen := 0
	err := filepath.WalkDir(d.path, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if path != d.path {
			if seen++; max > 0 && seen > max {
				return fmt.Errorf("%s: %w", d.path, ErrTooMany)
			}
		}
		switch {
		case e.IsDir() && e.Type()&fs.ModeSymlink == 0:
			return nil
		case e.Type().IsRegular():
			rel, _ := filepath.Rel(d.path, path)
			out = append(out, filepath.ToSlash(rel))
			return nil
		}
		return unsafePath(path, kind(e.Type()))
	})
	sort.Strings(out)
	return out, err
}

// Rename moves rel beneath d to toRel beneath to.
func (d *Dir) Rename(rel string, to *Dir, toRel string) error {
	if _, err := split(d.path, rel); err != nil {
		return err
	}
	dst, err := split(to.path, toRel)
	if err != nil {
		return err
	}
	if len(dst) > 1 {
		if _, err := to.Sub(strings.Join(dst[:len(dst)-1], "/"), true); err != nil {
			return err
		}
	}
	return os.Rename(filepath.Join(d.path, filepath.FromSlash(rel)), filepath.Join(to.path, filepath.FromSlash(toRel)))
}

// Own does nothing on Windows: the job object runs processors as the
// caller.
func Own(*os.File) error { return nil }

// Remove deletes the file rel beneath d (never a directory), its parent
// components checked first; a missing file is not an error.
func (d *Dir) Remove(rel string) error {
	comps, err := split(d.path, rel)
	if err != nil {
		return err
	}
	if len(comps) == 0 {
		return &fs.PathError{Op: "remove", Path: d.path, Err: fs.ErrInvalid}
	}
	parent, err := d.Sub(strings.Join(comps[:len(comps)-1], "/"), false)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	p := filepath.Join(parent.path, comps[len(comps)-1])
	if fi, err := os.Lstat(p); err == nil && fi.IsDir() {
		return &fs.PathError{Op: "remove", Path: p, Err: fs.ErrInvalid}
	}
	if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
		return err
	}
	return nil
}

// Links is fi's hard link count: 1 here (os.FileInfo does not carry it on
// Windows; staged files are opened with their link count checked).
func Links(fs.FileInfo) uint64 { return 1 }
