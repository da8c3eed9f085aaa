package netexec

import (
	"fmt"
	"go/ast"
	"go/constant"
	"go/token"
	"go/types"
	"strings"

	"github.com/guardrun/guardrun/analyzers/internal/netpolicy"
	"github.com/guardrun/guardrun/analyzers/internal/suppress"
	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/types/typeutil"
)

// Doc is the analyzer's documentation.
const Doc = `report running well-known network programs named by constants

netexec reports exec.Command, exec.CommandContext, exec.LookPath, exec.Cmd
literals, os.StartProcess and syscall/unix Exec calls whose constant program
name is a network tool (curl, wget, nc, ssh, scp, rsync, aws, kubectl, ...),
a networking subcommand (git clone, go get, docker pull, pip install, ...), or
a shell or wrapper whose constant arguments run one. Suppress one with
"//netlint:allow <reason>".`

// Analyzer uses the policy of the command-line flags (netpolicy.Global).
var Analyzer = New(netpolicy.Global)

// New returns a netexec analyzer that asks policy for its exceptions.
func New(policy func() (*netpolicy.Policy, error)) *analysis.Analyzer {
	return &analysis.Analyzer{
		Name: "netexec",
		Doc:  Doc,
		URL:  "https://github.com/guardrun/guardrun/blob/main/docs/NETLINT.md#netexec",
		Run:  func(pass *analysis.Pass) (any, error) { return run(pass, policy) },
	}
}

// launcher describes where a launching function takes its program and
// arguments.
type launcher struct {
	name     int // index of the program name argument
	args     int // index of the first variadic argument, or -1
	argv     int // index of an argv []string argument (argv[0] is the program), or -1
	lookOnly bool
}

var launchers = map[string]launcher{
	"os/exec.Command":            {name: 0, args: 1, argv: -1},
	"os/exec.CommandContext":     {name: 1, args: 2, argv: -1},
	"os/exec.LookPath":           {name: 0, args: -1, argv: -1, lookOnly: true},
	"os.StartProcess":            {name: 0, args: -1, argv: 1},
	"syscall.Exec":               {name: 0, args: -1, argv: 1},
	"syscall.ForkExec":           {name: 0, args: -1, argv: 1},
	"syscall.StartProcess":       {name: 0, args: -1, argv: 1},
	"golang.org/x/sys/unix.Exec": {name: 0, args: -1, argv: 1},
}

func run(pass *analysis.Pass, policy func() (*netpolicy.Policy, error)) (any, error) {
	pol, err := policy()
	if err != nil {
		return nil, err
	}
	ix := suppress.New(pass)
	report := func(pos, end token.Pos, v verdict) {
		if _, ok := ix.Allowed(pos); ok {
			return
		}
		if _, ok := pol.Except(pass.Pkg.Path(), pass.Fset.File(pos).Name(), netpolicy.KindExec, v.tool); ok {
			return
		}
		pass.Report(analysis.Diagnostic{Pos: pos, End: end, Category: "netexec", Message: v.message})
	}
	for _, f := range pass.Files {
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CallExpr:
				if v, ok := checkCall(pass.TypesInfo, n); ok {
					report(n.Pos(), n.End(), v)
				}
			case *ast.CompositeLit:
				if v, ok := checkCmdLiteral(pass.TypesInfo, n); ok {
					report(n.Pos(), n.End(), v)
				}
			}
			return true
		})
	}
	return nil, nil
}

func checkCall(info *types.Info, call *ast.CallExpr) (verdict, bool) {
	fn, ok := typeutil.Callee(info, call).(*types.Func)
	if !ok || fn.Pkg() == nil {
		return verdict{}, false
	}
	l, ok := launchers[fn.Pkg().Path()+"."+fn.Name()]
	if !ok || l.name < 0 || l.name >= len(call.Args) {
		return verdict{}, false
	}
	prog, ok := constString(info, call.Args[l.name])
	if !ok {
		return verdict{}, false
	}
	var args []string
	if l.args >= 0 && !call.Ellipsis.IsValid() {
		for _, a := range call.Args[l.args:] {
			s, ok := constString(info, a)
			if !ok {
				s = "" // unknown: keeps positions but matches nothing
			}
			args = append(args, s)
		}
	}
	if l.argv >= 0 && l.argv < len(call.Args) {
		if lits, ok := stringSlice(info, call.Args[l.argv]); ok && len(lits) > 0 {
			args = lits[1:]
		}
	}
	return judge(prog, args, l.lookOnly)
}

