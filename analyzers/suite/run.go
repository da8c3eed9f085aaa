package suite

import (
	"context"
	"errors"
	"fmt"
	"go/parser"
	"go/token"
	"go/types"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/guardrun/guardrun/analyzers/internal/netpolicy"
	"github.com/guardrun/guardrun/analyzers/lint"
	"golang.org/x/tools/go/analysis/checker"
	"golang.org/x/tools/go/packages"
)

// Finding is one netlint diagnostic (lint.Finding, which callers that do
// not lint can use without linking this package).
type Finding = lint.Finding

// Options configure Run.
type Options struct {
	// Dir is the directory packages are loaded from and positions are made
	// relative to; "" means the working directory.
	Dir string
	// Patterns are go list patterns; none means ".".
	Patterns []string
	// Transitive adds the nettransitive analyzer.
	Transitive bool
	// Tests also lints the packages' test files.
	Tests bool
	// Env is added to the process environment for go list (GOOS=windows,
	// GOFLAGS=-tags=x, ...).
	Env []string
	// BuildFlags are passed to go list (for example "-tags=integration").
	BuildFlags []string
	// FromFlags uses the policy of the command-line flags (-deny, -allow,
	// -config); otherwise the defaults plus the .netlint.json discovered from
	// Dir are used.
	FromFlags bool
	// Timings, if set, receives the duration of each phase.
	Timings func(phase string, d time.Duration)
	// Deps also analyses, for their facts only, the dependencies in
	// versioned modules (the module cache), so that a call chain through
	// them (a.F -> dep.G -> syscall.Socket) is reported. Dependencies in
	// local modules (a directory replace, a go.work module, GOPATH) are
	// analysed that way always. The standard library, opaque and denied
	// packages never are. Their own findings are not reported.
	Deps bool
}

// Error is a failure to lint (as opposed to findings): an invalid config, a
// package that does not load or type-check, or an analyzer failure
// (lint.Error). Which exit code it means is for each command to decide.
type Error = lint.Error

// VetPackage lints the Go package in dir (a main package inside some module)
// the way guardrun needs before building a go processor: the default lists
// plus the .netlint.json found from dir up to its module root, test files
// excluded. Findings are not an error; the caller turns them into exit 3.
// Warnings (see Finding.Severity) are left out: they must not fail a run.
func VetPackage(ctx context.Context, dir string, transitive bool) ([]Finding, error) {
	fs, err := Run(ctx, Options{Dir: dir, Patterns: []string{"."}, Transitive: transitive})
	out := fs[:0:0]
	for _, f := range fs {
		if !f.IsWarning() {
			out = append(out, f)
		}
	}
	if fs != nil && out == nil {
		out = []Finding{}
	}
	return out, err
}

