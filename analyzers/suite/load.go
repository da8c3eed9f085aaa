package suite

import (
	"context"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/scanner"
	"go/token"
	"go/types"
	"os"
	"runtime"
	"strings"
	"sync"

	"github.com/guardrun/guardrun/analyzers/internal/netpolicy"
	"golang.org/x/tools/go/gcexportdata"
	"golang.org/x/tools/go/packages"
)

// The loader. go/packages' LoadSyntax asks "go list -export" for every
// package it lists, including the ones it then type-checks from source: a
// one-file edit recompiles the edited package, everything in the module
// that imports it and all their test variants before netlint looks at a
// line (13-24 s on restic, against 4-7 s unedited). netlint does not need
// that export data. So it loads in three steps:
//
//  1. the import graph of the requested packages ("go list -deps -test",
//     no compilation);
//  2. export data for the packages it will not read from source — the
//     standard library and versioned modules — which an edit in the linted
//     module never invalidates ("go list -export" of those alone);
//  3. every other package of the graph (the requested ones, their test
//     variants, the packages of local modules they import: a directory
//     replace, a go.work module, GOPATH), parsed and type-checked from
//     source in import order, in parallel.
//
// The packages of step 3 that were not requested are analysed for their
// facts only (a call chain through a sibling module is reported at the
// call), and their findings are dropped. With Options.Deps, versioned
// modules are read from source too.

// loaded is the result of load.
type loaded struct {
	// graph: the requested packages as go list returned them (with their
	// import graph), test mains dropped
	graph []*packages.Package
	// source: the packages type-checked from source, requested or not,
	// sharing their import graph with each other
	source []*packages.Package
	// requested: the IDs of the requested packages
	requested map[string]bool
}

const graphMode = packages.NeedName | packages.NeedFiles | packages.NeedCompiledGoFiles | packages.NeedImports |
	packages.NeedDeps | packages.NeedModule | packages.NeedTypesSizes | packages.NeedEmbedFiles

func load(ctx context.Context, config func(packages.LoadMode) *packages.Config, patterns []string,
	pol *netpolicy.Policy, deps bool, fset *token.FileSet, timed func(string, func())) (*loaded, error) {
	var (
		graph []*packages.Package
		err   error
	)
	timed("list", func() { graph, err = packages.Load(config(graphMode), patterns...) })
	if err != nil {
		return nil, err
	}
	graph = dropTestMains(graph)
	l := &loaded{graph: graph, requested: map[string]bool{}}
	for _, p := range graph {
		l.requested[p.ID] = true
	}

	// Which packages are read from source.
	var all []*packages.Package
	packages.Visit(graph, nil, func(p *packages.Package) { all = append(all, p) })
	fromSource := map[string]bool{}
	for _, p := range all {
		switch {
		case strings.HasSuffix(p.ID, ".test") && p.Name == "main":
		case l.requested[p.ID], p.ID != p.PkgPath && p.PkgPath != "":
			fromSource[p.ID] = true // asked for, or a test variant
		case netpolicy.IsStd(p.PkgPath) || p.PkgPath == "unsafe" || p.PkgPath == "C":
		case localModule(p.Module):
			fromSource[p.ID] = true
		case deps && !pol.Opaque(p.PkgPath) && !pol.Forbidden(p.PkgPath):
			fromSource[p.ID] = true
		}
	}
	// A package known by export data must not import one read from
	// source (its export data would name another copy of it).
	for changed := true; changed; {
		changed = false
		for _, p := range all {
			if fromSource[p.ID] || p.PkgPath == "unsafe" {
				continue
			}
			for _, d := range p.Imports {
				if fromSource[d.ID] {
					fromSource[p.ID], changed = true, true
					break
				}
			}
		}
	}

	// Export data for the others.
	var exportPaths []string
	for _, p := range all {
		if !fromSource[p.ID] && p.PkgPath != "unsafe" && !(strings.HasSuffix(p.ID, ".test") && p.Name == "main") {
			exportPaths = append(exportPaths, p.PkgPath)
		}
	}
	exportFiles := map[string]string{}
	if len(exportPaths) > 0 {
		var ex []*packages.Package
		timed("export", func() {
			cfg := config(packages.NeedName | packages.NeedExportFile)
			cfg.Tests = false
			ex, err = packages.Load(cfg, exportPaths...)
		})
		if err != nil {
			return nil, err
		}
		for _, p := range ex {
			exportFiles[p.PkgPath] = p.ExportFile
		}
	}

	timed("typecheck", func() { l.source = check(ctx, all, fromSource, exportFiles, fset) })
	return l, ctx.Err()
}

