package rawsocket

import (
	"fmt"
	"go/ast"
	"go/constant"
	"go/token"
	"go/types"
	"sort"
	"strings"

	"github.com/guardrun/guardrun/analyzers/internal/netpolicy"
	"github.com/guardrun/guardrun/analyzers/internal/values"
	"golang.org/x/tools/go/analysis/passes/buildssa"
	"golang.org/x/tools/go/ast/astutil"
	"golang.org/x/tools/go/ssa"
)

type summary struct {
	chain []string
	what  string
	traps []int
}

type ssaState struct {
	c       *checker
	r       *values.Resolver
	res     *buildssa.SSA
	sums    map[*ssa.Function]*summary
	started map[*ssa.Function]bool
	traps   map[*types.Package]map[int64]string
}

// ssa judges trap numbers by value and follows calls through facts.
func (c *checker) ssa(res *buildssa.SSA) {
	st := &ssaState{c: c, r: values.New(res), res: res, sums: map[*ssa.Function]*summary{},
		started: map[*ssa.Function]bool{}, traps: map[*types.Package]map[int64]string{}}
	var roots []*ssa.Function
	if init := res.Pkg.Func("init"); init != nil {
		roots = append(roots, init)
	}
	for _, fn := range res.SrcFuncs {
		if fn.Parent() == nil {
			roots = append(roots, fn)
		}
	}
	for _, fn := range roots {
		s := st.summary(fn)
		if len(s.chain) == 0 && len(s.traps) == 0 {
			continue
		}
		if obj, ok := fn.Object().(*types.Func); ok && obj.Pkg() == c.pass.Pkg {
			c.pass.ExportObjectFact(obj, &Sockets{Chain: s.chain, What: s.what, Traps: s.traps})
		}
	}
}

func (st *ssaState) summary(fn *ssa.Function) *summary {
	if s, ok := st.sums[fn]; ok {
		return s
	}
	if st.started[fn] {
		return &summary{}
	}
	st.started[fn] = true
	s := &summary{}
	if obj, ok := fn.Object().(*types.Func); ok {
		if f, ok := st.c.direct[obj]; ok {
			s.chain, s.what = []string{shortSSA(fn), f.subject}, "makes a raw network call"
		}
	}
	var visit func(f *ssa.Function)
	visit = func(f *ssa.Function) {
		for _, b := range f.Blocks {
			for _, ins := range b.Instrs {
				if call, ok := ins.(ssa.CallInstruction); ok {
					st.call(fn, s, call)
				}
			}
		}
		for _, a := range f.AnonFuncs {
			visit(a)
		}
	}
	visit(fn)
	sort.Ints(s.traps)
	st.sums[fn] = s
	return s
}

func (st *ssaState) call(fn *ssa.Function, s *summary, ins ssa.CallInstruction) {
	common := ins.Common()
	callee := st.r.Callee(common)
	if callee == nil {
		return
	}
	if callee.Pkg != nil && contains(SyscallPackages, callee.Pkg.Pkg.Path()) && contains(syscallFuncs, callee.Name()) &&
		callee.Signature.Recv() == nil && len(common.Args) > 0 {
		pos := st.callPos(ins.Pos())
		st.trap(fn, s, pos, callee.Pkg.Pkg, common.Args[0], fmt.Sprintf("raw system call %s.%s", callee.Pkg.Pkg.Name(), callee.Name()))
		return
	}
	cs := st.calleeSummary(callee)
	if cs == nil || len(cs.chain) == 0 && len(cs.traps) == 0 {
		return
	}
	pos := st.callPos(ins.Pos())
	name := shortSSA(callee)
	for _, i := range cs.traps {
		if i < len(common.Args) {
			st.trap(fn, s, pos, syscallPkg(st.c.pass.Pkg), common.Args[i], "raw system call through "+name)
		}
	}
	if len(cs.chain) > 0 {
		chain := append([]string{shortSSA(fn)}, cs.chain...)
		if callee.Pkg != fn.Pkg {
			f := finding{pos, pos, cs.chain[len(cs.chain)-1],
				fmt.Sprintf("calls %s, which %s: %s", name, cs.what, strings.Join(chain, " -> "))}
			if !st.c.report(f) {
				return
			}
		}
		if len(s.chain) == 0 {
			s.chain, s.what = chain, cs.what
		}
	}
}

