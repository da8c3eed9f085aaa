package hashcache

import (
	"io/fs"
	"os"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// syscall.Stat_t (what idOf and os read) and unix.Stat_t are the same
// kernel structure; this fails to compile if they ever differ in size.
var _ [unsafe.Sizeof(syscall.Stat_t{}) - unsafe.Sizeof(unix.Stat_t{})]struct{}
var _ [unsafe.Sizeof(unix.Stat_t{}) - unsafe.Sizeof(syscall.Stat_t{})]struct{}

func openDir(dir string) (*os.File, error) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC|unix.O_PATH, 0)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), dir), nil
}

// statAt stats name in d, following a symlink as os.Stat does.
func statAt(d *os.File, name, path string) (os.FileInfo, error) {
	fi := &statInfo{name: name}
	for {
		err := unix.Fstatat(int(d.Fd()), name, (*unix.Stat_t)(unsafe.Pointer(&fi.sys)), 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, &fs.PathError{Op: "stat", Path: path, Err: err}
		}
		return fi, nil
	}
}

// statIDAt is statAt giving the identity and whether the file is
// regular, from a Stat_t on the stack.
func statIDAt(d *os.File, name, path string) (FileID, bool, error) {
	var st unix.Stat_t
	for {
		err := unix.Fstatat(int(d.Fd()), name, &st, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return FileID{}, false, &fs.PathError{Op: "stat", Path: path, Err: err}
		}
		break
	}
	id := FileID{Dev: uint64(st.Dev), Ino: uint64(st.Ino), //nolint:unconvert // narrower on some GOARCHes
		Size: st.Size, MtimeNs: time.Unix(st.Mtim.Unix()).UnixNano(),
		CtimeNs: ctimeNs((*syscall.Stat_t)(unsafe.Pointer(&st)))}
	return id, st.Mode&unix.S_IFMT == unix.S_IFREG, nil
}

// statInfo is os.FileInfo for a Stat_t, as package os makes it.
type statInfo struct {
	name string
	sys  syscall.Stat_t
}

func (f *statInfo) Name() string       { return f.name }
func (f *statInfo) Size() int64        { return f.sys.Size }
func (f *statInfo) IsDir() bool        { return f.Mode().IsDir() }
func (f *statInfo) Sys() any           { return &f.sys }
func (f *statInfo) ModTime() time.Time { return time.Unix(f.sys.Mtim.Unix()) }

func (f *statInfo) Mode() fs.FileMode {
	m := fs.FileMode(f.sys.Mode & 0o777)
	switch f.sys.Mode & syscall.S_IFMT {
	case syscall.S_IFBLK:
		m |= fs.ModeDevice
	case syscall.S_IFCHR:
		m |= fs.ModeDevice | fs.ModeCharDevice
	case syscall.S_IFDIR:
		m |= fs.ModeDir
	case syscall.S_IFIFO:
		m |= fs.ModeNamedPipe
	case syscall.S_IFLNK:
		m |= fs.ModeSymlink
	case syscall.S_IFSOCK:
		m |= fs.ModeSocket
	}
	if f.sys.Mode&syscall.S_ISGID != 0 {
		m |= fs.ModeSetgid
	}
	if f.sys.Mode&syscall.S_ISUID != 0 {
		m |= fs.ModeSetuid
	}
	if f.sys.Mode&syscall.S_ISVTX != 0 {
		m |= fs.ModeSticky
	}
	return m
}
