package execpath

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// Program is a resolved argv[0].
type Program struct {
	// Path is what is executed: absolute and cleaned, as found (symlinks
	// not resolved). It is set whenever a path was chosen, even when
	// Resolve also returns an error.
	Path string
	// Real is Path made symlink-free, with forward slashes: what the policy
	// judges. A dangling symlink is followed to its target; a path that
	// does not exist leaves Real empty.
	Real string
	// Interpreters is what the kernel runs for Path when it is a script:
	// the interpreter its "#!" line names, then that interpreter's own when
	// it is a script too. Nil when Path is not a script (and on Windows,
	// which has no "#!"). The policy judges every Real of it like Real;
	// the runner hashes each into the stage's identity.
	Interpreters []Interpreter
}

// Resolve resolves argv0 against workspace (an absolute directory; "" means
// none) by the package's rule, checks that the result is executable and
// follows its "#!" interpreters ("#!/usr/bin/env NAME" looks NAME up on this
// process's PATH; ResolveIn takes the PATH the program will run with).
// The error names the processor the way the runner reports it, e.g.
// `processor "x" not found in the workspace or PATH`,
// `processor /ws/x is a directory`, `processor /ws/x is not executable`.
func Resolve(workspace, argv0 string) (Program, error) {
	return NewResolver().Resolve(workspace, argv0)
}

// ResolveIn is Resolve for a program that runs with searchPath as its PATH
// (a stage's env may set PATH): "#!/usr/bin/env NAME" finds NAME there.
func ResolveIn(workspace, argv0, searchPath string) (Program, error) {
	return NewResolver().ResolveIn(workspace, argv0, searchPath)
}

// SearchPath is the PATH a processor with the stage env env runs with: the
// env's PATH when it sets one, else this process's.
func SearchPath(env map[string]string) string {
	if p, ok := env["PATH"]; ok {
		return p
	}
	return os.Getenv("PATH")
}

// Resolver resolves many programs and paths, memoising PATH look-ups,
// results and the resolution of each parent directory: a spec of hundreds
// of stages would otherwise walk (lstat) every component of every path.
// Its answers are those of Resolve and RealPath as of the first time each
// was asked. A Resolver is not safe for concurrent use.
type Resolver struct {
	dirs     map[string]string  // abs dir -> symlink-free dir ("" if it does not resolve)
	look     map[string]looked  // bare name -> exec.LookPath result
	lookPath map[string]looked  // search path + name -> "#!/usr/bin/env name" look-up
	progs    map[string]program // workspace + argv0 + search path -> result
}

type looked struct {
	path string
	err  error
}

type program struct {
	p   Program
	err error
}

// NewResolver returns an empty Resolver.
func NewResolver() *Resolver {
	return &Resolver{dirs: map[string]string{}, look: map[string]looked{}, lookPath: map[string]looked{}, progs: map[string]program{}}
}

// Resolve is Resolve, memoised.
func (r *Resolver) Resolve(workspace, argv0 string) (Program, error) {
	return r.ResolveIn(workspace, argv0, os.Getenv("PATH"))
}

// ResolveIn is ResolveIn, memoised.
func (r *Resolver) ResolveIn(workspace, argv0, searchPath string) (Program, error) {
	k := workspace + "\x00" + argv0 + "\x00" + searchPath
	if v, ok := r.progs[k]; ok {
		return v.p, v.err
	}
	p, err := r.resolve(workspace, argv0, searchPath)
	r.progs[k] = program{p, err}
	return p, err
}

func (r *Resolver) resolve(workspace, argv0, searchPath string) (Program, error) {
	path, err := r.choose(workspace, argv0)
	if err != nil {
		return Program{}, err
	}
	p := Program{Path: path, Real: r.Real(path)}
	if err := checkExecutable(path); err != nil {
		return p, err
	}
	p.Interpreters, err = r.interpreters(path, searchPath)
	return p, err
}

