package audit

import (
	"bytes"
	"errors"
	"fmt"
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

// LoadKey reads an HMAC key file: its bytes with surrounding whitespace
// trimmed are the key (not decoded; a line of base64 or hex is fine). An
// empty key is refused. On Unix a file that others can read or write is
// refused, as ssh refuses such private keys: anyone who can read the key can
// forge a chain that verifies. Group access is allowed for shared service
// accounts. Windows has no such mode bits and is not checked.
func LoadKey(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("reading audit key: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, &KeyFileError{Path: path, Reason: "is not a regular file"}
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm()&0o006 != 0 {
		return nil, &KeyFileError{Path: path, Reason: fmt.Sprintf("is accessible by others (mode %04o); run chmod 600 on it", fi.Mode().Perm())}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading audit key: %w", err)
	}
	k := bytes.TrimSpace(b)
	if len(k) == 0 {
		return nil, &KeyFileError{Path: path, Reason: "is empty"}
	}
	return k, nil
}
