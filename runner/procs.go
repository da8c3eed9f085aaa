package runner

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"go/build"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/guardrun/guardrun/internal/atomicfile"
	"github.com/guardrun/guardrun/internal/execpath"
	"github.com/guardrun/guardrun/internal/hashcache"
	"github.com/guardrun/guardrun/internal/runstate"
	"github.com/guardrun/guardrun/internal/toolenv"
	"github.com/guardrun/guardrun/pipeline"
)

// GoHome is the HOME of the go command guardrun runs: stateDir/home, a
// directory of guardrun's own that no processor can reach.
func GoHome(p *pipeline.Pipeline) string { return filepath.Join(p.StateDir, "home") }

// VetFunc vets a Go processor package before it is built (netlint). It is
// called only when no binary for the package's source hash is cached.
type VetFunc func(ctx context.Context, pkgDir, sourceHash string) error

// proc is a resolved, runnable processor.
type proc struct {
	Path    string   // executable
	Args    []string // argv
	Version string   // hex hash: source hash (go) or argv hash (exec)
	// Interpreters are the "#!" interpreters the kernel runs for an exec
	// Path that is a script: what the policy judged with it.
	Interpreters []execpath.Interpreter
	// Code are the files of an exec processor, hashed (code.go): the
	// program, its "#!" interpreters, then the workspace files its
	// arguments name. A Go processor's code is in Version.
	Code []InputID
	// argFiles counts the entries of Code that come from the arguments
	// (the last ones): a stage drops those that are its inputs.
	argFiles int
}

// procs resolves processors once per run and builds Go processors into a
// cache under stateDir/bin keyed by their source hash.
type procs struct {
	p     *pipeline.Pipeline
	cache *hashcache.Cache
	vet   VetFunc
	// goEnv is the environment of `go build` (internal/toolenv): fixed,
	// with a HOME of guardrun's own under stateDir.
	goEnv []string

	mu      sync.Mutex
	sources map[string]sourceResult   // pkg dir -> source hash
	bins    map[string]execBin        // argv0 + search path -> resolved program
	execs   map[string]*proc          // whole argv + search path -> resolved
	gos     map[string]*goBuildResult // pkg dir -> result
	once    map[string]*sync.Once     // pkg dir -> build once
	deps    map[string]depsResult     // codeDeps entry -> its files, hashed
	// builds are the Go builds this run made, each by the first stage to
	// need the package (the others waited for it).
	builds []runstate.ProcessorBuild

	notCodeOnce sync.Once
	notCode     map[string]bool // workspace dirs whose files are not code (code.go)
	resMu       sync.Mutex
	resolver    *execpath.Resolver // real paths of argument files (code.go)
}

type goBuildResult struct {
	p   *proc
	err error
}

func newProcs(p *pipeline.Pipeline, cache *hashcache.Cache, vet VetFunc) *procs {
	return &procs{p: p, cache: cache, vet: vet, goEnv: toolenv.Go(GoHome(p)),
		execs: map[string]*proc{}, gos: map[string]*goBuildResult{}, once: map[string]*sync.Once{}, sources: map[string]sourceResult{}, bins: map[string]execBin{},
		deps: map[string]depsResult{}}
}

// GoSources are the source hashes of p's Go processors, computed once
// (by preflight, to key its lint verdicts) and handed to the run through
// Options.GoSources, so that a no-op run does not hash them twice.
type GoSources struct {
	p       *pipeline.Pipeline
	sources map[string]sourceResult // pkg dir -> source hash and module root
	// cache is the stat cache read to hash them: a run of the same
	// pipeline in this process takes it over instead of reading the file
	// again (its entries are checked against each file's stat anyway).
	cache *hashcache.Cache
}

// Hashes maps each package dir to its source hash (the processor version).
func (g *GoSources) Hashes() map[string]string {
	out := make(map[string]string, len(g.sources))
	for dir, r := range g.sources {
		out[dir] = r.hash
	}
	return out
}

// GoSourceHashes returns, for every distinct Go processor package of p, its
// source hash (the processor version), keyed by absolute package dir.
func GoSourceHashes(p *pipeline.Pipeline) (map[string]string, error) {
	g, err := HashGoSources(p)
	if err != nil {
		return nil, err
	}
	return g.Hashes(), nil
}

