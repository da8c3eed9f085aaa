package pipeline

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// maxLinkHops bounds symlink chains (Linux's own limit is 40).
const maxLinkHops = 40

var errTooManyLinks = errors.New("too many levels of symbolic links")

// resolver resolves symlinks of the longest existing prefix of a path,
// read-only, remembering every prefix it has seen during one load so that
// each directory is looked at once.
type resolver struct {
	cache map[string]resolved
}

type resolved struct {
	path   string
	exists bool
}

func newResolver() *resolver { return &resolver{cache: map[string]resolved{}} }

// resolve returns abs (absolute, clean) with every symlink on it followed
// as far as the file system has them: the existing prefix is resolved as
// filepath.EvalSymlinks does, a dangling symlink is followed to where it
// points, and the missing rest is appended unchanged.
func (r *resolver) resolve(abs string) (string, error) {
	res, err := r.resolveHops(abs, 0)
	return res.path, err
}

func (r *resolver) resolveHops(abs string, hops int) (resolved, error) {
	if v, ok := r.cache[abs]; ok {
		return v, nil
	}
	parent := filepath.Dir(abs)
	if parent == abs {
		return resolved{abs, true}, nil // the root
	}
	rp, err := r.resolveHops(parent, hops)
	if err != nil {
		return resolved{}, err
	}
	here := filepath.Join(rp.path, filepath.Base(abs))
	out := resolved{here, false}
	if rp.exists {
		fi, err := os.Lstat(here)
		switch {
		case err != nil:
			// Missing, or not a directory on the way: nothing to follow.
		case fi.Mode()&os.ModeSymlink == 0:
			out.exists = true
		default:
			if hops >= maxLinkHops {
				return resolved{}, errTooManyLinks
			}
			target, err := os.Readlink(here)
			if err != nil {
				return resolved{}, fmt.Errorf("reading symlink: %w", err)
			}
			if out, err = r.follow(rp.path, target, hops+1); err != nil {
				return resolved{}, err
			}
		}
	}
	r.cache[abs] = out
	return out, nil
}

// follow resolves a symlink's target, read in directory dir (resolved),
// one component at a time so that ".." means the physical parent.
func (r *resolver) follow(dir, target string, hops int) (resolved, error) {
	cur := resolved{dir, true}
	if filepath.IsAbs(target) {
		vol := filepath.VolumeName(target)
		cur = resolved{vol + string(filepath.Separator), true}
		target = target[len(vol):]
	}
	for _, part := range strings.FieldsFunc(target, func(c rune) bool { return c == '/' || c == filepath.Separator }) {
		switch part {
		case ".":
		case "..":
			cur.path = filepath.Dir(cur.path)
		default:
			next, err := r.resolveHops(filepath.Join(cur.path, part), hops)
			if err != nil {
				return resolved{}, err
			}
			cur = next
		}
	}
	return cur, nil
}

// within reports whether p is base or below it; both must be clean.
func within(base, p string) bool {
	if p == base {
		return true
	}
	if strings.HasSuffix(base, string(filepath.Separator)) { // the root
		return strings.HasPrefix(p, base)
	}
	return strings.HasPrefix(p, base+string(filepath.Separator))
}

// relSlash returns p relative to base (p within base) with forward slashes.
func relSlash(base, p string) string {
	if p == base {
		return "."
	}
	rest := strings.TrimPrefix(p, base)
	rest = strings.TrimPrefix(rest, string(filepath.Separator))
	return filepath.ToSlash(rest)
}

// workspace holds the two spellings of the spec's directory: as given
// (absolute, lexical) and with symlinks resolved, which is the canonical one.
type workspace struct {
	dir      string // absolute, symlinks resolved
	lexical  string // absolute, as given
	resolver *resolver
}

func newWorkspace(specPath string) (*workspace, error) {
	abs, err := filepath.Abs(specPath)
	if err != nil {
		return nil, fmt.Errorf("resolving spec path: %w", err)
	}
	r := newResolver()
	lex := filepath.Dir(abs)
	dir, err := r.resolve(lex)
	if err != nil {
		return nil, fmt.Errorf("resolving workspace %q: %w", lex, err)
	}
	return &workspace{dir: dir, lexical: lex, resolver: r}, nil
}

// locate cleans a path as written: relative paths are taken from the
// workspace. It returns the absolute lexical path and, when that lies in the
// workspace, its workspace-relative slash form.
func (ws *workspace) locate(p string) (abs, rel string, inside bool) {
	if filepath.IsAbs(p) {
		abs = filepath.Clean(p)
		for _, base := range []string{ws.dir, ws.lexical} {
			if within(base, abs) {
				return filepath.Join(ws.dir, relSlash(base, abs)), relSlash(base, abs), true
			}
		}
		return abs, "", false
	}
	abs = filepath.Join(ws.dir, p)
	if within(ws.dir, abs) {
		return abs, relSlash(ws.dir, abs), true
	}
	return abs, "", false
}

// writePath checks a place guardrun will write to: it must stay inside the
// workspace both as written and after symlinks are resolved. It returns the
// workspace-relative form as written and as resolved.
func (ws *workspace) writePath(p string) (rel, resolvedRel string, err error) {
	abs, rel, inside := ws.locate(p)
	if !inside {
		return "", "", fmt.Errorf("path %q leaves the workspace", p)
	}
	res, rerr := ws.resolver.resolve(abs)
	if rerr != nil {
		return "", "", fmt.Errorf("path %q cannot be resolved: %v", p, rerr)
	}
	if !within(ws.dir, res) {
		return "", "", fmt.Errorf("path %q leaves the workspace through a symlink (resolves to %q)", p, res)
	}
	return rel, relSlash(ws.dir, res), nil
}

// readPath cleans an input or processor path: workspace-relative with
// forward slashes when inside, absolute and clean otherwise.
func (ws *workspace) readPath(p string) string {
	abs, rel, inside := ws.locate(p)
	if inside {
		return rel
	}
	return abs
}

// slashWithin reports whether workspace-relative slash path p is dir or
// below it.
func slashWithin(dir, p string) bool {
	return p == dir || dir == "." || strings.HasPrefix(p, dir+"/")
}