// checkCmdLiteral looks at exec.Cmd{Path: "...", Args: []string{...}}.
func checkCmdLiteral(info *types.Info, lit *ast.CompositeLit) (verdict, bool) {
	tv, ok := info.Types[lit]
	if !ok {
		return verdict{}, false
	}
	t := tv.Type
	if p, ok := t.(*types.Pointer); ok {
		t = p.Elem()
	}
	named, ok := t.(*types.Named)
	if !ok || named.Obj().Pkg() == nil || named.Obj().Pkg().Path() != "os/exec" || named.Obj().Name() != "Cmd" {
		return verdict{}, false
	}
	var prog string
	var args []string
	for _, el := range lit.Elts {
		kv, ok := el.(*ast.KeyValueExpr)
		if !ok {
			continue
		}
		key, ok := kv.Key.(*ast.Ident)
		if !ok {
			continue
		}
		switch key.Name {
		case "Path":
			prog, _ = constString(info, kv.Value)
		case "Args":
			if lits, ok := stringSlice(info, kv.Value); ok && len(lits) > 0 {
				args = lits[1:]
			}
		}
	}
	if prog == "" {
		return verdict{}, false
	}
	return judge(prog, args, false)
}

type verdict struct {
	tool    string // the program (or PowerShell command) that reaches the network
	message string
}

// judge decides whether running prog with args reaches the network.
func judge(prog string, args []string, lookOnly bool) (verdict, bool) {
	base := Base(prog)
	if base == "" {
		return verdict{}, false
	}
	if contains(NetworkTools, base) {
		verb := "runs"
		if lookOnly {
			verb = "looks up"
		}
		return verdict{base, fmt.Sprintf("%s network tool %q", verb, base)}, true
	}
	if subs, ok := Subcommands[base]; ok && !lookOnly {
		if sub, ok := matchSub(subs, args); ok {
			return verdict{base, fmt.Sprintf("runs %q, which reaches the network", strings.TrimSpace(base+" "+sub))}, true
		}
	}
	if contains(Wrappers, base) && !lookOnly {
		if v, ok := scanWords(base, args); ok {
			return v, true
		}
	}
	return verdict{}, false
}

// scanWords splits the constant arguments of a shell or wrapper into words
// and looks for a network tool among them.
func scanWords(wrapper string, args []string) (verdict, bool) {
	var words []string
	for _, a := range args {
		words = append(words, splitWords(a)...)
	}
	for i, w := range words {
		lw := strings.ToLower(w)
		if contains(PowerShellNetwork, lw) || strings.Contains(lw, "net.webclient") || strings.Contains(lw, "httpclient") {
			return verdict{lw, fmt.Sprintf("%s runs %q, which reaches the network", wrapper, w)}, true
		}
		b := Base(w)
		if contains(NetworkTools, b) {
			return verdict{b, fmt.Sprintf("%s runs network tool %q", wrapper, b)}, true
		}
		if subs, ok := Subcommands[b]; ok {
			if sub, ok := matchSub(subs, words[i+1:]); ok {
				return verdict{b, fmt.Sprintf("%s runs %q, which reaches the network", wrapper, b+" "+sub)}, true
			}
		}
	}
	return verdict{}, false
}

// splitWords splits a shell-ish string at white space and shell operators.
func splitWords(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool {
		switch r {
		case ' ', '\t', '\n', '\r', ';', '&', '|', '(', ')', '<', '>', '`', '$', '"', '\'', '{', '}', '!':
			return true
		}
		return false
	})
}

// matchSub reports whether the first non-flag arguments name one of subs
// (an entry may have two words, such as "mod download"). When the first
// non-flag argument follows a flag it may be that flag's value (git -C dir
// fetch), so the next one is tried too. An empty subs matches anything.
func matchSub(subs []string, args []string) (string, bool) {
	var words []string
	firstAfterFlag, prevFlag := false, false
	for _, a := range args {
		if a == "" { // not a constant: stop
			break
		}
		if strings.HasPrefix(a, "-") || strings.HasPrefix(a, "/") {
			prevFlag = !strings.Contains(a, "=")
			continue
		}
		if len(words) == 0 {
			firstAfterFlag = prevFlag
		}
		prevFlag = false
		if words = append(words, a); len(words) == 3 {
			break
		}
	}
	if len(subs) == 0 {
		return strings.Join(words, " "), true
	}
	try := func(words []string) (string, bool) {
		for _, s := range subs {
			want := strings.Fields(s)
			if len(want) <= len(words) && strings.Join(words[:len(want)], " ") == s {
				return s, true
			}
		}
		return "", false
	}
	if s, ok := try(words); ok {
		return s, true
	}
	if firstAfterFlag && len(words) > 1 {
		return try(words[1:])
	}
	return "", false
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

func constString(info *types.Info, e ast.Expr) (string, bool) {
	tv, ok := info.Types[e]
	if !ok || tv.Value == nil || tv.Value.Kind() != constant.String {
		return "", false
	}
	return constant.StringVal(tv.Value), true
}

// stringSlice returns the elements of a []string composite literal; elements
// that are not constants are "".
func stringSlice(info *types.Info, e ast.Expr) ([]string, bool) {
	lit, ok := ast.Unparen(e).(*ast.CompositeLit)
	if !ok {
		return nil, false
	}
	out := make([]string, 0, len(lit.Elts))
	for _, el := range lit.Elts {
		s, _ := constString(info, el)
		out = append(out, s)
	}
	return out, true
}
