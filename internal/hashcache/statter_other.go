//go:build !linux

package hashcache

import (
	"errors"
	"os"
)

// Elsewhere a Statter stats by path.
func openDir(string) (*os.File, error) { return nil, errors.ErrUnsupported }

func statAt(_ *os.File, _, path string) (os.FileInfo, error) { return os.Stat(path) }

func statIDAt(_ *os.File, _, path string) (FileID, bool, error) {
	id, fi, err := Stat(path)
	if err != nil {
		return FileID{}, false, err
	}
	return id, fi.Mode().IsRegular(), nil
}
