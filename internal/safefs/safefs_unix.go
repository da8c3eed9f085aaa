//go:build unix

package safefs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Dir is an open directory: every path given to its methods is resolved
// beneath it, without following symlinks. Close it when done.
type Dir struct {
	path string // for messages and *os.File names
	fd   int
}

const dirFlags = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC

// OpenDir opens the directory at path, refusing a symlink as its last
// component (the components before it are the caller's to trust).
func OpenDir(path string) (*Dir, error) {
	fd, err := unix.Open(path, dirFlags, 0)
	if err != nil {
		return nil, describe(unix.AT_FDCWD, path, path, "open", err)
	}
	return &Dir{path: path, fd: fd}, nil
}

// OpenBeneath opens root (trusted) and then rel beneath it, every
// component of rel a real directory (created with mode 0755 when create
// is set and missing).
func OpenBeneath(root, rel string, create bool) (*Dir, error) {
	r, err := OpenDir(root)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return r.Sub(rel, create)
}

// Path is the directory's path as opened.
func (d *Dir) Path() string { return d.path }

// Close closes the directory.
func (d *Dir) Close() error {
	if d == nil || d.fd < 0 {
		return nil
	}
	err := unix.Close(d.fd)
	d.fd = -1
	return err
}

// Sub opens the directory rel beneath d, refusing symlinks and non
// directories at every component; create makes missing ones (0755).
func (d *Dir) Sub(rel string, create bool) (*Dir, error) {
	comps, err := split(d.path, rel)
	if err != nil {
		return nil, err
	}
	fd, err := unix.Dup(d.fd)
	if err != nil {
		return nil, &fs.PathError{Op: "dup", Path: d.path, Err: err}
	}
	unix.CloseOnExec(fd)
	path := d.path
	for _, c := range comps {
		if create {
			if err := unix.Mkdirat(fd, c, 0o755); err != nil && err != unix.EEXIST {
				_ = unix.Close(fd)
				return nil, &fs.PathError{Op: "mkdir", Path: filepath.Join(path, c), Err: err}
			}
		}
		nfd, err := unix.Openat(fd, c, dirFlags, 0)
		if err != nil {
			err = describe(fd, c, filepath.Join(path, c), "open", err)
		}
		_ = unix.Close(fd)
		if err != nil {
			return nil, err
		}
		fd, path = nfd, filepath.Join(path, c)
	}
	return &Dir{path: path, fd: fd}, nil
}

// describe turns the error of opening name in dirfd into an *UnsafeError
// when name is something guardrun refuses (a symlink, a FIFO, ...).
func describe(dirfd int, name, full, op string, err error) error {
	var st unix.Stat_t
	if serr := unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); serr == nil {
		if m := modeOf(uint32(st.Mode)); m.Type() != 0 && !m.IsDir() {
			return unsafePath(full, kind(m))
		}
		if err == unix.ENOTDIR {
			return unsafePath(full, "is not a directory")
		}
	}
	return &fs.PathError{Op: op, Path: full, Err: err}
}

func modeOf(m uint32) fs.FileMode {
	perm := fs.FileMode(m & 0o777)
	switch m & unix.S_IFMT {
	case unix.S_IFDIR:
		return perm | fs.ModeDir
	case unix.S_IFLNK:
		return perm | fs.ModeSymlink
	case unix.S_IFIFO:
		return perm | fs.ModeNamedPipe
	case unix.S_IFSOCK:
		return perm | fs.ModeSocket
	case unix.S_IFCHR:
		return perm | fs.ModeDevice | fs.ModeCharDevice
	case unix.S_IFBLK:
		return perm | fs.ModeDevice
	case unix.S_IFREG:
		return perm
	}
	return perm | fs.ModeIrregular
}

// fileFlags are added to every file open: never follow a final symlink,
// never block on a FIFO, never acquire a controlling terminal.
const fileFlags = unix.O_NOFOLLOW | unix.O_CLOEXEC | unix.O_NONBLOCK | unix.O_NOCTTY

