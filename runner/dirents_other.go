//go:build !linux

package runner

import (
	"io/fs"
	"os"
)

// eachDirent calls fn for every entry of dir with its type bits; see the
// Linux version.
func eachDirent(dir string, fn func(name string, typ fs.FileMode) error) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, d := range ents {
		if err := fn(d.Name(), d.Type()); err != nil {
			return err
		}
	}
	return nil
}
