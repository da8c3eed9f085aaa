package safefs

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
)

// ErrUnsafe is matched (errors.Is) by every *UnsafeError.
var ErrUnsafe = errors.New("unsafe path")

// UnsafeError refuses a path guardrun will not follow or use.
type UnsafeError struct {
	Path   string // the full path refused
	Reason string // e.g. "is a symlink"
}

func (e *UnsafeError) Error() string { return fmt.Sprintf("refusing %s: %s", e.Path, e.Reason) }

// Is makes errors.Is(err, ErrUnsafe) true.
func (e *UnsafeError) Is(target error) bool { return target == ErrUnsafe }

func unsafePath(path, reason string) error { return &UnsafeError{Path: path, Reason: reason} }

// split cleans a relative slash or OS path into its components. It
// refuses absolute paths and any ".." component; "" and "." have none.
func split(base, rel string) ([]string, error) {
	rel = filepath.ToSlash(rel)
	if rel == "" || rel == "." {
		return nil, nil
	}
	if strings.HasPrefix(rel, "/") || filepath.IsAbs(filepath.FromSlash(rel)) || filepath.VolumeName(filepath.FromSlash(rel)) != "" {
		return nil, unsafePath(rel, "is not a relative path")
	}
	var out []string
	for _, c := range strings.Split(rel, "/") {
		switch c {
		case "", ".":
			continue
		case "..":
			return nil, unsafePath(base+string(filepath.Separator)+filepath.FromSlash(rel), "leaves its directory (\"..\")")
		}
		out = append(out, c)
	}
	return out, nil
}

// kind describes a file type that is not a regular file, for messages.
func kind(m fs.FileMode) string { return "is " + Kind(m) }

// Kind names what a file of mode m is, for messages: "a symlink", "a
// named pipe (FIFO)", "a socket", "a character device", "a block
// device", "a directory", "a regular file".
func Kind(m fs.FileMode) string {
	switch {
	case m&fs.ModeSymlink != 0:
		return "a symlink"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	case m.IsDir():
		return "a directory"
	case m.IsRegular():
		return "a regular file"
	}
	return "not a regular file"
}

// CheckRegular refuses anything but a regular file with one link; links
// is the file's link count (0 when unknown).
func CheckRegular(path string, m fs.FileMode, links uint64) error {
	if !m.IsRegular() {
		return unsafePath(path, kind(m))
	}
	if links > 1 {
		return unsafePath(path, fmt.Sprintf("has %d hard links (only single-link files are used)", links))
	}
	return nil
}

// ErrTooMany is wrapped by FilesMax when a directory tree holds more
// entries than the limit.
var ErrTooMany = errors.New("too many entries")