// Run loads the packages of opts and returns the findings of the netlint
// analyzers, sorted by position and without duplicates (a file shared by a
// package and its test variant is reported once).
func Run(ctx context.Context, opts Options) ([]Finding, error) {
	timed := func(phase string, start time.Time) {
		if opts.Timings != nil {
			opts.Timings(phase, time.Since(start))
		}
	}
	dir := opts.Dir
	if dir == "" {
		wd, err := os.Getwd()
		if err != nil {
			return nil, &Error{Op: "load", Err: err}
		}
		dir = wd
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, &Error{Op: "load", Err: err}
	}
	var pol *netpolicy.Policy
	if opts.FromFlags {
		pol, err = netpolicy.Global()
	} else {
		pol, _, err = netpolicy.ForDir(dir)
	}
	if err != nil {
		return nil, &Error{Op: "config", Err: err}
	}
	patterns := opts.Patterns
	if len(patterns) == 0 {
		patterns = []string{"."}
	}

	fset := token.NewFileSet()
	config := func(mode packages.LoadMode) *packages.Config {
		return &packages.Config{
			Context:    ctx,
			Dir:        dir,
			Env:        append(os.Environ(), opts.Env...),
			Mode:       mode,
			Tests:      opts.Tests,
			BuildFlags: opts.BuildFlags,
			Fset:       fset,
		}
	}

	start := time.Now()
	phase := func(name string, f func()) {
		t := time.Now()
		f()
		timed(name, t)
	}
	l, err := load(ctx, config, patterns, pol, opts.Deps, fset, phase)
	timed("load", start)
	if err != nil {
		return nil, &Error{Op: "load", Err: err}
	}
	graph, roots, requested := l.graph, l.source, l.requested
	if len(roots) == 0 {
		return nil, &Error{Op: "load", Err: fmt.Errorf("%s matched no packages", strings.Join(patterns, " "))}
	}
	// A package that does not compile is an error, but it must not hide
	// the findings of the others: they are analysed and returned with it.
	var (
		loadErrs []error
		good     []*packages.Package
	)
	for _, p := range roots {
		if !requested[p.ID] && (len(p.Errors) > 0 || p.IllTyped) {
			continue // a dependency analysed for its facts: its importers say it
		}
		for _, e := range p.Errors {
			loadErrs = append(loadErrs, e)
		}
		if len(p.Errors) == 0 && !p.IllTyped {
			good = append(good, p)
		}
	}
	if !slices.ContainsFunc(good, func(p *packages.Package) bool { return requested[p.ID] }) {
		return nil, &Error{Op: "load", Err: errors.Join(loadErrs...)}
	}
	roots = good

	if opts.Transitive {
		start = time.Now()
		if err := stitch(roots, graph, fset); err != nil {
			return nil, &Error{Op: "load", Err: err}
		}
		timed("graph", start)
	}

	start = time.Now()
	res, err := checker.Analyze(forPolicy(pol, opts.Transitive), roots, &checker.Options{})
	timed("analyze", start)
	if err != nil {
		return nil, &Error{Op: "analyze", Err: err}
	}
	var (
		findings []Finding
		failures []error
		seen     = map[Finding]bool{}
	)
	for _, act := range res.Roots {
		if !requested[act.Package.ID] {
			continue // analysed for its facts only
		}
		if act.Err != nil {
			failures = append(failures, fmt.Errorf("%s: %w", act, act.Err))
			continue
		}
		for _, d := range act.Diagnostics {
			f := Finding{
				Pos:      relPos(act.Package.Fset.Position(d.Pos), dir),
				Analyzer: act.Analyzer.Name,
				Message:  d.Message,
			}
			if d.Category == netpolicy.WarningCategory {
				f.Severity = lint.Warning
			}
			if !seen[f] {
				seen[f] = true
				findings = append(findings, f)
			}
		}
	}
	sortFindings(findings)
	if len(failures) > 0 {
		return findings, &Error{Op: "analyze", Err: errors.Join(failures...)}
	}
	if len(loadErrs) > 0 {
		return findings, &Error{Op: "load", Err: fmt.Errorf("%w (the packages that load were analysed: %d finding(s) reported)", errors.Join(loadErrs...), len(findings))}
	}
	return findings, nil
}

// dropTestMains removes the generated main packages of test binaries.
func dropTestMains(pkgs []*packages.Package) []*packages.Package {
	out := pkgs[:0:0]
	for _, p := range pkgs {
		if strings.HasSuffix(p.ID, ".test") && p.Name == "main" {
			continue
		}
		out = append(out, p)
	}
	return out
}

