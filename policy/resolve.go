package policy

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// ResolveExec finds the program an exec processor's argv[0] runs, the way
// guardrun runs it: an absolute path as is; otherwise against the workspace
// first, then (for a bare name) PATH. The result is absolute with symlinks
// resolved, so a workspace link to /usr/bin/curl shows up as what it is.
// It returns "" when nothing is found.
func ResolveExec(workspace, argv0 string) string {
	return newResolver().exec(workspace, argv0)
}

// resolver resolves many paths at once, resolving each parent directory
// only once: a spec of hundreds of stages would otherwise walk (lstat) every
// component of every path, which dominated a no-op rerun's policy
// fingerprint. Only the last component of each path is looked at alone.
type resolver struct {
	dirs  map[string]string // abs dir -> symlink-free dir ("" if it does not resolve)
	look  map[string]string // argv0 -> LookPath result
	execs map[string]string // workspace + argv0 -> result
}

func newResolver() *resolver {
	return &resolver{dirs: map[string]string{}, look: map[string]string{}, execs: map[string]string{}}
}

func (r *resolver) exec(workspace, argv0 string) string {
	k := workspace + "\x00" + argv0
	if v, ok := r.execs[k]; ok {
		return v
	}
	v := r.resolveExec(workspace, argv0)
	r.execs[k] = v
	return v
}

func (r *resolver) resolveExec(workspace, argv0 string) string {
	if argv0 == "" {
		return ""
	}
	var cand string
	switch {
	case filepath.IsAbs(argv0):
		cand = argv0
	case workspace != "" && exists(filepath.Join(workspace, argv0)):
		cand = filepath.Join(workspace, argv0)
	case !strings.ContainsAny(argv0, `/\`):
		p, ok := r.look[argv0]
		if !ok {
			p, _ = exec.LookPath(argv0)
			r.look[argv0] = p
		}
		if p == "" {
			return ""
		}
		cand = p
	default:
		return ""
	}
	return r.real(cand)
}

// real is realPath with the parent directory's resolution memoised. A path
// whose last component is a symlink, or whose parent does not resolve,
// takes the full realPath route.
func (r *resolver) real(p string) string {
	abs, err := filepath.Abs(p)
	if err != nil {
		return ""
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
		return realPath(abs)
	}
	fi, err := os.Lstat(abs)
	if err != nil {
		return "" // does not exist (yet): nothing to judge
	}
	if fi.Mode()&os.ModeSymlink != 0 {
		return realPath(abs)
	}
	return filepath.ToSlash(filepath.Join(rdir, base))
}

// realPath makes p absolute and resolves its symlinks. A dangling symlink
// resolves to its target, so a link to an outside path that does not exist
// yet is still seen as leaving the workspace.
func realPath(p string) string {
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

// exists reports whether p is there, as a file or a (possibly dangling)
// symlink.
func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

// ResolvePath returns the absolute, symlink-free path of a spec path
// (workspace-relative or absolute), or "" when it does not exist.
func ResolvePath(workspace, p string) string {
	return newResolver().path(workspace, p)
}

func (r *resolver) path(workspace, p string) string {
	if p == "" {
		return ""
	}
	p = filepath.FromSlash(p)
	if !filepath.IsAbs(p) {
		if workspace == "" {
			return ""
		}
		p = filepath.Join(workspace, p)
	}
	return r.real(p)
}
