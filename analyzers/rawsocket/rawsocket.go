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
	"github.com/guardrun/guardrun/analyzers/internal/suppress"
	"github.com/guardrun/guardrun/analyzers/internal/values"
	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/types/typeutil"
)

// Doc is the analyzer's documentation.
const Doc = `report raw socket system calls and plugin.Open

rawsocket reports calls of syscall, golang.org/x/sys/unix and
golang.org/x/sys/windows functions that create, connect, bind or send on
sockets or resolve names; Syscall with a socket trap number, resolved on SSA
(a constant, a literal, a variable, a parameter of a helper) or that netlint
cannot resolve; Syscall functions used as values; loading of Windows
networking DLLs; plugin.Open; //go:linkname to network or socket symbols;
cgo calls of socket functions; assembly that makes system calls; and calls
of functions of other packages that do any of this (through facts). Suppress
one with "//netlint:allow <reason>".`

// Analyzer uses the policy of the command-line flags (netpolicy.Global).
var Analyzer = New(netpolicy.Global)

// New returns a rawsocket analyzer that asks policy for its exceptions.
func New(policy func() (*netpolicy.Policy, error)) *analysis.Analyzer {
	return &analysis.Analyzer{
		Name:      "rawsocket",
		Doc:       Doc,
		URL:       "https://github.com/guardrun/guardrun/blob/main/docs/NETLINT.md#rawsocket",
		Run:       func(pass *analysis.Pass) (any, error) { return run(pass, policy) },
		Requires:  []*analysis.Analyzer{values.SSA},
		FactTypes: []analysis.Fact{new(Sockets)},
	}
}

func init() { values.SetStd(netpolicy.IsStd) }

// Sockets is the fact exported for a function that reaches a raw socket
// itself or through other functions (Chain, from the function to the call,
// and What), or whose parameters are used as syscall trap numbers (Traps).
type Sockets struct {
	Chain []string
	What  string
	Traps []int
}

// AFact marks Sockets as an analysis fact.
func (*Sockets) AFact() {}

func (s *Sockets) String() string {
	var parts []string
	if len(s.Chain) > 0 {
		parts = append(parts, s.What+": "+strings.Join(s.Chain, " -> "))
	}
	if len(s.Traps) > 0 {
		parts = append(parts, fmt.Sprintf("trap parameters %v", s.Traps))
	}
	return strings.Join(parts, "; ")
}

// SyscallPackages are the packages whose socket functions are reported.
var SyscallPackages = []string{"syscall", "golang.org/x/sys/unix", "golang.org/x/sys/windows"}

// SocketFuncs are the reported functions of SyscallPackages.
var SocketFuncs = []string{
	"Socket", "Connect", "ConnectEx", "Bind", "BindToDevice", "Listen",
	"Accept", "Accept4", "AcceptEx", "Sendto", "Sendmsg", "SendmsgN",
	"SendmsgBuffers", "Sendmmsg", "WSASocket", "WSAConnect", "WSASendTo",
	"WSASendMsg", "WSARecvFrom", "GetAddrInfoW", "GetAddrInfoExW",
	"GetHostByName", "DnsQuery", "DnsQuery_W",
}

// SocketTraps are the trap constants whose Syscall is reported.
var SocketTraps = []string{
	"SYS_SOCKET", "SYS_CONNECT", "SYS_BIND", "SYS_LISTEN", "SYS_ACCEPT",
	"SYS_ACCEPT4", "SYS_SENDTO", "SYS_SENDMSG", "SYS_SENDMMSG", "SYS_SOCKETCALL",
}

// syscallFuncs take a trap number as their first argument.
var syscallFuncs = []string{"Syscall", "Syscall6", "Syscall9", "Syscall12", "Syscall15", "Syscall18", "SyscallN",
	"RawSyscall", "RawSyscall6", "RawSyscallNoError", "RawSyscall6NoError"}

// dllFuncs load a DLL by name.
var dllFuncs = []string{"LoadDLL", "MustLoadDLL", "NewLazyDLL", "NewLazySystemDLL", "LoadLibrary", "LoadLibraryEx"}

// NetworkDLLs are the Windows DLLs whose loading is reported.
var NetworkDLLs = []string{"ws2_32", "wsock32", "mswsock", "wininet", "winhttp", "dnsapi", "urlmon", "webio", "httpapi"}