// stitch replaces the import graph below the type-checked roots by light
// packages built from the go list graph: a types.Package whose Imports are
// its direct imports, and, for packages of unversioned modules, the import
// declarations of its files (so that their directives count).
func stitch(roots, graph []*packages.Package, fset *token.FileSet) error {
	byID := map[string]*packages.Package{}
	for _, r := range roots {
		byID[r.ID] = r
	}
	sizes := roots[0].TypesSizes
	nodes := map[string]*packages.Package{} // graph ID -> package given to the checker
	var (
		visit    func(g *packages.Package) *packages.Package
		parseErr error
	)
	visit = func(g *packages.Package) *packages.Package {
		if n, ok := nodes[g.ID]; ok {
			return n
		}
		n, isRoot := byID[g.ID]
		if !isRoot {
			n = &packages.Package{
				ID:         g.ID,
				Name:       g.Name,
				PkgPath:    g.PkgPath,
				Module:     g.Module,
				GoFiles:    g.GoFiles,
				Fset:       fset,
				TypesSizes: sizes,
				Types:      types.NewPackage(g.PkgPath, g.Name),
			}
			if g.PkgPath == "unsafe" {
				n.Types = types.Unsafe
			}
			if mode, ok := syntaxMode(g); ok {
				for _, file := range g.GoFiles {
					f, err := parser.ParseFile(fset, file, nil, mode)
					if err != nil {
						parseErr = errors.Join(parseErr, err)
						continue
					}
					n.Syntax = append(n.Syntax, f)
				}
			}
		}
		nodes[g.ID] = n
		imports := make(map[string]*packages.Package, len(g.Imports))
		var tpkgs []*types.Package
		for path, dep := range g.Imports {
			d := visit(dep)
			imports[path] = d
			tpkgs = append(tpkgs, d.Types)
		}
		n.Imports = imports
		if !isRoot && n.Types != types.Unsafe {
			sort.Slice(tpkgs, func(i, j int) bool { return tpkgs[i].Path() < tpkgs[j].Path() })
			n.Types.SetImports(tpkgs)
			n.Types.MarkComplete()
		}
		return n
	}
	for _, g := range graph {
		visit(g) // a requested package that did not compile is a light node
	}
	for _, r := range roots {
		if _, ok := nodes[r.ID]; !ok {
			return fmt.Errorf("package %s is missing from the import graph", r.ID)
		}
	}
	return parseErr
}

// syntaxMode reports whether g's files have to be read and how: in full
// when g imports a package judged by use (net only for net.IP, ...; see
// netpolicy.DataSymbols), so that nettransitive can see what is used;
// their imports when directives in them are honoured (see
// suppress.Honoured).
func syntaxMode(g *packages.Package) (parser.Mode, bool) {
	if netpolicy.IsStd(g.PkgPath) {
		return 0, false
	}
	for path := range g.Imports {
		if netpolicy.HasDataSymbols(path) {
			return parser.ParseComments | parser.SkipObjectResolution, true
		}
	}
	if g.Module == nil || g.Module.Version == "" {
		return parser.ImportsOnly | parser.ParseComments, true
	}
	return 0, false
}

func relPos(p token.Position, dir string) string {
	file := p.Filename
	if rel, err := filepath.Rel(dir, file); err == nil && !strings.HasPrefix(rel, "..") {
		file = rel
	}
	return fmt.Sprintf("%s:%d:%d", file, p.Line, p.Column)
}

func sortFindings(fs []Finding) {
	key := func(f Finding) (string, int, int) {
		parts := strings.Split(f.Pos, ":")
		n := len(parts)
		var line, col int
		if n >= 3 {
			fmt.Sscan(parts[n-2], &line)
			fmt.Sscan(parts[n-1], &col)
			return strings.Join(parts[:n-2], ":"), line, col
		}
		return f.Pos, 0, 0
	}
	sort.SliceStable(fs, func(i, j int) bool {
		fi, li, ci := key(fs[i])
		fj, lj, cj := key(fs[j])
		if fi != fj {
			return fi < fj
		}
		if li != lj {
			return li < lj
		}
		if ci != cj {
			return ci < cj
		}
		if fs[i].Analyzer != fs[j].Analyzer {
			return fs[i].Analyzer < fs[j].Analyzer
		}
		return fs[i].Message < fs[j].Message
	})
}
