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
	case workspace != "" && isFile(filepath.Join(workspace, argv0)):
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
	abs, err := filepath.Abs(cand)
	if err != nil {
		return ""
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	}
	return filepath.ToSlash(abs)
}

func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir()
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
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		return ""
	}
	if abs, err := filepath.Abs(real); err == nil {
		real = abs
	}
	return filepath.ToSlash(real)
}