func inSyscallPkg(fn *types.Func) bool {
	if fn.Pkg() == nil {
		return false
	}
	for _, p := range SyscallPackages {
		if fn.Pkg().Path() == p {
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func isPkgFunc(fn *types.Func) bool {
	sig, ok := fn.Type().(*types.Signature)
	return ok && sig.Recv() == nil
}

type finding struct {
	pos, end token.Pos
	subject  string
	msg      string
}

func run(pass *analysis.Pass, policy func() (*netpolicy.Policy, error)) (any, error) {
	pol, err := policy()
	if err != nil {
		return nil, err
	}
	if len(pass.Files) == 0 || pass.TypesInfo == nil || systemPackage(pass.Pkg.Path()) {
		return nil, nil
	}
	c := &checker{pass: pass, pol: pol, ix: suppress.New(pass), direct: map[*types.Func]finding{}}
	c.syntax()
	if values.Skip(pass) {
		return nil, nil
	}
	// The SSA form is needed to carry a direct finding to the functions
	// that call it, to resolve Syscall traps, and to follow calls of
	// functions with a Sockets fact; a package with none of these (most)
	// costs none.
	if len(c.direct) == 0 && !values.UsesAny(pass, func(obj types.Object) bool { return needsSSA(pass, obj) }) {
		return nil, nil
	}
	if res := pass.ResultOf[values.SSA].(*values.Lazy).Get(); res != nil {
		c.ssa(res)
	}
	return nil, nil
}

// needsSSA: a Syscall function of syscall or x/sys (whose trap is
// resolved on SSA), or a function of another package with a Sockets fact.
func needsSSA(pass *analysis.Pass, obj types.Object) bool {
	fn, ok := obj.(*types.Func)
	if !ok || obj.Pkg() == pass.Pkg {
		return false
	}
	if inSyscallPkg(fn) {
		return contains(syscallFuncs, fn.Name())
	}
	if o := fn.Origin(); o != fn {
		fn = o
	}
	return pass.ImportObjectFact(fn, new(Sockets))
}

// systemPackage: the standard library and golang.org/x/sys are judged where
// they are called.
func systemPackage(path string) bool {
	return netpolicy.IsStd(path) || path == "golang.org/x/sys" || strings.HasPrefix(path, "golang.org/x/sys/")
}

type checker struct {
	pass *analysis.Pass
	pol  *netpolicy.Policy
	ix   *suppress.Index
	// direct holds the first reported finding of each function declared in
	// the package (the start of its chain).
	direct map[*types.Func]finding
}

// report reports f unless a directive or an exception covers it; it
// returns whether it reported.
func (c *checker) report(f finding) bool {
	if _, ok := c.ix.Allowed(f.pos); ok {
		return false
	}
	file := ""
	if tf := c.pass.Fset.File(f.pos); tf != nil {
		file = tf.Name()
	}
	if _, ok := c.pol.Except(c.pass.Pkg.Path(), file, netpolicy.KindCall, f.subject); ok {
		return false
	}
	category := "rawsocket"
	if f.subject == netpolicy.UnresolvedSubject {
		category = c.pol.UnresolvedCategory(category)
	}
	c.pass.Report(analysis.Diagnostic{Pos: f.pos, End: f.end, Category: category, Message: f.msg})
	return true
}

// syntax reports what can be seen on the syntax alone: socket functions,
// plugin.Open, DLL names, function values, linkname directives, cgo calls,
// assembly.
func (c *checker) syntax() {
	pass := c.pass
	var found []finding
	seen := map[*ast.Ident]bool{}
	for _, f := range pass.Files {
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.SelectorExpr:
				if x, ok := n.X.(*ast.Ident); ok && x.Name == "C" && contains(CSocketFuncs, n.Sel.Name) {
					found = append(found, finding{n.Pos(), n.End(), "C." + n.Sel.Name,
						fmt.Sprintf("cgo call C.%s reaches the network outside the net package", n.Sel.Name)})
				}
			case *ast.Ident:
				if name, ok := strings.CutPrefix(n.Name, "_Cfunc_"); ok && contains(CSocketFuncs, name) && pass.TypesInfo.Uses[n] != nil {
					found = append(found, finding{n.Pos(), n.End(), "C." + name,
						fmt.Sprintf("cgo call C.%s reaches the network outside the net package", name)})
				}
			}
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			fn, ok := typeutil.Callee(pass.TypesInfo, call).(*types.Func)
			if !ok || fn.Pkg() == nil || !isPkgFunc(fn) {
				return true
			}
			qual := fn.Pkg().Path() + "." + fn.Name()
			switch {
			case fn.Pkg().Path() == "plugin" && fn.Name() == "Open":
				markFun(call, seen)
				found = append(found, finding{call.Pos(), call.End(), qual,
					"plugin.Open loads code netlint cannot check (it may reach the network)"})
			case inSyscallPkg(fn) && contains(SocketFuncs, fn.Name()):
				markFun(call, seen)
				if fn.Name() == "Socket" && len(call.Args) > 0 && localDomain(pass.TypesInfo, call.Args[0]) {
					return true // AF_UNIX: a file-system socket, not the network
				}
				found = append(found, finding{call.Pos(), call.End(), qual,
					fmt.Sprintf("raw socket call %s bypasses the net package", shortName(fn))})
			case inSyscallPkg(fn) && contains(syscallFuncs, fn.Name()):
				markFun(call, seen) // the trap number is judged on SSA
			case inSyscallPkg(fn) && contains(dllFuncs, fn.Name()) && len(call.Args) > 0:
				if name, ok := constString(pass.TypesInfo, call.Args[0]); ok && isNetworkDLL(name) {
					found = append(found, finding{call.Pos(), call.End(), "dll:" + dllBase(name) + ".dll",
						fmt.Sprintf("%s(%q) loads a Windows networking library", shortName(fn), name)})
				}
			}
			return true
		})
	}
	// Function values: "f := unix.Connect" is as good as a call, and a
	// Syscall taken as a value (or through reflect) hides its trap number.
	for id, obj := range pass.TypesInfo.Uses {
		fn, ok := obj.(*types.Func)
		if !ok || seen[id] || !isPkgFunc(fn) || fn.Pkg() == nil {
			continue
		}
		isPlugin := fn.Pkg().Path() == "plugin" && fn.Name() == "Open"
		switch {
		case isPlugin || inSyscallPkg(fn) && contains(SocketFuncs, fn.Name()):
			found = append(found, finding{id.Pos(), id.End(), fn.Pkg().Path() + "." + fn.Name(),
				fmt.Sprintf("reference to %s: a raw network call outside the net package", shortName(fn))})
		case inSyscallPkg(fn) && contains(syscallFuncs, fn.Name()):
			found = append(found, finding{id.Pos(), id.End(), fn.Pkg().Path() + "." + fn.Name(),
				fmt.Sprintf("reference to %s: a system call whose trap number netlint cannot check", shortName(fn))})
		}
	}
	found = append(found, c.linknames()...)
	found = append(found, c.foreign()...)
	sort.SliceStable(found, func(i, j int) bool { return found[i].pos < found[j].pos })
	for _, f := range found {
		if c.report(f) {
			if fn := c.enclosingFunc(f.pos); fn != nil {
				if _, ok := c.direct[fn]; !ok {
					c.direct[fn] = f
				}
			}
		}
	}
}

