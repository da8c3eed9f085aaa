package audit

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
)

// ErrKeyFile is what a *KeyFileError is (errors.Is): a key file refused
// before any record is read or written (a usage error).
var ErrKeyFile = errors.New("bad audit key file")

// KeyFileError is a key file LoadKey refuses. It is ErrKeyFile.
type KeyFileError struct {
	Path   string
	Reason string
}

func (e *KeyFileError) Error() string { return fmt.Sprintf("audit key file %s: %s", e.Path, e.Reason) }

// Is makes errors.Is(err, ErrKeyFile) true.
func (e *KeyFileError) Is(target error) bool { return target == ErrKeyFile }

// Code is a stable machine-readable name of the error.
func (e *KeyFileError) Code() string { return "audit_key_file" }

// MaxKeyBytes bounds a key read from a file or a file descriptor.
const MaxKeyBytes = 64 << 10

// LoadKey reads an HMAC key file: its bytes with surrounding whitespace
// trimmed are the key (not decoded; a line of base64 or hex is fine). An
// empty key is refused. On Unix a file that its group or others can read or
// write (mode & 0o066) is refused, as ssh refuses such private keys: anyone
// who can read the key can forge a chain that verifies, and anyone who can
// write it can make guardrun sign with a key they know. Give the key on a
// file descriptor (LoadKeyFD) to use a file guardrun cannot check. Windows
// has no such mode bits and is not checked.
func LoadKey(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("reading audit key: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, &KeyFileError{Path: path, Reason: "is not a regular file"}
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm()&0o066 != 0 {
		return nil, &KeyFileError{Path: path, Reason: fmt.Sprintf("is readable or writable by its group or others (mode %04o); run chmod 600 on it, or pass it on a file descriptor with --audit-key-fd", fi.Mode().Perm())}
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading audit key: %w", err)
	}
	defer f.Close()
	return readKey(f, path)
}

// LoadKeyFD reads the key from the inherited file descriptor fd (a file
// opened by the caller's shell, e.g. `3<audit.key`, or a pipe) and closes
// it, so that no process guardrun starts can inherit it. The key file's
// mode is not checked: whoever opened it for guardrun decided who may read
// it, and its path need not appear anywhere guardrun's processors can see.
func LoadKeyFD(fd int) ([]byte, error) {
	name := fmt.Sprintf("fd %d", fd)
	if fd < 0 {
		return nil, &KeyFileError{Path: name, Reason: "is not a file descriptor"}
	}
	f := os.NewFile(uintptr(fd), name)
	if f == nil {
		return nil, &KeyFileError{Path: name, Reason: "is not a file descriptor"}
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, &KeyFileError{Path: name, Reason: fmt.Sprintf("is not open (%v); pass the key with e.g. '%d<audit.key'", unwrapPath(err), fd)}
	}
	if fi.IsDir() {
		return nil, &KeyFileError{Path: name, Reason: "is a directory"}
	}
	return readKey(f, name)
}

// unwrapPath drops the *PathError around err (its path is a made-up name).
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// readKey reads at most MaxKeyBytes from r and trims the key.
func readKey(r io.Reader, name string) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxKeyBytes+1))
	if err != nil {
		return nil, &KeyFileError{Path: name, Reason: fmt.Sprintf("cannot be read: %v", unwrapPath(err))}
	}
	if len(b) > MaxKeyBytes {
		return nil, &KeyFileError{Path: name, Reason: fmt.Sprintf("is larger than %d bytes", MaxKeyBytes)}
	}
	k := bytes.TrimSpace(b)
	if len(k) == 0 {
		return nil, &KeyFileError{Path: name, Reason: "is empty"}
	}
	return k, nil
}
