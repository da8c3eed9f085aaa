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
		p, err := exec.LookPath(argv0)
		if err != nil {
			return ""
		}
		cand = p
	default:
		return ""
	}
	return realPath(cand)
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
	return realPath(p)
}
