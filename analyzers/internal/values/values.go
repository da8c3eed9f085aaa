package values

import (
	"fmt"
	"go/ast"
	"go/constant"
	"go/token"
	"go/types"
	"path"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/analysis/passes/buildssa"
	"golang.org/x/tools/go/ssa"
)

// SSA is buildssa for the packages netlint looks into, built lazily: its
// result is a *Lazy whose Get builds the SSA form on first use, so a
// package in which no analyzer finds anything to follow (most of them: no
// exec, no Syscall, no call of a function with a fact) costs no SSA. It
// builds nothing (Get returns nil) for packages without syntax
// (dependencies known only from export data), the standard library and
// golang.org/x/sys, whose calls are judged where they are made.
var SSA = &analysis.Analyzer{
	Name:       "netssa",
	Doc:        "build SSA for the netlint analyzers (buildssa, lazily, skipping packages without syntax and the standard library)",
	URL:        "https://github.com/guardrun/guardrun/blob/main/docs/NETLINT.md",
	Run:        func(pass *analysis.Pass) (any, error) { return &Lazy{pass: pass}, nil },
	ResultType: reflect.TypeOf(new(Lazy)),
}

// Lazy is the result of SSA.
type Lazy struct {
	pass *analysis.Pass
	once sync.Once
	res  *buildssa.SSA
}

// Get builds the package's SSA form (once; safe for concurrent use) and
// returns it, or nil for a package netlint leaves alone (see Skip).
func (l *Lazy) Get() *buildssa.SSA {
	if l == nil {
		return nil
	}
	l.once.Do(func() { l.res = runSSA(l.pass) })
	return l.res
}

// UsesAny reports whether the package refers to an object for which f
// holds (the type checker's Uses: calls, function values, fields, also in
// composite literal keys). An analyzer that follows values only from such
// uses asks this before it asks for the SSA form.
func UsesAny(pass *analysis.Pass, f func(types.Object) bool) bool {
	if pass.TypesInfo == nil {
		return false
	}
	for _, obj := range pass.TypesInfo.Uses {
		if obj != nil && obj.Pkg() != nil && f(obj) {
			return true
		}
	}
	return false
}

// Skip reports whether the netlint analyzers leave a package alone: no
// syntax, or a package of the standard library or golang.org/x/sys.
func Skip(pass *analysis.Pass) bool {
	if len(pass.Files) == 0 || pass.TypesInfo == nil || !bodiesChecked(pass) {
		return true
	}
	p := pass.Pkg.Path()
	if p == "golang.org/x/sys" || strings.HasPrefix(p, "golang.org/x/sys/") {
		return true
	}
	return isStd(p)
}

// bodiesChecked reports whether the function bodies of the package were
// type-checked: go/packages skips them for a dependency it loads from
// source only for its types (a package recompiled for another package's
// test), and SSA cannot be built from that.
func bodiesChecked(pass *analysis.Pass) bool {
	for _, f := range pass.Files {
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Body == nil || len(fd.Body.List) == 0 {
				continue
			}
			found := false
			ast.Inspect(fd.Body, func(n ast.Node) bool {
				if id, ok := n.(*ast.Ident); ok && !found {
					_, def := pass.TypesInfo.Defs[id]
					_, use := pass.TypesInfo.Uses[id]
					found = def || use
				}
				return !found
			})
			return found
		}
	}
	return true
}

var isStd = func(string) bool { return false }

// SetStd tells Skip how to recognise standard library packages (netpolicy
// owns that knowledge and imports this package's users).
func SetStd(f func(string) bool) { isStd = f }

// runSSA is buildssa's construction without its ctrlflow requirement:
// ctrlflow (which only sharpens the CFG after calls that never return)
// runs on every dependency and fails on those known only from export data.
func runSSA(pass *analysis.Pass) *buildssa.SSA {
	if Skip(pass) {
		return nil
	}
	prog := ssa.NewProgram(pass.Fset, ssa.BuilderMode(0))
	for _, p := range pass.Pkg.Imports() {
		prog.CreatePackage(p, nil, nil, true)
	}
	pkg := prog.CreatePackage(pass.Pkg, pass.Files, pass.TypesInfo, false)
	pkg.Build()
	var funcs []*ssa.Function
	var add func(f *ssa.Function)
	add = func(f *ssa.Function) {
		funcs = append(funcs, f)
		for _, anon := range f.AnonFuncs {
			add(anon)
		}
	}
	for _, file := range pass.Files {
		for _, decl := range file.Decls {
			if decl, ok := decl.(*ast.FuncDecl); ok {
				if obj, ok := pass.TypesInfo.Defs[decl.Name].(*types.Func); ok {
					if f := prog.FuncValue(obj); f != nil {
						add(f)
					}
				}
			}
		}
	}
	return &buildssa.SSA{Pkg: pkg, SrcFuncs: funcs}
}

