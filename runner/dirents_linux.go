package runner

import (
	"io/fs"
	"os"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// direntBufs are getdents buffers: one per walking goroutine at a time.
var direntBufs = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}

// eachDirent calls fn for every entry of dir (not followed if it is a
// symlink) but "." and "..", in the
// directory's order, with the entry's type bits (fs.ModeDir, fs.ModeSymlink,
// ..., 0 for a regular file). name is only valid during the call: fn copies
// what it keeps. A type the file system does not report (DT_UNKNOWN) is
// read with lstat. What os.ReadDir does without an allocation per entry:
// at 10,000 files, the directory listings were a fifth of a fan-out no-op's
// allocations.
func eachDirent(dir string, fn func(name string, typ fs.FileMode) error) error {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return &fs.PathError{Op: "open", Path: dir, Err: err}
	}
	defer unix.Close(fd)
	bp := direntBufs.Get().(*[]byte)
	defer direntBufs.Put(bp)
	buf := *bp
	for {
		n, err := unix.Getdents(fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return &fs.PathError{Op: "readdirent", Path: dir, Err: err}
		}
		if n <= 0 {
			return nil
		}
		for off := 0; off < n; {
			// struct linux_dirent64: ino u64, off s64, reclen u16, type u8, name.
			rec := buf[off:n]
			if len(rec) < 20 { // shorter than a record with a one-byte name
				return &fs.PathError{Op: "readdirent", Path: dir, Err: unix.EIO}
			}
			reclen := int(*(*uint16)(unsafe.Pointer(&rec[16])))
			if reclen < 20 || reclen > len(rec) {
				return &fs.PathError{Op: "readdirent", Path: dir, Err: unix.EIO}
			}
			typ := rec[18]
			nameb := rec[19:reclen]
			for i, c := range nameb {
				if c == 0 {
					nameb = nameb[:i]
					break
				}
			}
			off += reclen
			if len(nameb) == 0 || (nameb[0] == '.' && (len(nameb) == 1 || (len(nameb) == 2 && nameb[1] == '.'))) {
				continue
			}
			name := unsafe.String(&nameb[0], len(nameb))
			var t fs.FileMode
			switch typ {
			case unix.DT_REG:
			case unix.DT_DIR:
				t = fs.ModeDir
			case unix.DT_LNK:
				t = fs.ModeSymlink
			case unix.DT_FIFO:
				t = fs.ModeNamedPipe
			case unix.DT_SOCK:
				t = fs.ModeSocket
			case unix.DT_CHR:
				t = fs.ModeDevice | fs.ModeCharDevice
			case unix.DT_BLK:
				t = fs.ModeDevice
			default:
				fi, err := os.Lstat(dir + "/" + name)
				if err != nil {
					if os.IsNotExist(err) {
						continue // gone since listed
					}
					return err
				}
				t = fi.Mode().Type()
			}
			if err := fn(name, t); err != nil {
				return err
			}
		}
	}
}