// OpenFile opens the regular, single-link file rel beneath d (flag as for
// os.OpenFile; O_TRUNC is refused: truncate with File.Truncate once the
// file is known to be safe). Anything else is an *UnsafeError naming it.
func (d *Dir) OpenFile(rel string, flag int, perm fs.FileMode) (*os.File, error) {
	full := filepath.Join(d.path, filepath.FromSlash(rel))
	if flag&os.O_TRUNC != 0 {
		return nil, &fs.PathError{Op: "open", Path: full, Err: errors.New("safefs: O_TRUNC is not supported")}
	}
	comps, err := split(d.path, rel)
	if err != nil {
		return nil, err
	}
	if len(comps) == 0 {
		return nil, unsafePath(full, "is a directory")
	}
	fd, err := openat2(d.fd, strings.Join(comps, "/"), flag|fileFlags, uint32(perm.Perm()))
	if err == errNoOpenat2 || err == unix.ELOOP || err == unix.EXDEV {
		// Not available, or refused: walk it component by component, which
		// also names what was refused.
		fd, err = d.openWalk(comps, full, flag, perm)
	} else if err != nil {
		err = d.describeLast(comps, full, err)
	}
	if err != nil {
		return nil, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		_ = unix.Close(fd)
		return nil, &fs.PathError{Op: "fstat", Path: full, Err: err}
	}
	if err := CheckRegular(full, modeOf(uint32(st.Mode)), uint64(st.Nlink)); err != nil {
		_ = unix.Close(fd)
		return nil, err
	}
	return os.NewFile(uintptr(fd), full), nil
}

func (d *Dir) openWalk(comps []string, full string, flag int, perm fs.FileMode) (int, error) {
	parent := d
	if len(comps) > 1 {
		p, err := d.Sub(strings.Join(comps[:len(comps)-1], "/"), false)
		if err != nil {
			return -1, err
		}
		defer p.Close()
		parent = p
	}
	base := comps[len(comps)-1]
	fd, err := unix.Openat(parent.fd, base, flag|fileFlags, uint32(perm.Perm()))
	if err != nil {
		return -1, describe(parent.fd, base, full, "open", err)
	}
	return fd, nil
}

// describeLast names what an openat2 error was about.
func (d *Dir) describeLast(comps []string, full string, err error) error {
	if len(comps) > 1 {
		p, serr := d.Sub(strings.Join(comps[:len(comps)-1], "/"), false)
		if serr != nil {
			return serr
		}
		defer p.Close()
		return describe(p.fd, comps[len(comps)-1], full, "open", err)
	}
	return describe(d.fd, comps[0], full, "open", err)
}