// Markers inside resolved strings and argv elements.
const (
	// Unknown stands for a part of a string netlint could not follow.
	Unknown = "\x00"
	// UnknownTail is an argv element standing for any number of unknown
	// elements.
	UnknownTail = "\x03"
)

// ParamMark stands for the string value of parameter i of the enclosing
// (top-level) function.
func ParamMark(i int) string { return "\x01" + strconv.Itoa(i) + "\x01" }

// SpreadMark is an argv element standing for the elements of slice
// parameter i ("args..." of the enclosing function).
func SpreadMark(i int) string { return "\x02" + strconv.Itoa(i) + "\x02" }

// HasUnknown reports whether s has a part netlint could not follow.
func HasUnknown(s string) bool { return strings.ContainsAny(s, Unknown+UnknownTail) }

// HasParam reports whether s depends on a parameter.
func HasParam(s string) bool { return strings.ContainsAny(s, "\x01\x02") }

// Clean reports whether s is fully known.
func Clean(s string) bool { return !strings.ContainsAny(s, "\x00\x01\x02\x03") }

// Show renders a resolved string for a message: unknown parts as "…" and
// parameters as "<param N>".
func Show(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case 0, 3:
			b.WriteString("…")
		case 1, 2:
			j := strings.IndexByte(s[i+1:], c)
			if j < 0 {
				b.WriteString("…")
				continue
			}
			b.WriteString("<param " + s[i+1:i+1+j] + ">")
			i += j + 1
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// maxAlts bounds the alternatives kept for one value; beyond it the value
// is Unknown.
const maxAlts = 16

// maxDepth bounds the recursion of one resolution.
const maxDepth = 40

// Resolver resolves values of one SSA package. It is not safe for
// concurrent use.
type Resolver struct {
	pkg      *ssa.Package
	globals  map[*ssa.Global][]ssa.Value
	closures map[*ssa.Function][]*ssa.MakeClosure
	indexed  bool
	active   map[ssa.Value]bool
	depth    int
}

// New returns a resolver for the functions of res (the buildssa result).
func New(res *buildssa.SSA) *Resolver {
	return &Resolver{pkg: res.Pkg, active: map[ssa.Value]bool{}}
}

// index records the stores to package variables and the closures of the
// package.
func (r *Resolver) index() {
	if r.indexed {
		return
	}
	r.indexed = true
	r.globals = map[*ssa.Global][]ssa.Value{}
	r.closures = map[*ssa.Function][]*ssa.MakeClosure{}
	var visit func(fn *ssa.Function)
	seen := map[*ssa.Function]bool{}
	visit = func(fn *ssa.Function) {
		if fn == nil || seen[fn] {
			return
		}
		seen[fn] = true
		for _, b := range fn.Blocks {
			for _, ins := range b.Instrs {
				switch ins := ins.(type) {
				case *ssa.Store:
					if g, ok := ins.Addr.(*ssa.Global); ok {
						r.globals[g] = append(r.globals[g], ins.Val)
					}
				case *ssa.MakeClosure:
					if f, ok := ins.Fn.(*ssa.Function); ok {
						r.closures[f] = append(r.closures[f], ins)
					}
				}
			}
		}
		for _, a := range fn.AnonFuncs {
			visit(a)
		}
	}
	for _, m := range r.pkg.Members {
		switch m := m.(type) {
		case *ssa.Function:
			visit(m)
		case *ssa.Type:
			for _, sel := range methodsOf(r.pkg.Prog, m.Type()) {
				visit(sel)
			}
		}
	}
}

func methodsOf(prog *ssa.Program, t types.Type) []*ssa.Function {
	var out []*ssa.Function
	for _, T := range []types.Type{t, types.NewPointer(t)} {
		ms := prog.MethodSets.MethodSet(T)
		for i := 0; i < ms.Len(); i++ {
			if fn := prog.MethodValue(ms.At(i)); fn != nil && fn.Pkg != nil {
				out = append(out, fn)
			}
		}
	}
	return out
}

// enter guards against cycles and runaway depth; leave undoes it.
func (r *Resolver) enter(v ssa.Value) bool {
	if r.active[v] || r.depth >= maxDepth {
		return false
	}
	r.active[v] = true
	r.depth++
	return true
}

func (r *Resolver) leave(v ssa.Value) {
	delete(r.active, v)
	r.depth--
}

// topParam returns the index of p among the parameters of its function if
// that function is a top-level function or method (not a closure).
func topParam(p *ssa.Parameter) (int, bool) {
	fn := p.Parent()
	if fn == nil || fn.Parent() != nil {
		return 0, false
	}
	for i, q := range fn.Params {
		if q == p {
			return i, true
		}
	}
	return 0, false
}

// String returns the alternatives for a string-valued v.
func (r *Resolver) String(v ssa.Value) []string {
	if !r.enter(v) {
		return []string{Unknown}
	}
	defer r.leave(v)
	out := r.str(v)
	if len(out) == 0 || len(out) > maxAlts {
		return []string{Unknown}
	}
	return dedup(out)
}

func (r *Resolver) str(v ssa.Value) []string {
	switch v := v.(type) {
	case *ssa.Const:
		if v.Value == nil {
			return []string{""}
		}
		switch v.Value.Kind() {
		case constant.String:
			return []string{constant.StringVal(v.Value)}
		case constant.Int:
			if i, ok := constant.Int64Val(v.Value); ok {
				return []string{strconv.FormatInt(i, 10)}
			}
		}
	case *ssa.BinOp:
		if v.Op == token.ADD && isString(v.Type()) {
			return product(r.String(v.X), r.String(v.Y))
		}
	case *ssa.Phi:
		var out []string
		for _, e := range v.Edges {
			out = append(out, r.String(e)...)
		}
		return out
	case *ssa.ChangeType:
		return r.String(v.X)
	case *ssa.MakeInterface:
		return r.String(v.X)
	case *ssa.Convert:
		if isString(v.X.Type()) {
			return r.String(v.X)
		}
		if isByteSlice(v.X.Type()) {
			return r.bytes(v.X)
		}
	case *ssa.TypeAssert:
		if !v.CommaOk {
			return r.String(v.X)
		}
	case *ssa.Extract:
		if ta, ok := v.Tuple.(*ssa.TypeAssert); ok && v.Index == 0 {
			return r.String(ta.X)
		}
	case *ssa.UnOp:
		if v.Op == token.MUL {
			return r.loads(v.X, r.String)
		}
	case *ssa.Parameter:
		if i, ok := topParam(v); ok {
			return []string{ParamMark(i)}
		}
		return r.closureParam(v, r.String)
	case *ssa.FreeVar:
		return r.freeVar(v, r.String)
	case *ssa.Call:
		return r.callString(v)
	}
	return []string{Unknown}
}

// bytes resolves []byte("...") back to its string.
func (r *Resolver) bytes(v ssa.Value) []string {
	if c, ok := v.(*ssa.Convert); ok && isString(c.X.Type()) {
		return r.String(c.X)
	}
	return []string{Unknown}
}

// loads follows a load from addr to the values stored there.
func (r *Resolver) loads(addr ssa.Value, each func(ssa.Value) []string) []string {
	switch a := addr.(type) {
	case *ssa.Global:
		r.index()
		vals := r.globals[a]
		if len(vals) == 0 {
			return []string{Unknown}
		}
		var out []string
		for _, s := range vals {
			out = append(out, each(s)...)
		}
		return out
	case *ssa.Alloc:
		var out []string
		for _, s := range storesTo(a) {
			out = append(out, each(s)...)
		}
		if len(out) == 0 {
			return []string{Unknown}
		}
		return out
	case *ssa.FreeVar:
		return r.freeVar(a, func(b ssa.Value) []string { return r.loads(b, each) })
	case *ssa.IndexAddr:
		i := intConst(a.Index)
		if i < 0 {
			return []string{Unknown}
		}
		if vals := storesTo(a); len(vals) > 0 {
			var out []string
			for _, s := range vals {
				out = append(out, each(s)...)
			}
			return out
		}
		if !isSlice(a.X.Type()) {
			return []string{Unknown}
		}
		// an element of a slice: argv[0]
		var out []string
		for _, argv := range r.Argv(a.X) {
			if i < len(argv) && !hasMarkBefore(argv, i+1) {
				out = append(out, each(ssa.NewConst(constant.MakeString(argv[i]), types.Typ[types.String]))...)
			} else {
				out = append(out, Unknown)
			}
		}
		return out
	}
	return []string{Unknown}
}

// storesTo returns the values stored directly to a (not through a pointer
// that escapes).
func storesTo(a ssa.Value) []ssa.Value {
	var out []ssa.Value
	refs := a.Referrers()
	if refs == nil {
		return nil
	}
	for _, ins := range *refs {
		if s, ok := ins.(*ssa.Store); ok && s.Addr == a {
			out = append(out, s.Val)
		}
	}
	return out
}

// freeVar resolves a captured variable through the closures that bind it.
func (r *Resolver) freeVar(v *ssa.FreeVar, each func(ssa.Value) []string) []string {
	r.index()
	fn := v.Parent()
	idx := -1
	for i, fv := range fn.FreeVars {
		if fv == v {
			idx = i
		}
	}
	var out []string
	for _, mc := range r.closures[fn] {
		if idx >= 0 && idx < len(mc.Bindings) {
			out = append(out, each(mc.Bindings[idx])...)
		}
	}
	if len(out) == 0 {
		return []string{Unknown}
	}
	return out
}

// closureParam resolves a parameter of a closure that is called directly
// in its parent (func(s string) { ... }("x")).
func (r *Resolver) closureParam(p *ssa.Parameter, each func(ssa.Value) []string) []string {
	fn := p.Parent()
	idx := -1
	for i, q := range fn.Params {
		if q == p {
			idx = i
		}
	}
	if fn.Parent() == nil || idx < 0 {
		return []string{Unknown}
	}
	var out []string
	for _, b := range fn.Parent().Blocks {
		for _, ins := range b.Instrs {
			c, ok := ins.(ssa.CallInstruction)
			if !ok || c.Common().StaticCallee() != fn {
				continue
			}
			if args := c.Common().Args; idx < len(args) {
				out = append(out, each(args[idx])...)
			}
		}
	}
	if len(out) == 0 {
		return []string{Unknown}
	}
	return out
}

// Callee returns the function a call calls, following function values kept
// in local or package variables.
func (r *Resolver) Callee(c *ssa.CallCommon) *ssa.Function {
	if c.IsInvoke() {
		return nil
	}
	if fn := c.StaticCallee(); fn != nil {
		return fn
	}
	fns := r.funcs(c.Value)
	if len(fns) == 1 {
		return fns[0]
	}
	return nil
}

func (r *Resolver) funcs(v ssa.Value) []*ssa.Function {
	if !r.enter(v) {
		return nil
	}
	defer r.leave(v)
	switch v := v.(type) {
	case *ssa.Function:
		return []*ssa.Function{v}
	case *ssa.MakeClosure:
		if f, ok := v.Fn.(*ssa.Function); ok {
			return []*ssa.Function{f}
		}
	case *ssa.ChangeType:
		return r.funcs(v.X)
	case *ssa.Phi:
		var out []*ssa.Function
		for _, e := range v.Edges {
			out = appendFuncs(out, r.funcs(e))
		}
		return out
	case *ssa.UnOp:
		if v.Op != token.MUL {
			return nil
		}
		var vals []ssa.Value
		switch a := v.X.(type) {
		case *ssa.Global:
			r.index()
			vals = r.globals[a]
		case *ssa.Alloc:
			vals = storesTo(a)
		}
		var out []*ssa.Function
		for _, s := range vals {
			out = appendFuncs(out, r.funcs(s))
		}
		return out
	}
	return nil
}

func appendFuncs(out, more []*ssa.Function) []*ssa.Function {
	for _, f := range more {
		dup := false
		for _, g := range out {
			dup = dup || f == g
		}
		if !dup {
			out = append(out, f)
		}
	}
	return out
}

// Qualified is the name of a package-level function or method as
// "pkg/path.Name" or "pkg/path.Type.Name" ("" for closures and wrappers).
func Qualified(fn *ssa.Function) string {
	obj, ok := fn.Object().(*types.Func)
	if !ok || obj.Pkg() == nil {
		return ""
	}
	if recv := obj.Signature().Recv(); recv != nil {
		t := recv.Type()
		if p, ok := t.(*types.Pointer); ok {
			t = p.Elem()
		}
		if n, ok := t.(*types.Named); ok {
			return obj.Pkg().Path() + "." + n.Obj().Name() + "." + obj.Name()
		}
		return ""
	}
	return obj.Pkg().Path() + "." + obj.Name()
}

func (r *Resolver) callString(v *ssa.Call) []string {
	c := v.Common()
	fn := r.Callee(c)
	if fn == nil {
		return []string{Unknown}
	}
	args := c.Args
	switch Qualified(fn) {
	case "fmt.Sprintf":
		if len(args) == 2 {
			return r.sprintf(args[0], args[1])
		}
	case "fmt.Sprint":
		if len(args) == 1 {
			return joinAlts(r.Argv(args[0]), "")
		}
	case "strings.Join":
		if len(args) == 2 {
			var out []string
			for _, sep := range r.String(args[1]) {
				out = append(out, joinAlts(r.Argv(args[0]), sep)...)
			}
			return out
		}
	case "path/filepath.Join", "path.Join":
		if len(args) == 1 {
			return mapAlts(joinAlts(r.Argv(args[0]), "/"), path.Clean)
		}
	case "strings.ToLower":
		return mapAlts(r.String(args[0]), strings.ToLower)
	case "strings.ToUpper":
		return mapAlts(r.String(args[0]), strings.ToUpper)
	case "strings.TrimSpace":
		return mapAlts(r.String(args[0]), strings.TrimSpace)
	case "path/filepath.Base", "path.Base":
		return mapAlts(r.String(args[0]), path.Base)
	case "path/filepath.Clean", "path.Clean":
		return mapAlts(r.String(args[0]), path.Clean)
	case "path/filepath.FromSlash", "path/filepath.ToSlash":
		return mapAlts(r.String(args[0]), filepath.ToSlash)
	case "strings.Replace", "strings.ReplaceAll":
		// old and new must be constants to say anything
		if len(args) >= 3 {
			olds, news := r.String(args[1]), r.String(args[2])
			if len(olds) == 1 && len(news) == 1 && Clean(olds[0]) && Clean(news[0]) {
				return mapAlts(r.String(args[0]), func(s string) string { return strings.ReplaceAll(s, olds[0], news[0]) })
			}
		}
	}
	if fn.Blocks == nil || fn.Pkg != r.pkg {
		return []string{Unknown}
	}
	// A function of this package: what it returns, with the call's
	// arguments for its parameters.
	var out []string
	for _, b := range fn.Blocks {
		if ret, ok := b.Instrs[len(b.Instrs)-1].(*ssa.Return); ok && len(ret.Results) == 1 {
			out = append(out, r.String(ret.Results[0])...)
		}
	}
	if len(out) == 0 {
		return []string{Unknown}
	}
	var subst []string
	for _, s := range out {
		subst = append(subst, r.SubstString(s, args)...)
	}
	return subst
}

// sprintf formats with every alternative of the format and the first
// alternative of each argument (the arguments' own alternatives multiply
// only up to maxAlts).
func (r *Resolver) sprintf(format, args ssa.Value) []string {
	var out []string
	for _, f := range r.String(format) {
		if !Clean(f) {
			out = append(out, Unknown)
			continue
		}
		for _, argv := range r.anyArgs(args) {
			out = append(out, fmt.Sprintf(f, argv...))
		}
	}
	return out
}

// anyArgs resolves the []any of a variadic call into argument lists for
// fmt: integers stay integers, everything else is a (possibly marked)
// string.
func (r *Resolver) anyArgs(v ssa.Value) [][]any {
	elems, ok := r.arrayElems(v)
	if !ok {
		return [][]any{nil}
	}
	res := [][]any{nil}
	for _, e := range elems {
		var alts []any
		if mi, ok := e.(*ssa.MakeInterface); ok {
			if c, ok := mi.X.(*ssa.Const); ok && c.Value != nil && c.Value.Kind() == constant.Int {
				if i, ok := constant.Int64Val(c.Value); ok {
					alts = append(alts, i)
				}
			}
		}
		if alts == nil {
			for _, s := range r.String(e) {
				alts = append(alts, s)
			}
		}
		var next [][]any
		for _, prefix := range res {
			for _, a := range alts {
				if len(next) >= maxAlts {
					break
				}
				next = append(next, append(append([]any(nil), prefix...), a))
			}
		}
		res = next
	}
	return res
}

// arrayElems returns the element values of a slice made from a local array
// whose elements are stored at constant indexes (the form of a variadic
// call's arguments and of a slice literal).
func (r *Resolver) arrayElems(v ssa.Value) ([]ssa.Value, bool) {
	sl, ok := v.(*ssa.Slice)
	if !ok || sl.Low != nil || sl.High != nil {
		return nil, false
	}
	alloc, ok := sl.X.(*ssa.Alloc)
	if !ok {
		return nil, false
	}
	arr, ok := alloc.Type().(*types.Pointer).Elem().Underlying().(*types.Array)
	if !ok {
		return nil, false
	}
	elems := make([]ssa.Value, arr.Len())
	refs := alloc.Referrers()
	if refs == nil {
		return nil, false
	}
	for _, ins := range *refs {
		ia, ok := ins.(*ssa.IndexAddr)
		if !ok {
			continue
		}
		c, ok := ia.Index.(*ssa.Const)
		if !ok {
			return nil, false
		}
		i, _ := constant.Int64Val(constant.ToInt(c.Value))
		vals := storesTo(ia)
		if len(vals) != 1 || i < 0 || int(i) >= len(elems) {
			return nil, false
		}
		elems[i] = vals[0]
	}
	for i, e := range elems {
		if e == nil {
			elems[i] = ssa.NewConst(constant.MakeString(""), types.Typ[types.String])
		}
	}
	return elems, true
}

// Argv returns the alternatives for a []string-valued v. An element may be
// SpreadMark (the elements of a slice parameter) or UnknownTail.
func (r *Resolver) Argv(v ssa.Value) [][]string {
	if !r.enter(v) {
		return [][]string{{UnknownTail}}
	}
	defer r.leave(v)
	out := r.argv(v)
	if len(out) == 0 || len(out) > maxAlts {
		return [][]string{{UnknownTail}}
	}
	return out
}

func (r *Resolver) argv(v ssa.Value) [][]string {
	switch v := v.(type) {
	case *ssa.Const:
		if v.IsNil() {
			return [][]string{{}}
		}
	case *ssa.Slice:
		if elems, ok := r.arrayElems(v); ok {
			res := [][]string{{}}
			for _, e := range elems {
				res = appendProduct(res, strAlts(r.String(e)))
			}
			return res
		}
		if isSlice(v.X.Type()) {
			lo, hi := intConst(v.Low), intConst(v.High)
			if lo >= 0 && v.High == nil {
				var out [][]string
				for _, a := range r.Argv(v.X) {
					if lo <= len(a) && !hasMarkBefore(a, lo) {
						out = append(out, a[lo:])
					} else {
						out = append(out, []string{UnknownTail})
					}
				}
				return out
			}
			_ = hi
		}
	case *ssa.Phi:
		var out [][]string
		for _, e := range v.Edges {
			out = append(out, r.Argv(e)...)
		}
		return out
	case *ssa.ChangeType:
		return r.Argv(v.X)
	case *ssa.UnOp:
		if v.Op == token.MUL {
			var out [][]string
			switch a := v.X.(type) {
			case *ssa.Global:
				r.index()
				for _, s := range r.globals[a] {
					out = append(out, r.Argv(s)...)
				}
			case *ssa.Alloc:
				for _, s := range storesTo(a) {
					out = append(out, r.Argv(s)...)
				}
			}
			return out
		}
	case *ssa.Parameter:
		if i, ok := topParam(v); ok {
			return [][]string{{SpreadMark(i)}}
		}
	case *ssa.Call:
		return r.callArgv(v)
	}
	return [][]string{{UnknownTail}}
}

func (r *Resolver) callArgv(v *ssa.Call) [][]string {
	c := v.Common()
	if b, ok := c.Value.(*ssa.Builtin); ok && b.Name() == "append" && len(c.Args) == 2 {
		res := r.Argv(c.Args[0])
		if isString(c.Args[1].Type()) { // append([]byte, string...): not ours
			return [][]string{{UnknownTail}}
		}
		var out [][]string
		for _, a := range res {
			for _, b := range r.Argv(c.Args[1]) {
				out = append(out, append(append([]string(nil), a...), b...))
			}
		}
		return out
	}
	fn := r.Callee(c)
	if fn == nil {
		return [][]string{{UnknownTail}}
	}
	switch Qualified(fn) {
	case "strings.Fields":
		var out [][]string
		for _, s := range r.String(c.Args[0]) {
			out = append(out, strings.Fields(s))
		}
		return out
	case "strings.Split":
		var out [][]string
		for _, sep := range r.String(c.Args[1]) {
			for _, s := range r.String(c.Args[0]) {
				if sep == "" || !Clean(sep) {
					out = append(out, []string{UnknownTail})
					continue
				}
				out = append(out, strings.Split(s, sep))
			}
		}
		return out
	}
	if fn.Blocks == nil || fn.Pkg != r.pkg {
		return [][]string{{UnknownTail}}
	}
	var out [][]string
	for _, b := range fn.Blocks {
		if ret, ok := b.Instrs[len(b.Instrs)-1].(*ssa.Return); ok && len(ret.Results) >= 1 && isSlice(ret.Results[0].Type()) {
			for _, a := range r.Argv(ret.Results[0]) {
				out = append(out, r.SubstArgv(a, c.Args)...)
			}
		}
	}
	return out
}

func hasMarkBefore(a []string, n int) bool {
	for i := 0; i < n && i < len(a); i++ {
		if strings.HasPrefix(a[i], "\x02") || a[i] == UnknownTail {
			return true
		}
	}
	return false
}

func intConst(v ssa.Value) int {
	if v == nil {
		return 0
	}
	if c, ok := v.(*ssa.Const); ok && c.Value != nil {
		if i, ok := constant.Int64Val(constant.ToInt(c.Value)); ok {
			return int(i)
		}
	}
	return -1
}

// SubstString replaces the parameter marks of s by the alternatives of the
// corresponding call arguments.
func (r *Resolver) SubstString(s string, args []ssa.Value) []string {
	return substString(s, func(i int) []string {
		if i < len(args) {
			return r.String(args[i])
		}
		return []string{Unknown}
	})
}

// SubstArgv replaces the marks of a by the call's arguments: ParamMark
// inside elements by string alternatives, SpreadMark elements by the
// elements of the argument slice.
func (r *Resolver) SubstArgv(a []string, args []ssa.Value) [][]string {
	return SubstArgvWith(a,
		func(i int) []string {
			if i < len(args) {
				return r.String(args[i])
			}
			return []string{Unknown}
		},
		func(i int) [][]string {
			if i < len(args) {
				return r.Argv(args[i])
			}
			return [][]string{{UnknownTail}}
		})
}

// SubstArgvWith is SubstArgv with the argument values given by functions.
func SubstArgvWith(a []string, str func(int) []string, slice func(int) [][]string) [][]string {
	res := [][]string{{}}
	for _, e := range a {
		if i, ok := markIndex(e, '\x02'); ok {
			var next [][]string
			for _, p := range res {
				for _, s := range slice(i) {
					next = append(next, append(append([]string(nil), p...), s...))
				}
			}
			res = capArgv(next)
			continue
		}
		res = appendProduct(res, strAlts(substString(e, str)))
	}
	return res
}

func capArgv(a [][]string) [][]string {
	if len(a) > maxAlts {
		return a[:maxAlts]
	}
	return a
}

// markIndex reports whether e is exactly one mark of kind c and its index.
func markIndex(e string, c byte) (int, bool) {
	if len(e) < 3 || e[0] != c || e[len(e)-1] != c {
		return 0, false
	}
	i, err := strconv.Atoi(e[1 : len(e)-1])
	return i, err == nil
}

func substString(s string, str func(int) []string) []string {
	i := strings.IndexByte(s, '\x01')
	if i < 0 {
		return []string{s}
	}
	j := strings.IndexByte(s[i+1:], '\x01')
	if j < 0 {
		return []string{s}
	}
	n, err := strconv.Atoi(s[i+1 : i+1+j])
	if err != nil {
		return []string{s}
	}
	head, tail := s[:i], s[i+1+j+1:]
	var out []string
	for _, v := range str(n) {
		for _, rest := range substString(tail, str) {
			if len(out) >= maxAlts {
				return out
			}
			out = append(out, head+v+rest)
		}
	}
	return out
}

// Params returns the indexes of the parameters s depends on.
func Params(s string) []int {
	var out []int
	for _, c := range []byte{'\x01', '\x02'} {
		rest := s
		for {
			i := strings.IndexByte(rest, c)
			if i < 0 {
				break
			}
			j := strings.IndexByte(rest[i+1:], c)
			if j < 0 {
				break
			}
			if n, err := strconv.Atoi(rest[i+1 : i+1+j]); err == nil {
				out = append(out, n)
			}
			rest = rest[i+1+j+1:]
		}
	}
	return out
}

func strAlts(s []string) [][]string {
	out := make([][]string, len(s))
	for i, x := range s {
		out[i] = []string{x}
	}
	return out
}

func appendProduct(res [][]string, alts [][]string) [][]string {
	var next [][]string
	for _, p := range res {
		for _, a := range alts {
			if len(next) >= maxAlts {
				return next
			}
			next = append(next, append(append([]string(nil), p...), a...))
		}
	}
	return next
}

func joinAlts(argvs [][]string, sep string) []string {
	var out []string
	for _, a := range argvs {
		parts := make([]string, len(a))
		for i, e := range a {
			if strings.HasPrefix(e, "\x02") || e == UnknownTail {
				e = Unknown
			}
			parts[i] = e
		}
		out = append(out, strings.Join(parts, sep))
	}
	return out
}

func mapAlts(in []string, f func(string) string) []string {
	out := make([]string, len(in))
	for i, s := range in {
		if Clean(s) {
			out[i] = f(s)
		} else {
			out[i] = s
		}
	}
	return out
}

func product(xs, ys []string) []string {
	var out []string
	for _, x := range xs {
		for _, y := range ys {
			out = append(out, x+y)
		}
	}
	return out
}

func dedup(in []string) []string {
	seen := map[string]bool{}
	out := in[:0:0]
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

func isString(t types.Type) bool {
	b, ok := t.Underlying().(*types.Basic)
	return ok && b.Info()&types.IsString != 0
}

func isSlice(t types.Type) bool {
	_, ok := t.Underlying().(*types.Slice)
	return ok
}

func isByteSlice(t types.Type) bool {
	s, ok := t.Underlying().(*types.Slice)
	if !ok {
		return false
	}
	b, ok := s.Elem().Underlying().(*types.Basic)
	return ok && b.Kind() == types.Byte
}

// Int is one alternative of an integer value: a constant, a parameter of
// the enclosing function, or unknown.
type Int struct {
	Known bool
	Value int64
	Param int // index of the parameter when not Known; -1 if unknown
}

// Ints returns the alternatives for an integer-valued v (a trap number).
func (r *Resolver) Ints(v ssa.Value) []Int {
	if !r.enter(v) {
		return []Int{{Param: -1}}
	}
	defer r.leave(v)
	out := r.ints(v)
	if len(out) == 0 || len(out) > maxAlts {
		return []Int{{Param: -1}}
	}
	return out
}

func (r *Resolver) ints(v ssa.Value) []Int {
	switch v := v.(type) {
	case *ssa.Const:
		if v.Value != nil {
			if i, ok := constant.Int64Val(constant.ToInt(v.Value)); ok {
				return []Int{{Known: true, Value: i}}
			}
		}
	case *ssa.Convert:
		return r.Ints(v.X)
	case *ssa.ChangeType:
		return r.Ints(v.X)
	case *ssa.MakeInterface:
		return r.Ints(v.X)
	case *ssa.Phi:
		var out []Int
		for _, e := range v.Edges {
			out = append(out, r.Ints(e)...)
		}
		return out
	case *ssa.BinOp:
		xs, ys := r.Ints(v.X), r.Ints(v.Y)
		var out []Int
		for _, x := range xs {
			for _, y := range ys {
				if !x.Known || !y.Known {
					out = append(out, Int{Param: -1})
					continue
				}
				var z int64
				switch v.Op {
				case token.ADD:
					z = x.Value + y.Value
				case token.SUB:
					z = x.Value - y.Value
				case token.MUL:
					z = x.Value * y.Value
				case token.OR:
					z = x.Value | y.Value
				case token.XOR:
					z = x.Value ^ y.Value
				case token.AND:
					z = x.Value & y.Value
				case token.SHL:
					z = x.Value << uint64(y.Value&63)
				default:
					out = append(out, Int{Param: -1})
					continue
				}
				out = append(out, Int{Known: true, Value: z})
			}
		}
		return out
	case *ssa.UnOp:
		if v.Op == token.MUL {
			var vals []ssa.Value
			switch a := v.X.(type) {
			case *ssa.Global:
				r.index()
				vals = r.globals[a]
			case *ssa.Alloc:
				vals = storesTo(a)
			}
			var out []Int
			for _, s := range vals {
				out = append(out, r.Ints(s)...)
			}
			return out
		}
	case *ssa.Parameter:
		if i, ok := topParam(v); ok {
			return []Int{{Param: i}}
		}
	case *ssa.Call:
		fn := r.Callee(v.Common())
		if fn != nil && fn.Blocks != nil && fn.Pkg == r.pkg {
			var out []Int
			for _, b := range fn.Blocks {
				if ret, ok := b.Instrs[len(b.Instrs)-1].(*ssa.Return); ok && len(ret.Results) >= 1 {
					for _, x := range r.Ints(ret.Results[0]) {
						if !x.Known && x.Param >= 0 && x.Param < len(v.Common().Args) {
							out = append(out, r.Ints(v.Common().Args[x.Param])...)
							continue
						}
						out = append(out, x)
					}
				}
			}
			return out
		}
	}
	return []Int{{Param: -1}}
}
