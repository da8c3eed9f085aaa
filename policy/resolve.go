package policy

import (
	"path/filepath"

	"github.com/guardrun/guardrun/internal/execpath"
	"github.com/guardrun/guardrun/pipeline"
)

// ResolveExec returns what the policy judges for an exec processor's
// argv[0]: the Real of execpath.Resolve, the resolution whose Path the
// runner executes (absolute as is; a path with a separator in the
// workspace; a bare name in the workspace unless it is a directory there,
// else on PATH). The result is absolute with symlinks resolved, so a
// workspace link to /usr/bin/curl shows up as what it is, and a dangling
// link as its target. It is "" when nothing was found.
func ResolveExec(workspace, argv0 string) string {
	return newResolver().exec(workspace, argv0)
}

// ResolvePath returns the absolute, symlink-free path of a spec path
// (workspace-relative or absolute), or "" when it does not exist.
func ResolvePath(workspace, p string) string {
	return newResolver().path(workspace, p)
}

// resolver resolves the paths of a whole spec at once through one
// execpath.Resolver, which memoises parent directories and PATH look-ups.
type resolver struct{ r *execpath.Resolver }

func newResolver() *resolver { return &resolver{execpath.NewResolver()} }

// program is the resolution of an exec stage's argv[0] the runner runs,
// with its "#!" interpreters looked up on the stage's PATH.
func (r *resolver) program(workspace string, s *pipeline.Stage) execpath.Program {
	prog, _ := r.r.ResolveIn(workspace, s.Processor.Exec[0], execpath.SearchPath(s.Env))
	return prog
}

// exec judges exactly what the runner would run. When the program cannot
// run (missing, a directory, not executable) Real still says what argv[0]
// points at, if anything: the policy judges it all the same.
func (r *resolver) exec(workspace, argv0 string) string {
	prog, _ := r.r.Resolve(workspace, argv0)
	return prog.Real
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
	return r.r.Real(p)
}