// HashGoSources hashes every distinct Go processor package of p. It
// reads the stat cache but writes nothing. A package it cannot hash is a
// problem of the spec: a *pipeline.SpecError naming the stage's field.
func HashGoSources(p *pipeline.Pipeline) (*GoSources, error) {
	out := &GoSources{p: p, sources: map[string]sourceResult{}}
	var ps *procs
	for i := range p.Stages {
		st := &p.Stages[i]
		if st.Processor.Kind != "go" {
			continue
		}
		if ps == nil {
			out.cache = hashcache.Open(Layout(p).HashCache())
			ps = newProcs(p, out.cache, nil)
		}
		dir := p.Abs(st.Processor.Go)
		h, root, err := ps.goSource(dir)
		if err != nil {
			// An unreadable processor package is a problem of the spec.
			return nil, &pipeline.SpecError{Field: fmt.Sprintf("stages[%d].processor.go", i), Msg: err.Error(), Err: err}
		}
		out.sources[dir] = sourceResult{hash: h, root: root}
	}
	return out, nil
}

// seed takes source hashes computed earlier in this process for the same
// pipeline.
func (ps *procs) seed(g *GoSources) {
	if g == nil || g.p != ps.p {
		return
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	for dir, r := range g.sources {
		ps.sources[dir] = r
	}
}

// versionOnly returns the processor version and the stage's code files
// without building anything; used by plan.
func (ps *procs) versionOnly(st *pipeline.Stage) (string, []InputID, error) {
	if st.Processor.Kind == "go" {
		src, _, err := ps.goSource(ps.p.Abs(st.Processor.Go))
		if err != nil {
			return "", nil, err
		}
		code, err := ps.code(st, nil)
		return src, code, err
	}
	pr, err := ps.resolveExec(st)
	if err != nil {
		return "", nil, err
	}
	code, err := ps.code(st, pr)
	return pr.Version, code, err
}

// resolve returns the runnable processor of a stage, building it if needed.
func (ps *procs) resolve(ctx context.Context, st *pipeline.Stage) (*proc, error) {
	if st.Processor.Kind == "go" {
		return ps.buildGo(ctx, ps.p.Abs(st.Processor.Go), st)
	}
	return ps.resolveExec(st)
}

// goBuilds are the Go builds of the run so far, in the order they started.
func (ps *procs) goBuilds() []runstate.ProcessorBuild {
	if ps == nil {
		return nil
	}
	ps.mu.Lock()
	out := slices.Clone(ps.builds)
	ps.mu.Unlock()
	sort.SliceStable(out, func(i, j int) bool { return out[i].StartedAt.Before(out[j].StartedAt) })
	return out
}

// resolveExec resolves and hashes an exec stage's program once per
// distinct argv (and PATH, which "#!/usr/bin/env NAME" depends on).
func (ps *procs) resolveExec(st *pipeline.Stage) (*proc, error) {
	argv := st.Processor.Exec
	searchPath := execpath.SearchPath(st.Env)
	key := strings.Join(argv, "\x00") + "\x00\x00" + searchPath
	ps.mu.Lock()
	if pr, ok := ps.execs[key]; ok {
		ps.mu.Unlock()
		return pr, nil
	}
	binKey := argv[0] + "\x00" + searchPath
	bin, ok := ps.bins[binKey]
	ps.mu.Unlock()
	// The program is resolved and hashed once per argv[0]; many stages
	// usually share one (sh, python3, a tool of the workspace).
	if !ok {
		// The policy judges the Real of this same resolution, and of its
		// interpreters.
		prog, err := execpath.ResolveIn(ps.p.Workspace, argv[0], searchPath)
		if err != nil {
			return nil, err
		}
		files := []inputFile{{Rel: ps.codeName(prog.Path, prog.Real), Abs: prog.Path}}
		for _, it := range prog.Interpreters {
			files = append(files, inputFile{Rel: ps.codeName(it.Path, it.Real), Abs: it.Path})
		}
		ids, _, err := hashFiles(ps.cache, files, "hashing processor code")
		if err != nil {
			return nil, err
		}
		bin = execBin{path: prog.Path, interps: prog.Interpreters, code: ids}
		ps.mu.Lock()
		ps.bins[binKey] = bin
		ps.mu.Unlock()
	}
	args, _, err := hashFiles(ps.cache, ps.argFiles(argv[1:]), "hashing processor code")
	if err != nil {
		return nil, err
	}
	// The argv is the processor's version; what it runs, and the files it
	// names, are its code (KeyParts.Code), each named in plan's reasons.
	h := sha256.New()
	h.Write([]byte("exec"))
	for _, a := range argv {
		h.Write([]byte{0})
		h.Write([]byte(a))
	}
	pr := &proc{Path: bin.path, Args: argv, Version: hex.EncodeToString(h.Sum(nil)), Interpreters: bin.interps,
		Code: append(slices.Clip(bin.code), args...), argFiles: len(args)}
	ps.mu.Lock()
	ps.execs[key] = pr
	ps.mu.Unlock()
	return pr, nil
}

// execBin is a resolved exec program with its interpreters, hashed.
type execBin struct {
	path    string
	interps []execpath.Interpreter
	code    []InputID
}

type sourceResult struct {
	hash, root string
	err        error
}

// goSource returns the source hash of a Go package, computed once per run.
func (ps *procs) goSource(dir string) (string, string, error) {
	ps.mu.Lock()
	r, ok := ps.sources[dir]
	ps.mu.Unlock()
	if ok {
		return r.hash, r.root, r.err
	}
	h, root, err := ps.computeGoSource(dir)
	ps.mu.Lock()
	ps.sources[dir] = sourceResult{h, root, err}
	ps.mu.Unlock()
	return h, root, err
}

// computeGoSource computes the source hash of the Go main package in dir: every
// build-relevant file of the package and of the packages of the same module
// it imports (transitively), go.mod and go.sum, the Go version and the
// target platform. It returns the hash and the module root.
func (ps *procs) computeGoSource(dir string) (string, string, error) {
	root, modPath, err := findModule(dir)
	if err != nil {
		return "", "", err
	}
	ctx := build.Default
	h := sha256.New()
	fmt.Fprintf(h, "go\x00%s\x00%s\x00%s\x00%s\n", runtime.Version(), ctx.GOOS, ctx.GOARCH, modPath)
	for _, f := range []string{"go.mod", "go.sum"} {
		sum, _, err := ps.cache.Sum(filepath.Join(root, f))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return "", "", err
		}
		fmt.Fprintf(h, "%s %s\n", f, sum)
	}
	seen := map[string]bool{}
	queue := []string{dir}
	var pkgs []string
	for len(queue) > 0 {
		d := queue[0]
		queue = queue[1:]
		if seen[d] {
			continue
		}
		seen[d] = true
		pkg, err := ctx.ImportDir(d, 0)
		if err != nil {
			return "", "", fmt.Errorf("reading Go package %s: %w", d, err)
		}
		pkgs = append(pkgs, d)
		for _, imp := range pkg.Imports {
			if imp == modPath || strings.HasPrefix(imp, modPath+"/") {
				queue = append(queue, filepath.Join(root, filepath.FromSlash(strings.TrimPrefix(imp, modPath))))
			}
		}
		var files []string
		for _, set := range [][]string{pkg.GoFiles, pkg.CgoFiles, pkg.SFiles, pkg.CFiles, pkg.HFiles, pkg.EmbedPatterns} {
			files = append(files, set...)
		}
		sort.Strings(files)
		rel, _ := filepath.Rel(root, d)
		for _, f := range files {
			sum, _, err := ps.cache.Sum(filepath.Join(d, f))
			if err != nil {
				// embed patterns may be globs: hash the pattern text only
				sum = "pattern"
			}
			fmt.Fprintf(h, "%s/%s %s\n", filepath.ToSlash(rel), f, sum)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), root, nil
}

func findModule(dir string) (root, modPath string, err error) {
	d := dir
	for {
		b, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err == nil {
			for _, line := range bytes.Split(b, []byte("\n")) {
				f := strings.Fields(string(line))
				if len(f) >= 2 && f[0] == "module" {
					return d, strings.Trim(f[1], `"`), nil
				}
			}
			return "", "", fmt.Errorf("%s/go.mod has no module line", d)
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", "", fmt.Errorf("Go processor %s is not inside a Go module (no go.mod)", dir)
		}
		d = parent
	}
}

func (ps *procs) buildGo(ctx context.Context, dir string, st *pipeline.Stage) (*proc, error) {
	ps.mu.Lock()
	o, ok := ps.once[dir]
	if !ok {
		o = &sync.Once{}
		ps.once[dir] = o
	}
	ps.mu.Unlock()
	o.Do(func() {
		pr, err := ps.buildGoOnce(ctx, dir, st)
		ps.mu.Lock()
		ps.gos[dir] = &goBuildResult{p: pr, err: err}
		ps.mu.Unlock()
	})
	ps.mu.Lock()
	defer ps.mu.Unlock()
	r := ps.gos[dir]
	return r.p, r.err
}

func (ps *procs) buildGoOnce(ctx context.Context, dir string, st *pipeline.Stage) (_ *proc, err error) {
	src, root, err := ps.goSource(dir)
	if err != nil {
		return nil, err
	}
	name := filepath.Base(dir)
	if runtime.GOOS == "windows" {
		name += ".exe"
	}
	binDir := Layout(ps.p).BinDir(src)
	bin := filepath.Join(binDir, name)
	if _, err := os.Lstat(bin); err == nil {
		// A cached binary runs only if it still has the digest it was
		// built with; anything else is rebuilt.
		if ps.verifyBinary(bin) == nil {
			return &proc{Path: bin, Args: []string{bin}, Version: src}, nil
		}
		_ = os.Remove(bin)
		_ = os.Remove(bin + digestExt)
	}
	// From here on the stage waits for a build: a phase of its own in the
	// run record and the report.
	start := time.Now().UTC()
	defer func() {
		end := time.Now().UTC()
		b := runstate.ProcessorBuild{Stage: st.Name, Package: st.Processor.Go, StartedAt: start, EndedAt: end,
			Seconds: end.Sub(start).Seconds(), Failed: err != nil}
		ps.mu.Lock()
		ps.builds = append(ps.builds, b)
		ps.mu.Unlock()
	}()
	if ps.vet != nil {
		if err := ps.vet(ctx, dir, src); err != nil {
			return nil, &VetError{Dir: dir, Err: err}
		}
	}
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		return nil, fmt.Errorf("creating build cache: %w", err)
	}
	if err := os.MkdirAll(GoHome(ps.p), 0o700); err != nil {
		return nil, fmt.Errorf("creating the go command's home: %w", err)
	}
	if err := toolenv.TelemetryOff(GoHome(ps.p)); err != nil {
		return nil, err
	}
	tmp := bin + ".build" + fmt.Sprint(os.Getpid())
	rel, _ := filepath.Rel(root, dir)
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", tmp, "./"+filepath.ToSlash(rel))
	cmd.Dir = root
	cmd.Env = ps.goEnv
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		_ = os.Remove(tmp)
		return nil, fmt.Errorf("building Go processor %s: %w\n%s", rel, err, strings.TrimSpace(out.String()))
	}
	sum, err := hashcache.File(tmp)
	if err == nil {
		err = atomicfile.WriteFile(bin+digestExt, []byte(sum+"\n"), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp, bin)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return nil, fmt.Errorf("caching Go processor %s: %w", rel, err)
	}
	return &proc{Path: bin, Args: []string{bin}, Version: src}, nil
}

// digestExt names the file next to a cached Go processor binary that
// holds its SHA-256, written when it was built.
const digestExt = ".sha256"

// verifyBinary checks a cached Go processor binary against its digest: a
// regular file (not a symlink) with the SHA-256 recorded at build time.
func (ps *procs) verifyBinary(bin string) error {
	fi, err := os.Lstat(bin)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("cached processor %s is not a regular file", bin)
	}
	want, err := os.ReadFile(bin + digestExt)
	if err != nil {
		return fmt.Errorf("reading the digest of cached processor %s: %w", bin, err)
	}
	got, _, err := ps.cache.Sum(bin)
	if err != nil {
		return err
	}
	if strings.TrimSpace(string(want)) != got {
		return fmt.Errorf("cached processor %s does not match its digest", bin)
	}
	return nil
}
