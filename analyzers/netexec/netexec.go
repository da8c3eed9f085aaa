package netexec

import (
	"fmt"
	"go/ast"
	"go/token"
	"go/types"
	"strings"

	"github.com/guardrun/guardrun/analyzers/internal/netpolicy"
	"github.com/guardrun/guardrun/analyzers/internal/suppress"
	"github.com/guardrun/guardrun/analyzers/internal/values"
	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/analysis/passes/buildssa"
	"golang.org/x/tools/go/ast/astutil"
	"golang.org/x/tools/go/ssa"
)

// Doc is the analyzer's documentation.
const Doc = `report running network programs, by the values that reach exec

netexec follows, on the SSA form, the values that reach exec.Command,
exec.CommandContext, exec.LookPath, exec.Cmd's Path and Args,
os.StartProcess and syscall/unix Exec: constants through variables,
concatenation, fmt.Sprintf, strings.Join, slices, append and "args...", and
helper functions of any package (through facts). It reports a network tool
(curl, wget, nc, ssh, rsync, aws, kubectl, ...), a networking subcommand
(git clone, go get, go mod tidy, docker run, pip install, openssl s_client,
...), interpreter one-liners that reach the network (python3 -c with urllib,
perl -e with IO::Socket, node -e with fetch, bash /dev/tcp), shells and
wrappers that run one, and, as "unresolved command", a program or script it
cannot resolve. Suppress one with "//netlint:allow <reason>".`

// Launches is the fact exported for a function that starts a program that
// depends on its parameters (Templates: argv lists with the parameter marks
// of package values), or that runs a network program itself or through
// other functions (Chain, from the function to the launcher, and What).
type Launches struct {
	Templates [][]string
	Chain     []string
	What      string
	Tool      string
}

// AFact marks Launches as an analysis fact.
func (*Launches) AFact() {}

func (l *Launches) String() string {
	var parts []string
	if len(l.Chain) > 0 {
		parts = append(parts, l.What+": "+strings.Join(l.Chain, " -> "))
	}
	for _, t := range l.Templates {
		show := make([]string, len(t))
		for i, e := range t {
			show[i] = values.Show(e)
		}
		parts = append(parts, "starts "+strings.Join(show, " "))
	}
	return strings.Join(parts, "; ")
}

// Analyzer uses the policy of the command-line flags (netpolicy.Global).
var Analyzer = New(netpolicy.Global)

// New returns a netexec analyzer that asks policy for its exceptions.
func New(policy func() (*netpolicy.Policy, error)) *analysis.Analyzer {
	return &analysis.Analyzer{
		Name:      "netexec",
		Doc:       Doc,
		URL:       "https://github.com/guardrun/guardrun/blob/main/docs/NETLINT.md#netexec",
		Run:       func(pass *analysis.Pass) (any, error) { return run(pass, policy) },
		Requires:  []*analysis.Analyzer{values.SSA},
		FactTypes: []analysis.Fact{new(Launches)},
	}
}

func init() { values.SetStd(netpolicy.IsStd) }

// mayLaunch reports whether a use of obj can start a program: a launcher,
// anything of os/exec or execabs (exec.Cmd, its Path and Args), or a
// function of another package with a Launches fact.
func mayLaunch(pass *analysis.Pass, obj types.Object) bool {
	switch obj.Pkg().Path() {
	case "os/exec", "golang.org/x/sys/execabs":
		return true
	case pass.Pkg.Path():
		return false // its launches are uses of the others
	}
	fn, ok := obj.(*types.Func)
	if !ok {
		return false
	}
	if _, ok := launchers[obj.Pkg().Path()+"."+fn.Name()]; ok {
		return true
	}
	if o := fn.Origin(); o != fn {
		fn = o
	}
	return pass.ImportObjectFact(fn, new(Launches))
}

// launcher describes where a launching function takes its program and
// arguments.
type launcher struct {
	name     int // index of the program name argument
	args     int // index of the variadic argument slice, or -1
	argv     int // index of an argv []string argument (argv[0] is the program's name), or -1
	lookOnly bool
}

// Launchers are the functions that start (or look up) a program.
var launchers = map[string]launcher{
	"os/exec.Command":                         {name: 0, args: 1, argv: -1},
	"os/exec.CommandContext":                  {name: 1, args: 2, argv: -1},
	"os/exec.LookPath":                        {name: 0, args: -1, argv: -1, lookOnly: true},
	"golang.org/x/sys/execabs.Command":        {name: 0, args: 1, argv: -1},
	"golang.org/x/sys/execabs.CommandContext": {name: 1, args: 2, argv: -1},
	"golang.org/x/sys/execabs.LookPath":       {name: 0, args: -1, argv: -1, lookOnly: true},
	"os.StartProcess":                         {name: 0, args: -1, argv: 1},
	"syscall.Exec":                            {name: 0, args: -1, argv: 1},
	"syscall.ForkExec":                        {name: 0, args: -1, argv: 1},
	"syscall.StartProcess":                    {name: 0, args: -1, argv: 1},
	"golang.org/x/sys/unix.Exec":              {name: 0, args: -1, argv: 1},
}