// Stat returns the FileInfo of the regular, single-link file rel.
func (d *Dir) Stat(rel string) (fs.FileInfo, error) {
	f, err := d.OpenFile(rel, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.Stat()
}

// Files lists every regular file beneath d (slash paths relative to d,
// sorted). A symlink, FIFO, socket or device anywhere beneath d is an
// *UnsafeError naming it.
func (d *Dir) Files() ([]string, error) { return d.FilesMax(0) }

// FilesMax is Files that gives up with an error wrapping ErrTooMany once
// more than max entries (files and directories) were seen; max 0 means no
// limit. Directories are read in chunks, so a directory of millions of
// entries costs no more than the limit.
func (d *Dir) FilesMax(max int) ([]string, error) {
	var out []string
	budget := max
	if max <= 0 {
		budget = -1
	}
	if err := d.files("", &out, &budget); err != nil {
		return nil, err
	}
	sort.Strings(out)
	return out, nil
}

func (d *Dir) files(prefix string, out *[]string, budget *int) error {
	fd, err := unix.Dup(d.fd)
	if err != nil {
		return &fs.PathError{Op: "dup", Path: d.path, Err: err}
	}
	f := os.NewFile(uintptr(fd), d.path)
	defer f.Close()
	// The duplicate shares the offset: rewind to list from the start.
	if _, err := f.Seek(0, 0); err != nil {
		return err
	}
	for {
		ents, err := f.ReadDir(1024)
		for _, e := range ents {
			if *budget >= 0 {
				if *budget == 0 {
					return fmt.Errorf("%s: %w", d.path, ErrTooMany)
				}
				*budget--
			}
			if err := d.entry(e.Name(), prefix, out, budget); err != nil {
				return err
			}
		}
		if err == io.EOF || (err == nil && len(ents) == 0) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func (d *Dir) entry(name, prefix string, out *[]string, budget *int) error {
	full := filepath.Join(d.path, name)
	var st unix.Stat_t
	if err := unix.Fstatat(d.fd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return &fs.PathError{Op: "lstat", Path: full, Err: err}
	}
	m := modeOf(uint32(st.Mode))
	switch {
	case m.IsDir():
		sub, err := d.Sub(name, false)
		if err != nil {
			return err
		}
		err = sub.files(prefix+name+"/", out, budget)
		_ = sub.Close()
		return err
	case m.IsRegular():
		*out = append(*out, prefix+name)
		return nil
	}
	return unsafePath(full, kind(m))
}

// Rename moves the entry rel beneath d to toRel beneath to (its parent
// directories created), without following symlinks on either side.
func (d *Dir) Rename(rel string, to *Dir, toRel string) error {
	src, err := split(d.path, rel)
	if err != nil {
		return err
	}
	dst, err := split(to.path, toRel)
	if err != nil {
		return err
	}
	if len(src) == 0 || len(dst) == 0 {
		return &fs.PathError{Op: "rename", Path: d.path, Err: syscall.EINVAL}
	}
	sp, err := d.Sub(strings.Join(src[:len(src)-1], "/"), false)
	if err != nil {
		return err
	}
	defer sp.Close()
	dp, err := to.Sub(strings.Join(dst[:len(dst)-1], "/"), true)
	if err != nil {
		return err
	}
	defer dp.Close()
	if err := unix.Renameat(sp.fd, src[len(src)-1], dp.fd, dst[len(dst)-1]); err != nil {
		return &os.LinkError{Op: "rename", Old: filepath.Join(d.path, filepath.FromSlash(rel)), New: filepath.Join(to.path, filepath.FromSlash(toRel)), Err: err}
	}
	return nil
}

// Own gives f to the calling process's uid and gid and clears the
// setuid, setgid and sticky bits and group and other write permission.
func Own(f *os.File) error {
	var st unix.Stat_t
	fd := int(f.Fd())
	if err := unix.Fstat(fd, &st); err != nil {
		return &fs.PathError{Op: "fstat", Path: f.Name(), Err: err}
	}
	uid, gid := os.Getuid(), os.Getgid()
	if int(st.Uid) != uid || int(st.Gid) != gid {
		if err := unix.Fchown(fd, uid, gid); err != nil {
			return &fs.PathError{Op: "chown", Path: f.Name(), Err: err}
		}
	}
	// chown clears setuid/setgid already; clear them (and the rest) anyway.
	mode := uint32(st.Mode) & 0o7777
	if want := mode &^ (unix.S_ISUID | unix.S_ISGID | unix.S_ISVTX | 0o022); want != mode {
		if err := unix.Fchmod(fd, want); err != nil {
			return &fs.PathError{Op: "chmod", Path: f.Name(), Err: err}
		}
	}
	return nil
}

// Remove deletes the file rel beneath d (never a directory), its parent
// components opened without following symlinks; a missing file is not an
// error.
func (d *Dir) Remove(rel string) error {
	comps, err := split(d.path, rel)
	if err != nil {
		return err
	}
	if len(comps) == 0 {
		return &fs.PathError{Op: "remove", Path: d.path, Err: syscall.EINVAL}
	}
	parent, err := d.Sub(strings.Join(comps[:len(comps)-1], "/"), false)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer parent.Close()
	if err := unix.Unlinkat(parent.fd, comps[len(comps)-1], 0); err != nil && !errors.Is(err, syscall.ENOENT) {
		return &fs.PathError{Op: "remove", Path: filepath.Join(d.path, filepath.FromSlash(rel)), Err: err}
	}
	return nil
}

// Links is fi's hard link count (1 when the platform does not say).
func Links(fi fs.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Nlink)
	}
	return 1
}
