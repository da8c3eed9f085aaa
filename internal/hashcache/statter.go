package hashcache

import (
	"os"
	"path/filepath"
	"sync"
)

// A Statter stats many files in few directories, as a fan-out stage's
// decisions do (10,000 inputs in one directory, 10,000 outputs in
// another): it keeps one descriptor per directory and stats each file
// relative to it (fstatat on Linux), which spares the kernel the walk of
// the whole path on every stat. Results are os.Stat's: symlinks are
// followed, errors are *fs.PathError with op "stat". A directory replaced
// while the Statter lives is not noticed, so a Statter lives for one
// decision pass, not longer. Safe for concurrent use.
type Statter struct {
	mu   sync.Mutex
	dirs map[string]*os.File // nil value: not openable, use paths
}

// maxStatterDirs bounds the descriptors a Statter holds; stats in further
// directories go by path.
const maxStatterDirs = 64

// Stat is the package's Stat through s; a nil s stats by path.
func (s *Statter) Stat(path string) (FileID, os.FileInfo, error) {
	if s == nil {
		return Stat(path)
	}
	dir, base := filepath.Split(path)
	if base == "" || dir == "" {
		return Stat(path)
	}
	d := s.dir(dir)
	if d == nil {
		return Stat(path)
	}
	fi, err := statAt(d, base, path)
	if err != nil {
		return FileID{}, nil, err
	}
	return idOf(fi), fi, nil
}

// StatID is Stat without the FileInfo (an allocation per call): the
// identity, and whether the file is a regular one. A fan-out no-op makes
// one per item file.
func (s *Statter) StatID(path string) (FileID, bool, error) {
	if s != nil {
		if dir, base := filepath.Split(path); base != "" && dir != "" {
			if d := s.dir(dir); d != nil {
				return statIDAt(d, base, path)
			}
		}
	}
	id, fi, err := Stat(path)
	if err != nil {
		return FileID{}, false, err
	}
	return id, fi.Mode().IsRegular(), nil
}

func (s *Statter) dir(dir string) *os.File {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d, ok := s.dirs[dir]; ok {
		return d
	}
	if len(s.dirs) >= maxStatterDirs {
		return nil
	}
	if s.dirs == nil {
		s.dirs = map[string]*os.File{}
	}
	d, err := openDir(dir)
	if err != nil {
		d = nil // stat by path: the same errors as os.Stat, named by path
	}
	s.dirs[dir] = d
	return d
}

// Close releases the directories' descriptors.
func (s *Statter) Close() {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range s.dirs {
		if d != nil {
			_ = d.Close()
		}
	}
	s.dirs = nil
}