type summary struct {
	templates [][]string
	chain     []string
	what      string
	tool      string
}

func (s *summary) empty() bool { return len(s.templates) == 0 && len(s.chain) == 0 }

type checker struct {
	pass     *analysis.Pass
	pol      *netpolicy.Policy
	ix       *suppress.Index
	r        *values.Resolver
	res      *buildssa.SSA
	sums     map[*ssa.Function]*summary
	started  map[*ssa.Function]bool
	reported map[token.Pos]bool
}

func run(pass *analysis.Pass, policy func() (*netpolicy.Policy, error)) (any, error) {
	pol, err := policy()
	if err != nil {
		return nil, err
	}
	if values.Skip(pass) || !values.UsesAny(pass, func(obj types.Object) bool { return mayLaunch(pass, obj) }) {
		return nil, nil // nothing here can start a program: no SSA needed
	}
	res := pass.ResultOf[values.SSA].(*values.Lazy).Get()
	if res == nil {
		return nil, nil
	}
	c := &checker{
		pass: pass, pol: pol, ix: suppress.New(pass), r: values.New(res), res: res,
		sums: map[*ssa.Function]*summary{}, started: map[*ssa.Function]bool{}, reported: map[token.Pos]bool{},
	}
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
		s := c.summary(fn)
		if s.empty() {
			continue
		}
		obj, ok := fn.Object().(*types.Func)
		if ok && obj.Pkg() == pass.Pkg {
			pass.ExportObjectFact(obj, &Launches{Templates: s.templates, Chain: s.chain, What: s.what, Tool: s.tool})
		}
	}
	return nil, nil
}

// summary scans fn (and its closures) once: it reports what fn runs and
// returns what callers need to know.
func (c *checker) summary(fn *ssa.Function) *summary {
	if s, ok := c.sums[fn]; ok {
		return s
	}
	if c.started[fn] {
		return &summary{} // recursion: the first visit decides
	}
	c.started[fn] = true
	s := &summary{}
	var visit func(f *ssa.Function)
	visit = func(f *ssa.Function) {
		stores := map[ssa.Value]*cmdStores{}
		var order []ssa.Value
		for _, b := range f.Blocks {
			for _, ins := range b.Instrs {
				switch ins := ins.(type) {
				case ssa.CallInstruction:
					c.call(fn, s, ins)
				case *ssa.Store:
					fa, ok := ins.Addr.(*ssa.FieldAddr)
					if !ok || !isCmd(fa.X.Type()) {
						continue
					}
					field := fa.X.Type().Underlying().(*types.Pointer).Elem().Underlying().(*types.Struct).Field(fa.Field).Name()
					if field != "Path" && field != "Args" {
						continue
					}
					cs := stores[fa.X]
					if cs == nil {
						cs = &cmdStores{}
						stores[fa.X] = cs
						order = append(order, fa.X)
					}
					if field == "Path" {
						cs.path = append(cs.path, ins)
					} else {
						cs.args = append(cs.args, ins)
					}
				}
			}
		}
		for _, x := range order {
			c.cmdFields(fn, s, stores[x])
		}
		for _, a := range f.AnonFuncs {
			visit(a)
		}
	}
	visit(fn)
	c.sums[fn] = s
	return s
}

type cmdStores struct {
	path, args []*ssa.Store
}

func isCmd(t types.Type) bool {
	p, ok := t.Underlying().(*types.Pointer)
	if !ok {
		return false
	}
	n, ok := p.Elem().(*types.Named)
	return ok && n.Obj().Pkg() != nil && n.Obj().Pkg().Path() == "os/exec" && n.Obj().Name() == "Cmd"
}