// check parses and type-checks the packages of fromSource, in import
// order and in parallel, the others coming from their export data; it
// returns the packages read from source, in the order of all.
func check(ctx context.Context, all []*packages.Package, fromSource map[string]bool, exportFiles map[string]string,
	fset *token.FileSet) []*packages.Package {
	var (
		exportMu sync.Mutex
		view     = map[string]*types.Package{} // gcexportdata's packages, by path
		exported = map[string]*packages.Package{}
		cpu      = make(chan struct{}, runtime.GOMAXPROCS(0))
		parsed   sync.Map // file name -> *parseResult (a package and its test variant share files)
	)
	fromExport := func(g *packages.Package) *packages.Package {
		exportMu.Lock()
		defer exportMu.Unlock()
		if p, ok := exported[g.PkgPath]; ok {
			return p
		}
		p := &packages.Package{ID: g.ID, Name: g.Name, PkgPath: g.PkgPath, Module: g.Module, Fset: fset,
			GoFiles: g.GoFiles, CompiledGoFiles: g.CompiledGoFiles, OtherFiles: g.OtherFiles, TypesSizes: g.TypesSizes}
		exported[g.PkgPath] = p
		if g.PkgPath == "unsafe" {
			p.Types = types.Unsafe
			return p
		}
		err := func() error {
			file := exportFiles[g.PkgPath]
			if file == "" {
				return fmt.Errorf("no export data for %s", g.PkgPath)
			}
			f, err := os.Open(file)
			if err != nil {
				return err
			}
			defer f.Close()
			r, err := gcexportdata.NewReader(f)
			if err != nil {
				return fmt.Errorf("reading %s: %w", file, err)
			}
			p.Types, err = gcexportdata.Read(r, fset, view, g.PkgPath)
			return err
		}()
		if err != nil {
			p.Errors = append(p.Errors, packages.Error{Pos: "-", Msg: err.Error(), Kind: packages.ListError})
			p.IllTyped = true
		}
		return p
	}

	type node struct {
		g    *packages.Package
		p    *packages.Package
		done chan struct{}
	}
	nodes := map[string]*node{}
	var order []*node
	for _, g := range all {
		if fromSource[g.ID] {
			n := &node{g: g, done: make(chan struct{})}
			n.p = &packages.Package{ID: g.ID, Name: g.Name, PkgPath: g.PkgPath, Module: g.Module, Fset: fset,
				GoFiles: g.GoFiles, CompiledGoFiles: g.CompiledGoFiles, OtherFiles: g.OtherFiles,
				EmbedFiles: g.EmbedFiles, EmbedPatterns: g.EmbedPatterns, IgnoredFiles: g.IgnoredFiles,
				TypesSizes: g.TypesSizes, Errors: append([]packages.Error(nil), g.Errors...)}
			nodes[g.ID] = n
			order = append(order, n)
		}
	}
	parse := func(name string) (*ast.File, error) {
		type result struct {
			once sync.Once
			f    *ast.File
			err  error
		}
		v, _ := parsed.LoadOrStore(name, &result{})
		r := v.(*result)
		r.once.Do(func() {
			src, err := os.ReadFile(name)
			if err != nil {
				r.err = err
				return
			}
			r.f, r.err = parser.ParseFile(fset, name, src, parser.AllErrors|parser.ParseComments|parser.SkipObjectResolution)
		})
		return r.f, r.err
	}

	var wg sync.WaitGroup
	for _, n := range order {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(n.done)
			imports := map[string]*packages.Package{}
			for path, d := range n.g.Imports {
				if dn, ok := nodes[d.ID]; ok {
					<-dn.done
					imports[path] = dn.p
				}
			}
			if ctx.Err() != nil {
				n.p.IllTyped = true
				return
			}
			cpu <- struct{}{}
			defer func() { <-cpu }()
			for path, d := range n.g.Imports {
				if _, ok := nodes[d.ID]; !ok {
					imports[path] = fromExport(d)
				}
			}
			n.p.Imports = imports
			typecheck(n.p, parse)
		}()
	}
	wg.Wait()
	out := make([]*packages.Package, len(order))
	for i, n := range order {
		out[i] = n.p
	}
	return out
}

