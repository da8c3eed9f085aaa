package nettransitive

import (
	"fmt"
	"go/ast"
	"go/types"
	"sort"
	"strconv"
	"strings"

	"github.com/guardrun/guardrun/analyzers/internal/netpolicy"
	"github.com/guardrun/guardrun/analyzers/internal/suppress"
	"golang.org/x/tools/go/analysis"
)

// Doc is the analyzer's documentation.
const Doc = `report imports that reach a forbidden package through other packages

nettransitive (netlint -transitive) reports each import of a package that is
not forbidden itself but imports, directly or through other packages, one
that is, with the shortest chain (a -> b -> c -> net/http). Suppress one
with "//netlint:allow <reason>"; a suppressed import is an accepted edge and
is not followed.`

// Reach is the fact exported for a package that reaches a forbidden package:
// the shortest chain of import paths from one of its direct imports to the
// forbidden package (the last element).
type Reach struct {
	Chain []string
}

// AFact marks Reach as an analysis fact.
func (*Reach) AFact() {}

func (r *Reach) String() string { return "reaches " + strings.Join(r.Chain, " -> ") }

// Analyzer uses the policy of the command-line flags (netpolicy.Global).
var Analyzer = New(netpolicy.Global)

// New returns a nettransitive analyzer that asks policy for its lists.
func New(policy func() (*netpolicy.Policy, error)) *analysis.Analyzer {
	return &analysis.Analyzer{
		Name:      "nettransitive",
		Doc:       Doc,
		URL:       "https://github.com/guardrun/guardrun/blob/main/docs/NETLINT.md#nettransitive",
		Run:       func(pass *analysis.Pass) (any, error) { return run(pass, policy) },
		FactTypes: []analysis.Fact{new(Reach)},
	}
}

// edge is one import of the analyzed package.
type edge struct {
	path string
	spec *ast.ImportSpec // nil when the package has no syntax (export data only)
	file *ast.File
}

func run(pass *analysis.Pass, policy func() (*netpolicy.Policy, error)) (any, error) {
	pol, err := policy()
	if err != nil {
		return nil, err
	}
	self := pass.Pkg.Path()
	if pol.Opaque(self) || pol.Forbidden(self) {
		return nil, nil
	}
	facts := depFacts(pass)
	ix := suppress.New(pass)

	var edges []edge
	if len(pass.Files) > 0 {
		for _, f := range pass.Files {
			for _, spec := range f.Imports {
				if p, err := strconv.Unquote(spec.Path.Value); err == nil {
					edges = append(edges, edge{p, spec, f})
				}
			}
		}
	} else {
		for _, imp := range pass.Pkg.Imports() {
			edges = append(edges, edge{path: imp.Path()})
		}
	}

	var best []string
	for _, e := range edges {
		if e.path == "C" || e.path == "unsafe" {
			continue
		}
		forbidden := pol.Forbidden(e.path)
		if forbidden && e.spec != nil {
			if ok, _ := netpolicy.DataOnly(e.file, e.spec, pass.TypesInfo); ok {
				continue // types, constants and parsing only: not an edge
			}
		}
		var chain []string
		switch {
		case forbidden:
			chain = []string{e.path}
		case pol.Opaque(e.path):
			continue
		default:
			r, ok := facts[e.path]
			if !ok {
				continue
			}
			chain = append([]string{e.path}, r.Chain...)
		}
		if e.spec != nil {
			if _, ok := ix.Allowed(e.spec.Pos()); ok {
				continue // accepted edge: cut
			}
		}
		file := ""
		if e.spec != nil {
			file = pass.Fset.File(e.spec.Pos()).Name()
		}
		if _, ok := pol.Except(self, file, netpolicy.KindImport, e.path); ok {
			continue
		}
		if better(chain, best) {
			best = chain
		}
		if !forbidden && e.spec != nil { // a forbidden import is netimport's finding
			msg := fmt.Sprintf("import %q reaches forbidden package %s: %s",
				e.path, chain[len(chain)-1], strings.Join(append([]string{self}, chain...), " -> "))
			if strings.HasSuffix(file, "_test.go") {
				msg += " (in a test file: only the test build imports it)"
			}
			pass.Report(analysis.Diagnostic{
				Pos:      e.spec.Pos(),
				End:      e.spec.End(),
				Category: "nettransitive",
				Message:  msg,
			})
		}
	}
	if best != nil {
		pass.ExportPackageFact(&Reach{Chain: best})
	}
	return nil, nil
}

// better orders chains: shorter first, then lexically, for determinism.
func better(c, than []string) bool {
	if than == nil {
		return true
	}
	if len(c) != len(than) {
		return len(c) < len(than)
	}
	return strings.Join(c, "\x00") < strings.Join(than, "\x00")
}

// depFacts maps import paths to the Reach facts of the dependencies. Two
// packages may share a path (a package and its test variant); the one the
// type checker imported wins, else the shorter chain.
func depFacts(pass *analysis.Pass) map[string]*Reach {
	direct := map[*types.Package]bool{}
	for _, p := range pass.Pkg.Imports() {
		direct[p] = true
	}
	all := pass.AllPackageFacts()
	sort.SliceStable(all, func(i, j int) bool { return direct[all[i].Package] && !direct[all[j].Package] })
	out := make(map[string]*Reach, len(all))
	exact := map[string]bool{}
	for _, pf := range all {
		r, ok := pf.Fact.(*Reach)
		if !ok || pf.Package == nil {
			continue
		}
		path := pf.Package.Path()
		if exact[path] {
			continue
		}
		if direct[pf.Package] {
			exact[path] = true
			out[path] = r
			continue
		}
		if cur, ok := out[path]; !ok || better(r.Chain, cur.Chain) {
			out[path] = r
		}
	}
	return out
}
