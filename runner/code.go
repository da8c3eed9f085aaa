package runner

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/guardrun/guardrun/internal/execpath"
	"github.com/guardrun/guardrun/internal/runstate"
	"github.com/guardrun/guardrun/pipeline"
)

// This file is a stage's code identity (KeyParts.Code): the files of code
// the processor runs or reads beyond its inputs, each hashed through the
// stat cache and named, so that plan says which one changed.
//
//   - exec: the program argv[0] resolves to and its "#!" interpreters
//     (execpath, the rule the policy judges by), and every argument that,
//     as a whole, names an existing regular file inside the workspace
//     (relative to the workspace, or absolute), unless that file is one of
//     the stage's inputs or lies in stateDir, locksDir or a stage's
//     outputDir (data, not code);
//   - go: the processor's source is its version already;
//   - both: the files of the stage's codeDeps (files, directories, globs).
//
// Resolution and hashing happen once per distinct argv and codeDeps entry
// per run; unchanged files cost a stat.

// codeName is how the key names a file of code: workspace-relative with
// forward slashes when it is in the workspace (as found, when that is in the
// workspace too), else its absolute symlink-free path.
func (ps *procs) codeName(found, real string) string {
	if _, ok := relInside(ps.p.Workspace, filepath.FromSlash(real)); ok {
		if rel, ok := relInside(ps.p.Workspace, found); ok {
			return rel
		}
	}
	if real == "" {
		return filepath.ToSlash(found)
	}
	return real
}

// relInside returns abs (clean) relative to dir with forward slashes, when
// it is dir or below it.
func relInside(dir, abs string) (string, bool) {
	if abs == "" {
		return "", false
	}
	abs = filepath.Clean(abs)
	if abs == dir {
		return ".", true
	}
	rest, ok := strings.CutPrefix(abs, dir+string(filepath.Separator))
	if !ok {
		return "", false
	}
	return filepath.ToSlash(rest), true
}

// notCodeDirs are the workspace-relative dirs whose files are never code
// found by guardrun (argv files, directory and glob expansion): stateDir,
// locksDir and every stage's outputDir.
func (ps *procs) notCodeDirs() map[string]bool {
	ps.notCodeOnce.Do(func() {
		ps.notCode = map[string]bool{}
		for _, d := range []string{ps.p.StateDir, ps.p.LocksDir} {
			if rel, ok := relInside(ps.p.Workspace, d); ok {
				ps.notCode[rel] = true
			}
		}
		for i := range ps.p.Stages {
			if d := ps.p.Stages[i].OutputDir; d != "" {
				ps.notCode[d] = true
			}
		}
	})
	return ps.notCode
}

// underNotCode reports whether workspace-relative rel lies in a dir of
// notCodeDirs (or is one).
func (ps *procs) underNotCode(rel string) bool {
	nc := ps.notCodeDirs()
	for d := rel; d != "." && d != "/" && d != ""; d = path.Dir(d) {
		if nc[d] {
			return true
		}
	}
	return false
}

// realLstat is execpath's RealLstat through one Resolver per run, which
// resolves each directory once (arguments of many stages share them).
func (ps *procs) realLstat(abs string) (string, os.FileInfo) {
	ps.resMu.Lock()
	defer ps.resMu.Unlock()
	if ps.resolver == nil {
		ps.resolver = execpath.NewResolver()
	}
	return ps.resolver.RealLstat(abs)
}

// argFiles lists the arguments that name an existing regular file inside
// the workspace (whole arguments only: --flag=path is not looked into).
func (ps *procs) argFiles(args []string) []inputFile {
	var files []inputFile
	seen := map[string]bool{}
	for _, a := range args {
		if a == "" || strings.IndexByte(a, 0) >= 0 {
			continue
		}
		abs := filepath.FromSlash(a)
		if !filepath.IsAbs(abs) {
			abs = filepath.Join(ps.p.Workspace, abs)
		}
		rel, ok := relInside(ps.p.Workspace, abs)
		if !ok || seen[rel] || ps.underNotCode(rel) || runstate.IsArtifact(path.Base(rel)) {
			continue
		}
		real, fi := ps.realLstat(abs) // "" when it does not exist
		if _, ok := relInside(ps.p.Workspace, filepath.FromSlash(real)); !ok {
			continue // missing, or a link out of the workspace: not the workspace's code
		}
		if fi == nil || !fi.Mode().IsRegular() { // a link (to check), a dir, a FIFO, ...
			if fi, err := os.Stat(abs); err != nil || !fi.Mode().IsRegular() {
				continue
			}
		}
		seen[rel] = true
		files = append(files, inputFile{Rel: rel, Abs: filepath.Clean(abs)})
	}
	return files
}

// code returns a stage's code identity: pr's files (nil for a Go
// processor), minus argument files that are the stage's inputs, plus its
// codeDeps; sorted by path, each once.
func (ps *procs) code(st *pipeline.Stage, pr *proc) ([]InputID, error) {
	if pr != nil && pr.argFiles == 0 && len(st.CodeDeps) == 0 && len(pr.Code) <= 1 {
		return pr.Code, nil // the common case, shared (nobody writes to it)
	}
	var code []InputID
	if pr != nil {
		fixed := len(pr.Code) - pr.argFiles
		code = append(code, pr.Code[:fixed]...)
		for _, id := range pr.Code[fixed:] {
			if !isInput(st, id.Path) {
				code = append(code, id)
			}
		}
	}
	for j, dep := range st.CodeDeps {
		ids, err := ps.dep(dep)
		if err != nil {
			return nil, fmt.Errorf("stages[%d].codeDeps[%d]: %w", st.Index, j, err)
		}
		code = append(code, ids...)
	}
	if len(code) <= 1 {
		return code, nil
	}
	sort.SliceStable(code, func(i, j int) bool { return code[i].Path < code[j].Path })
	out := code[:1]
	for _, id := range code[1:] {
		if id.Path != out[len(out)-1].Path {
			out = append(out, id)
		}
	}
	return out, nil
}

