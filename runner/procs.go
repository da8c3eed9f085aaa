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
	"sort"
	"strings"
	"sync"

	"github.com/guardrun/guardrun/internal/execpath"
	"github.com/guardrun/guardrun/internal/hashcache"
	"github.com/guardrun/guardrun/pipeline"
)

// VetFunc vets a Go processor package before it is built (netlint). It is
// called only when no binary for the package's source hash is cached.
type VetFunc func(ctx context.Context, pkgDir, sourceHash string) error

// proc is a resolved, runnable processor.
type proc struct {
	Path    string   // executable
	Args    []string // argv
	Version string   // hex hash: source hash (go) or binary+argv hash (exec)
}

// procs resolves processors once per run and builds Go processors into a
// cache under stateDir/bin keyed by their source hash.
type procs struct {
	p     *pipeline.Pipeline
	cache *hashcache.Cache
	vet   VetFunc
	// goEnv is the environment of `go build`.
	goEnv []string

	mu      sync.Mutex
	sources map[string]sourceResult   // pkg dir -> source hash
	bins    map[string]execBin        // argv0 -> resolved program
	execs   map[string]*proc          // whole argv -> resolved
	gos     map[string]*goBuildResult // pkg dir -> result
	once    map[string]*sync.Once     // pkg dir -> build once
}

type goBuildResult struct {
	p   *proc
	err error
}

func newProcs(p *pipeline.Pipeline, cache *hashcache.Cache, vet VetFunc) *procs {
	return &procs{p: p, cache: cache, vet: vet, goEnv: os.Environ(),
		execs: map[string]*proc{}, gos: map[string]*goBuildResult{}, once: map[string]*sync.Once{}, sources: map[string]sourceResult{}, bins: map[string]execBin{}}
}

// GoSourceHashes returns, for every distinct Go processor package of p, its
// source hash (the processor version), keyed by absolute package dir. It
// reads the stat cache but writes nothing. A package it cannot hash is a
// problem of the spec: a *pipeline.SpecError naming the stage's field.
func GoSourceHashes(p *pipeline.Pipeline) (map[string]string, error) {
	out := map[string]string{}
	var ps *procs
	for i := range p.Stages {
		st := &p.Stages[i]
		if st.Processor.Kind != "go" {
			continue
		}
		if ps == nil {
			ps = newProcs(p, hashcache.Open(Layout(p).HashCache()), nil)
		}
		dir := p.Abs(st.Processor.Go)
		h, _, err := ps.goSource(dir)
		if err != nil {
			// An unreadable processor package is a problem of the spec.
			return nil, &pipeline.SpecError{Field: fmt.Sprintf("stages[%d].processor.go", i), Msg: err.Error(), Err: err}
		}
		out[dir] = h
	}
	return out, nil
}

// versionOnly returns the processor version without building anything; used
// by plan.
func (ps *procs) versionOnly(st *pipeline.Stage) (string, error) {
	if st.Processor.Kind == "go" {
		src, _, err := ps.goSource(ps.p.Abs(st.Processor.Go))
		return src, err
	}
	pr, err := ps.resolveExec(st.Processor.Exec)
	if err != nil {
		return "", err
	}
	return pr.Version, nil
}

// resolve returns the runnable processor of a stage, building it if needed.
func (ps *procs) resolve(ctx context.Context, st *pipeline.Stage) (*proc, error) {
	if st.Processor.Kind == "go" {
		return ps.buildGo(ctx, ps.p.Abs(st.Processor.Go))
	}
	return ps.resolveExec(st.Processor.Exec)
}

func (ps *procs) resolveExec(argv []string) (*proc, error) {
	key := strings.Join(argv, "\x00")
	ps.mu.Lock()
	if pr, ok := ps.execs[key]; ok {
		ps.mu.Unlock()
		return pr, nil
	}
	bin, ok := ps.bins[argv[0]]
	ps.mu.Unlock()
	// The program is resolved and hashed once per argv[0]; many stages
	// usually share one (sh, python3, a tool of the workspace).
	if !ok {
		// The policy judges the Real of this same resolution.
		prog, err := execpath.Resolve(ps.p.Workspace, argv[0])
		if err != nil {
			return nil, err
		}
		path := prog.Path
		sum, _, err := ps.cache.Sum(path)
		if err != nil {
			return nil, fmt.Errorf("hashing processor %s: %w", path, err)
		}
		bin = execBin{path: path, sum: sum}
		ps.mu.Lock()
		ps.bins[argv[0]] = bin
		ps.mu.Unlock()
	}
	h := sha256.New()
	h.Write([]byte("exec\x00" + bin.sum))
	for _, a := range argv {
		h.Write([]byte{0})
		h.Write([]byte(a))
	}
	pr := &proc{Path: bin.path, Args: argv, Version: hex.EncodeToString(h.Sum(nil))}
	ps.mu.Lock()
	ps.execs[key] = pr
	ps.mu.Unlock()
	return pr, nil
}

// execBin is a resolved exec program and its content hash.
type execBin struct{ path, sum string }

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

func (ps *procs) buildGo(ctx context.Context, dir string) (*proc, error) {
	ps.mu.Lock()
	o, ok := ps.once[dir]
	if !ok {
		o = &sync.Once{}
		ps.once[dir] = o
	}
	ps.mu.Unlock()
	o.Do(func() {
		pr, err := ps.buildGoOnce(ctx, dir)
		ps.mu.Lock()
		ps.gos[dir] = &goBuildResult{p: pr, err: err}
		ps.mu.Unlock()
	})
	ps.mu.Lock()
	defer ps.mu.Unlock()
	r := ps.gos[dir]
	return r.p, r.err
}

func (ps *procs) buildGoOnce(ctx context.Context, dir string) (*proc, error) {
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
	if _, err := os.Stat(bin); err == nil {
		return &proc{Path: bin, Args: []string{bin}, Version: src}, nil
	}
	if ps.vet != nil {
		if err := ps.vet(ctx, dir, src); err != nil {
			return nil, &VetError{Dir: dir, Err: err}
		}
	}
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		return nil, fmt.Errorf("creating build cache: %w", err)
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
	if err := os.Rename(tmp, bin); err != nil {
		return nil, fmt.Errorf("caching Go processor %s: %w", rel, err)
	}
	return &proc{Path: bin, Args: []string{bin}, Version: src}, nil
}