// enclosingFunc returns the function declared around pos, if any.
func (c *checker) enclosingFunc(pos token.Pos) *types.Func {
	for _, f := range c.pass.Files {
		if pos < f.FileStart || pos > f.FileEnd {
			continue
		}
		for _, d := range f.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok && fd.Pos() <= pos && pos < fd.End() {
				fn, _ := c.pass.TypesInfo.Defs[fd.Name].(*types.Func)
				return fn
			}
		}
	}
	return nil
}

// localDomain reports whether a socket's domain is the constant AF_UNIX
// (AF_LOCAL).
func localDomain(info *types.Info, e ast.Expr) bool {
	tv, ok := info.Types[e]
	if !ok || tv.Value == nil {
		return false
	}
	v, ok := constant.Int64Val(constant.ToInt(tv.Value))
	return ok && v == 1
}

// markFun records the identifier naming the called function, so that the
// function-value pass does not report the same use again.
func markFun(call *ast.CallExpr, seen map[*ast.Ident]bool) {
	switch fun := ast.Unparen(call.Fun).(type) {
	case *ast.Ident:
		seen[fun] = true
	case *ast.SelectorExpr:
		seen[fun.Sel] = true
	case *ast.IndexExpr:
		if sel, ok := fun.X.(*ast.SelectorExpr); ok {
			seen[sel.Sel] = true
		}
	}
}

func shortName(fn *types.Func) string {
	return fn.Pkg().Name() + "." + fn.Name()
}

func constString(info *types.Info, e ast.Expr) (string, bool) {
	tv, ok := info.Types[e]
	if !ok || tv.Value == nil || tv.Value.Kind() != constant.String {
		return "", false
	}
	return constant.StringVal(tv.Value), true
}

func isNetworkDLL(name string) bool { return contains(NetworkDLLs, dllBase(name)) }

// dllBase reduces a DLL name or path to its lower-case base name without
// ".dll".
func dllBase(name string) string {
	base := strings.ToLower(name)
	if i := strings.LastIndexAny(base, `\/`); i >= 0 {
		base = base[i+1:]
	}
	return strings.TrimSuffix(base, ".dll")
}