// isInput reports whether workspace-relative rel is one of the stage's
// inputs or lies under one.
func isInput(st *pipeline.Stage, rel string) bool {
	for _, in := range st.Inputs {
		if rel == in || strings.HasPrefix(rel, strings.TrimSuffix(in, "/")+"/") {
			return true
		}
	}
	return false
}

type depsResult struct {
	ids []InputID
	err error
}

// dep returns the files of one codeDeps entry, hashed, once per run.
func (ps *procs) dep(entry string) ([]InputID, error) {
	ps.mu.Lock()
	r, ok := ps.deps[entry]
	ps.mu.Unlock()
	if ok {
		return r.ids, r.err
	}
	files, err := ps.expandDep(entry)
	if err == nil {
		r.ids, _, err = hashFiles(ps.cache, files, "code")
	}
	r.err = err
	ps.mu.Lock()
	ps.deps[entry] = r
	ps.mu.Unlock()
	return r.ids, r.err
}

// errNoMatch is a codeDeps glob that matches no file.
var errNoMatch = errors.New("matches no file")

// expandDep lists the files of a codeDeps entry (workspace-relative, clean,
// validated by the loader): a file as is; a directory as every regular file
// under it; a glob as every regular file it matches, a directory it matches
// counting as the files under it. Symlinks under a directory are not
// followed; walks skip guardrun's artifacts and do not descend into
// stateDir, locksDir or an outputDir (unless the entry names it itself).
func (ps *procs) expandDep(entry string) ([]inputFile, error) {
	segs := strings.Split(entry, "/")
	lit := len(segs)
	for k, seg := range segs {
		if pipeline.IsGlob(seg) {
			lit = k
			break
		}
	}
	base := path.Join(segs[:lit]...)
	if base == "" {
		base = "."
	}
	abs := ps.p.Abs(base)
	if lit == len(segs) { // a plain path
		fi, err := os.Stat(abs)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("path %q does not exist", entry)
		}
		if err != nil {
			return nil, fmt.Errorf("path %q: %w", entry, unwrapPathErr(err))
		}
		if real := execpath.RealPath(abs); real != "" {
			if _, ok := relInside(ps.p.Workspace, filepath.FromSlash(real)); !ok {
				return nil, fmt.Errorf("path %q resolves to %q, outside the workspace", entry, real)
			}
		}
		if fi.Mode().IsRegular() {
			return []inputFile{{Rel: entry, Abs: abs}}, nil
		}
		if !fi.IsDir() {
			return nil, fmt.Errorf("path %q is neither a regular file nor a directory", entry)
		}
		return ps.walkDep(base, nil)
	}
	files, err := ps.walkDep(base, segs)
	if err == nil && len(files) == 0 {
		err = fmt.Errorf("pattern %q %w", entry, errNoMatch)
	}
	return files, err
}

// walkDep lists the regular files under workspace-relative dir base, in
// lexical order; with a pattern, only those it matches (or whose directory
// it matches). A base that does not exist holds nothing.
func (ps *procs) walkDep(base string, pattern []string) ([]inputFile, error) {
	root := ps.p.Abs(base)
	var files []inputFile
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == root && errors.Is(err, fs.ErrNotExist) {
				return fs.SkipAll
			}
			return err
		}
		if p == root {
			return nil
		}
		rel, _ := relInside(ps.p.Workspace, p)
		if runstate.IsArtifact(d.Name()) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			if ps.notCodeDirs()[rel] || (pattern != nil && !couldMatch(pattern, strings.Split(rel, "/"))) {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		if pattern == nil || matchesOrUnder(pattern, strings.Split(rel, "/")) {
			files = append(files, inputFile{Rel: rel, Abs: p})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", base, unwrapPathErr(err))
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Rel < files[j].Rel })
	return files, nil
}

// match reports whether path segments s match pattern segments p: each
// segment by path.Match, "**" matching any number of segments (none too).
func match(p, s []string) bool {
	for len(p) > 0 {
		if p[0] == "**" {
			for k := 0; k <= len(s); k++ {
				if match(p[1:], s[k:]) {
					return true
				}
			}
			return false
		}
		if len(s) == 0 {
			return false
		}
		if ok, _ := path.Match(p[0], s[0]); !ok {
			return false
		}
		p, s = p[1:], s[1:]
	}
	return len(s) == 0
}

// matchesOrUnder reports whether file segments s, or one of its
// directories, match p.
func matchesOrUnder(p, s []string) bool {
	for k := len(s); k >= 1; k-- {
		if match(p, s[:k]) {
			return true
		}
	}
	return false
}

// couldMatch reports whether directory segments s may hold a file that
// matchesOrUnder p: s is a prefix of something p matches, or a directory p
// matches, or below one.
func couldMatch(p, s []string) bool {
	for len(s) > 0 {
		if len(p) == 0 || p[0] == "**" {
			return true
		}
		if ok, _ := path.Match(p[0], s[0]); !ok {
			return false
		}
		p, s = p[1:], s[1:]
	}
	return true
}