// cmdFields judges exec.Cmd{Path: ..., Args: ...} and cmd.Path = ...
func (c *checker) cmdFields(fn *ssa.Function, s *summary, cs *cmdStores) {
	var argvs [][]string
	var pos token.Pos
	if len(cs.path) > 0 {
		pos = cs.path[0].Pos()
		var rests [][]string
		for _, st := range cs.args {
			for _, a := range c.r.Argv(st.Val) {
				if len(a) > 0 && !strings.HasPrefix(a[0], "\x02") && a[0] != values.UnknownTail {
					rests = append(rests, a[1:])
				}
			}
		}
		if len(rests) == 0 {
			rests = [][]string{nil}
		}
		for _, st := range cs.path {
			for _, p := range c.r.String(st.Val) {
				for _, rest := range rests {
					argvs = append(argvs, append([]string{p}, rest...))
				}
			}
		}
	} else {
		// Args alone names the program only by convention: report only what
		// is certainly a network program.
		pos = cs.args[0].Pos()
		for _, st := range cs.args {
			for _, a := range c.r.Argv(st.Val) {
				if v := Judge(a, false); v.Outcome == Network {
					argvs = append(argvs, a)
				}
			}
		}
	}
	c.judgeAll(fn, s, c.stmtPos(pos), argvs, false, "", "os/exec.Cmd")
}

// call handles one call: a launcher, or a function with a summary.
func (c *checker) call(fn *ssa.Function, s *summary, ins ssa.CallInstruction) {
	common := ins.Common()
	callee := c.r.Callee(common)
	if callee == nil {
		return
	}
	q := values.Qualified(callee)
	if l, ok := launchers[q]; ok {
		if l.name < 0 || l.name >= len(common.Args) {
			return
		}
		pos := c.callPos(ins.Pos())
		var argvs [][]string
		switch {
		case l.argv >= 0 && l.argv < len(common.Args) && isElem0(common.Args[l.name], common.Args[l.argv]):
			// syscall.Exec(argv[0], argv, env): argv says it all
			argvs = c.r.Argv(common.Args[l.argv])
		default:
			var rests [][]string
			switch {
			case l.args >= 0 && l.args < len(common.Args):
				rests = c.r.Argv(common.Args[l.args])
			case l.argv >= 0 && l.argv < len(common.Args):
				for _, a := range c.r.Argv(common.Args[l.argv]) {
					if len(a) > 0 && !strings.HasPrefix(a[0], "\x02") && a[0] != values.UnknownTail {
						a = a[1:]
					}
					rests = append(rests, a)
				}
			default:
				rests = [][]string{nil}
			}
			for _, p := range c.r.String(common.Args[l.name]) {
				for _, rest := range rests {
					argvs = append(argvs, append([]string{p}, rest...))
				}
			}
		}
		c.judgeAll(fn, s, pos, argvs, l.lookOnly, "", shortQual(callee))
		return
	}
	cs := c.calleeSummary(callee)
	if cs == nil || cs.empty() {
		return
	}
	pos := c.callPos(ins.Pos())
	name := shortName(callee)
	var argvs [][]string
	for _, t := range cs.templates {
		argvs = append(argvs, c.r.SubstArgv(t, common.Args)...)
	}
	if len(argvs) > 0 {
		c.judgeAll(fn, s, pos, argvs, false, name, name)
	}
	if len(cs.chain) > 0 {
		chain := append([]string{shortName(fn)}, cs.chain...)
		if callee.Pkg != fn.Pkg {
			msg := fmt.Sprintf("calls %s, which %s: %s", name, cs.what, strings.Join(chain, " -> "))
			if !c.report(pos, Verdict{Outcome: Network, Tool: cs.tool}, msg) {
				return
			}
		}
		if len(s.chain) == 0 {
			s.chain, s.what, s.tool = chain, cs.what, cs.tool
		}
	}
}

// isElem0 reports whether v is argv[0].
func isElem0(v, argv ssa.Value) bool {
	if ld, ok := v.(*ssa.UnOp); ok && ld.Op == token.MUL {
		if ia, ok := ld.X.(*ssa.IndexAddr); ok && ia.X == argv {
			if k, ok := ia.Index.(*ssa.Const); ok && k.Value != nil && k.Value.String() == "0" {
				return true
			}
		}
	}
	return false
}

// calleeSummary returns what is known about a called function: its summary
// when it is in this package, else its fact.
func (c *checker) calleeSummary(callee *ssa.Function) *summary {
	if callee.Pkg == c.res.Pkg && callee.Blocks != nil {
		root := callee
		for root.Parent() != nil {
			root = root.Parent()
		}
		if root != callee {
			return nil // a closure's launches are its parent's
		}
		return c.summary(callee)
	}
	obj, ok := callee.Object().(*types.Func)
	if !ok {
		if o := callee.Origin(); o != nil {
			obj, ok = o.Object().(*types.Func)
		}
	}
	if !ok || obj.Pkg() == nil || obj.Pkg() == c.pass.Pkg {
		return nil
	}
	var f Launches
	if !c.pass.ImportObjectFact(obj, &f) {
		return nil
	}
	return &summary{templates: f.Templates, chain: f.Chain, what: f.What, tool: f.Tool}
}