// typecheck parses p's files and type-checks them against p.Imports,
// recording errors in p.Errors and p.IllTyped like go/packages.
func typecheck(p *packages.Package, parse func(string) (*ast.File, error)) {
	appendError := func(err error) {
		var (
			te types.Error
			se scanner.ErrorList
		)
		switch {
		case errors.As(err, &te):
			p.Errors = append(p.Errors, packages.Error{Pos: te.Fset.Position(te.Pos).String(), Msg: te.Msg, Kind: packages.TypeError})
		case errors.As(err, &se):
			for _, e := range se {
				p.Errors = append(p.Errors, packages.Error{Pos: e.Pos.String(), Msg: e.Msg, Kind: packages.ParseError})
			}
		default:
			p.Errors = append(p.Errors, packages.Error{Pos: "-", Msg: err.Error(), Kind: packages.UnknownError})
		}
	}
	for _, name := range p.CompiledGoFiles {
		f, err := parse(name)
		if err != nil {
			appendError(err)
		}
		if f != nil {
			p.Syntax = append(p.Syntax, f)
		}
	}
	p.Types = types.NewPackage(p.PkgPath, p.Name)
	p.TypesInfo = &types.Info{
		Types:        map[ast.Expr]types.TypeAndValue{},
		Defs:         map[*ast.Ident]types.Object{},
		Uses:         map[*ast.Ident]types.Object{},
		Implicits:    map[ast.Node]types.Object{},
		Instances:    map[*ast.Ident]types.Instance{},
		Scopes:       map[ast.Node]*types.Scope{},
		Selections:   map[*ast.SelectorExpr]*types.Selection{},
		FileVersions: map[*ast.File]string{},
	}
	importErrs := map[string]bool{}
	tc := &types.Config{
		Importer: importerFunc(func(path string) (*types.Package, error) {
			if path == "unsafe" {
				return types.Unsafe, nil
			}
			d := p.Imports[path]
			if d == nil {
				return nil, fmt.Errorf("no metadata for %s", path)
			}
			if d.Types == nil || !d.Types.Complete() {
				if !importErrs[path] && len(d.Errors) > 0 {
					importErrs[path] = true
					return nil, fmt.Errorf("%s: %s", path, d.Errors[0].Msg)
				}
				return nil, fmt.Errorf("could not import %s", path)
			}
			return d.Types, nil
		}),
		Error: appendError,
		Sizes: p.TypesSizes,
	}
	if p.Module != nil && p.Module.GoVersion != "" {
		tc.GoVersion = "go" + p.Module.GoVersion
	}
	err := types.NewChecker(tc, p.Fset, p.Types, p.TypesInfo).Files(p.Syntax)
	if err != nil && len(p.Errors) == 0 {
		appendError(err)
	}
	ill := len(p.Errors) > 0
	for _, d := range p.Imports {
		if d.IllTyped {
			ill = true
		}
	}
	p.IllTyped = ill
}

type importerFunc func(path string) (*types.Package, error)

func (f importerFunc) Import(path string) (*types.Package, error) { return f(path) }

// localModule reports whether m is local source: GOPATH (no module), a
// workspace or main module, or a module replaced by a directory.
func localModule(m *packages.Module) bool {
	switch {
	case m == nil:
		return true
	case m.Replace != nil:
		return m.Replace.Version == ""
	default:
		return m.Version == ""
	}
}