// trap judges a trap number argument.
func (st *ssaState) trap(fn *ssa.Function, s *summary, pos token.Pos, pkg *types.Package, v ssa.Value, what string) {
	names := st.socketTraps(pkg)
	for _, alt := range st.r.Ints(v) {
		switch {
		case alt.Known:
			name, ok := names[alt.Value]
			if !ok {
				continue
			}
			f := finding{pos, pos, pkg.Path() + "." + name,
				fmt.Sprintf("%s(%s) opens or uses a socket", what, name)}
			if st.c.report(f) && len(s.chain) == 0 {
				s.chain, s.what = []string{shortSSA(fn), pkg.Path() + "." + name}, "makes a raw network call"
			}
			return
		case alt.Param >= 0:
			if !containsInt(s.traps, alt.Param) {
				s.traps = append(s.traps, alt.Param)
			}
		default:
			if st.c.pol.ReportUnresolved() {
				st.c.report(finding{pos, pos, netpolicy.UnresolvedSubject,
					fmt.Sprintf("unresolved trap: %s with a trap number netlint cannot resolve; use a constant, or allow it with //netlint:allow <reason>", what)})
			}
			return
		}
	}
}

// socketTraps maps the socket trap numbers of pkg (syscall or x/sys/unix,
// as compiled for this GOOS/GOARCH) to their names.
func (st *ssaState) socketTraps(pkg *types.Package) map[int64]string {
	if m, ok := st.traps[pkg]; ok {
		return m
	}
	m := map[int64]string{}
	if pkg != nil {
		for _, name := range SocketTraps {
			if c, ok := pkg.Scope().Lookup(name).(*types.Const); ok {
				if v, ok := constant.Int64Val(constant.ToInt(c.Val())); ok {
					if _, dup := m[v]; !dup {
						m[v] = name
					}
				}
			}
		}
	}
	st.traps[pkg] = m
	return m
}

// syscallPkg finds the syscall package among the imports of pkg (for trap
// numbers passed to a helper of another package).
func syscallPkg(pkg *types.Package) *types.Package {
	var found *types.Package
	var visit func(p *types.Package, depth int)
	seen := map[*types.Package]bool{}
	visit = func(p *types.Package, depth int) {
		if seen[p] || found != nil || depth > 8 {
			return
		}
		seen[p] = true
		if p.Path() == "syscall" {
			found = p
			return
		}
		for _, q := range p.Imports() {
			visit(q, depth+1)
		}
	}
	visit(pkg, 0)
	return found
}

func (st *ssaState) calleeSummary(callee *ssa.Function) *summary {
	if callee.Pkg == st.res.Pkg && callee.Blocks != nil {
		if callee.Parent() != nil {
			return nil
		}
		return st.summary(callee)
	}
	obj, ok := callee.Object().(*types.Func)
	if !ok {
		if o := callee.Origin(); o != nil {
			obj, ok = o.Object().(*types.Func)
		}
	}
	if !ok || obj.Pkg() == nil || obj.Pkg() == st.c.pass.Pkg {
		return nil
	}
	var f Sockets
	if !st.c.pass.ImportObjectFact(obj, &f) {
		return nil
	}
	return &summary{chain: f.Chain, what: f.What, traps: f.Traps}
}

func (st *ssaState) callPos(pos token.Pos) token.Pos {
	for _, f := range st.c.pass.Files {
		if f.FileStart <= pos && pos <= f.FileEnd {
			path, _ := astutil.PathEnclosingInterval(f, pos, pos)
			for _, n := range path {
				if call, ok := n.(*ast.CallExpr); ok && call.Lparen == pos {
					return call.Pos()
				}
			}
		}
	}
	return pos
}

func shortSSA(fn *ssa.Function) string {
	for fn.Parent() != nil {
		fn = fn.Parent()
	}
	name := fn.Name()
	if recv := fn.Signature.Recv(); recv != nil {
		t := recv.Type()
		if p, ok := t.(*types.Pointer); ok {
			t = p.Elem()
		}
		if n, ok := t.(*types.Named); ok {
			name = n.Obj().Name() + "." + name
		}
	}
	if fn.Pkg != nil {
		return fn.Pkg.Pkg.Name() + "." + name
	}
	return name
}

func containsInt(list []int, n int) bool {
	for _, x := range list {
		if x == n {
			return true
		}
	}
	return false
}