// choose picks the file argv0 names, without checking it.
func (r *Resolver) choose(workspace, argv0 string) (string, error) {
	notFound := fmt.Errorf("processor %q not found in the workspace or PATH", argv0)
	if argv0 == "" {
		return "", notFound
	}
	if filepath.IsAbs(argv0) {
		return filepath.Clean(argv0), nil
	}
	if workspace != "" {
		abs, err := filepath.Abs(workspace)
		if err != nil {
			return "", err
		}
		workspace = abs
	}
	if strings.ContainsAny(argv0, `/\`) {
		if workspace == "" {
			return "", notFound
		}
		return filepath.Join(workspace, filepath.FromSlash(argv0)), nil
	}
	if workspace != "" {
		cand := filepath.Join(workspace, argv0)
		if _, err := os.Lstat(cand); err == nil && !isDir(cand) {
			return cand, nil
		}
	}
	l, ok := r.look[argv0]
	if !ok {
		l.path, l.err = exec.LookPath(argv0) // exec.ErrDot when found relative to "."
		r.look[argv0] = l
	}
	if l.err != nil {
		return "", notFound
	}
	abs, err := filepath.Abs(l.path)
	if err != nil {
		return "", notFound
	}
	return abs, nil
}

// isDir reports whether p is a directory or a symlink to one.
func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

func checkExecutable(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return fmt.Errorf("processor %s: %w", p, err)
	}
	if fi.IsDir() {
		return fmt.Errorf("processor %s is a directory", p)
	}
	if !fi.Mode().IsRegular() { // a FIFO or device: nothing execve runs, nor guardrun reads
		return fmt.Errorf("processor %s is not a regular file", p)
	}
	if runtime.GOOS != "windows" && fi.Mode()&0o111 == 0 {
		return fmt.Errorf("processor %s is not executable", p)
	}
	return nil
}

// Real is RealPath with the parent directory's resolution memoised. A path
// whose last component is a symlink, or whose parent does not resolve,
// takes the full RealPath route.
func (r *Resolver) Real(p string) string {
	real, _ := r.RealLstat(p)
	return real
}

// RealLstat is Real, with the os.Lstat of p it was resolved from when it
// took the memoised route (a regular file costs that one call); the
// FileInfo is nil otherwise.
func (r *Resolver) RealLstat(p string) (string, os.FileInfo) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", nil
	}
	dir, base := filepath.Split(abs)
	dir = filepath.Clean(dir)
	rdir, ok := r.dirs[dir]
	if !ok {
		rdir, err = filepath.EvalSymlinks(dir)
		if err != nil {
			rdir = ""
		}
		r.dirs[dir] = rdir
	}
	if rdir == "" || base == "" || base == "." || base == ".." {
		return RealPath(abs), nil
	}
	fi, err := os.Lstat(abs)
	if err != nil {
		return "", nil // does not exist (yet): nothing to judge
	}
	if fi.Mode()&os.ModeSymlink != 0 {
		return RealPath(abs), fi
	}
	return filepath.ToSlash(filepath.Join(rdir, base)), fi
}

// RealPath makes p absolute, resolves its symlinks and returns it with
// forward slashes, or "" when p does not exist. A dangling symlink (or a
// short chain of them) resolves to its target, so a link to an outside path
// that does not exist yet is still seen as leaving the workspace.
func RealPath(p string) string {
	abs, err := filepath.Abs(p)
	if err != nil {
		return ""
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		return filepath.ToSlash(real)
	}
	followed := false
	for range 8 { // follow a chain of dangling links a few hops
		fi, err := os.Lstat(abs)
		if err != nil || fi.Mode()&os.ModeSymlink == 0 {
			break
		}
		target, err := os.Readlink(abs)
		if err != nil {
			break
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(filepath.Dir(abs), target)
		}
		abs, followed = filepath.Clean(target), true
		if real, err := filepath.EvalSymlinks(abs); err == nil {
			return filepath.ToSlash(real)
		}
	}
	if !followed {
		return "" // does not exist (yet): nothing to judge
	}
	return filepath.ToSlash(abs)
}