// judgeAll judges the alternatives of one launch and reports the worst;
// through names the helper function the launch went through ("" for a
// launcher called directly).
func (c *checker) judgeAll(fn *ssa.Function, s *summary, pos token.Pos, argvs [][]string, lookOnly bool, through, link string) {
	worst := Verdict{}
	for _, a := range argvs {
		v := Judge(a, lookOnly)
		if lookOnly && v.Outcome != Network {
			continue // looking a program up runs nothing: only a named network tool counts
		}
		if v.Outcome == Depends {
			s.templates = appendTemplate(s.templates, a)
		}
		if v.Outcome > worst.Outcome && v.Outcome != Depends {
			worst = v
		}
	}
	switch worst.Outcome {
	case Network:
		msg := worst.Message()
		if through != "" {
			msg += " (through " + through + ")"
		}
		if c.report(pos, worst, msg) && len(s.chain) == 0 {
			s.chain, s.what, s.tool = []string{shortName(fn), link}, worst.Message(), worst.Tool
		}
	case Unresolved:
		if !c.pol.ReportUnresolved() {
			return
		}
		msg := "unresolved command: " + worst.Message()
		if through != "" {
			msg += " (through " + through + ")"
		}
		c.report(pos, worst, msg+"; use a constant, or allow it with //netlint:allow <reason>")
	}
}

const maxTemplates = 16

func appendTemplate(ts [][]string, a []string) [][]string {
	if len(ts) >= maxTemplates {
		return ts
	}
	for _, t := range ts {
		if strings.Join(t, "\x04") == strings.Join(a, "\x04") {
			return ts
		}
	}
	return append(ts, a)
}

// report reports unless a directive or an exception covers the finding; it
// returns whether it reported.
func (c *checker) report(pos token.Pos, v Verdict, msg string) bool {
	if _, ok := c.ix.Allowed(pos); ok {
		return false
	}
	file := ""
	if f := c.pass.Fset.File(pos); f != nil {
		file = f.Name()
	}
	if _, ok := c.pol.Except(c.pass.Pkg.Path(), file, netpolicy.KindExec, v.Tool); ok {
		return false
	}
	if c.reported[pos] {
		return true
	}
	c.reported[pos] = true
	category := "netexec"
	if v.Outcome == Unresolved {
		category = c.pol.UnresolvedCategory(category)
	}
	c.pass.Report(analysis.Diagnostic{Pos: pos, Category: category, Message: msg})
	return true
}

// callPos maps the position SSA gives a call (its left parenthesis) to the
// start of the call expression.
func (c *checker) callPos(pos token.Pos) token.Pos {
	path := c.enclosing(pos)
	for _, n := range path {
		if call, ok := n.(*ast.CallExpr); ok && call.Lparen == pos {
			return call.Pos()
		}
	}
	return pos
}

// stmtPos maps the position of a store to the composite literal or the
// assignment it belongs to.
func (c *checker) stmtPos(pos token.Pos) token.Pos {
	for _, n := range c.enclosing(pos) {
		switch n := n.(type) {
		case *ast.CompositeLit, *ast.AssignStmt:
			return n.Pos()
		case *ast.UnaryExpr:
			if n.Op == token.AND {
				if _, ok := n.X.(*ast.CompositeLit); ok {
					return n.Pos()
				}
			}
		}
	}
	return pos
}

func (c *checker) enclosing(pos token.Pos) []ast.Node {
	for _, f := range c.pass.Files {
		if f.FileStart <= pos && pos <= f.FileEnd {
			path, _ := astutil.PathEnclosingInterval(f, pos, pos)
			return path
		}
	}
	return nil
}

// shortName is pkg.F or pkg.T.M, for chains.
func shortName(fn *ssa.Function) string {
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

func shortQual(fn *ssa.Function) string {
	if fn.Pkg != nil {
		return fn.Pkg.Pkg.Name() + "." + fn.Name()
	}
	return fn.Name()
}

// Base reduces a program path to the name the lists use: the last path
// element, lower case, without a Windows executable extension.
func Base(prog string) string {
	b := prog
	if i := strings.LastIndexAny(b, `/\`); i >= 0 {
		b = b[i+1:]
	}
	b = strings.ToLower(strings.TrimSpace(b))
	for _, ext := range []string{".exe", ".cmd", ".bat", ".com", ".ps1"} {
		b = strings.TrimSuffix(b, ext)
	}
	return b
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
