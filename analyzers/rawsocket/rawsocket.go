package rawsocket

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
const Doc = `report raw socket system calls and plugin.Open

rawsocket reports calls of syscall, golang.org/x/sys/unix and
golang.org/x/sys/windows functions that create, connect, bind or send on
sockets or resolve names, Syscall with a socket trap number, loading of
Windows networking DLLs, and plugin.Open. Suppress one with
"//netlint:allow <reason>".`

// Analyzer uses the policy of the command-line flags (netpolicy.Global).
var Analyzer = New(netpolicy.Global)

// New returns a rawsocket analyzer that asks policy for its exceptions.
func New(policy func() (*netpolicy.Policy, error)) *analysis.Analyzer {
	return &analysis.Analyzer{
		Name: "rawsocket",
		Doc:  Doc,
		URL:  "https://github.com/guardrun/guardrun/blob/main/docs/NETLINT.md#rawsocket",
		Run:  func(pass *analysis.Pass) (any, error) { return run(pass, policy) },
	}
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
	var found []finding
	seen := map[*ast.Ident]bool{}
	for _, f := range pass.Files {
		ast.Inspect(f, func(n ast.Node) bool {
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
				found = append(found, finding{call.Pos(), call.End(), qual,
					fmt.Sprintf("raw socket call %s bypasses the net package", shortName(fn))})
			case inSyscallPkg(fn) && contains(syscallFuncs, fn.Name()) && len(call.Args) > 0:
				if trap := constName(pass.TypesInfo, call.Args[0]); trap != nil && contains(SocketTraps, trap.Name()) {
					found = append(found, finding{call.Pos(), call.End(), trap.Pkg().Path() + "." + trap.Name(),
						fmt.Sprintf("raw system call %s(%s) opens or uses a socket", shortName(fn), trap.Name())})
				}
			case inSyscallPkg(fn) && contains(dllFuncs, fn.Name()) && len(call.Args) > 0:
				if name, ok := constString(pass.TypesInfo, call.Args[0]); ok && isNetworkDLL(name) {
					found = append(found, finding{call.Pos(), call.End(), "dll:" + dllBase(name) + ".dll",
						fmt.Sprintf("%s(%q) loads a Windows networking library", shortName(fn), name)})
				}
			}
			return true
		})
	}
	// Function values: "f := unix.Connect" is as good as a call.
	for id, obj := range pass.TypesInfo.Uses {
		fn, ok := obj.(*types.Func)
		if !ok || seen[id] || !isPkgFunc(fn) || fn.Pkg() == nil {
			continue
		}
		isPlugin := fn.Pkg().Path() == "plugin" && fn.Name() == "Open"
		if !isPlugin && !(inSyscallPkg(fn) && contains(SocketFuncs, fn.Name())) {
			continue
		}
		found = append(found, finding{id.Pos(), id.End(), fn.Pkg().Path() + "." + fn.Name(),
			fmt.Sprintf("reference to %s: a raw network call outside the net package", shortName(fn))})
	}

	ix := suppress.New(pass)
	for _, f := range found {
		if _, ok := ix.Allowed(f.pos); ok {
			continue
		}
		if _, ok := pol.Except(pass.Pkg.Path(), pass.Fset.File(f.pos).Name(), netpolicy.KindCall, f.subject); ok {
			continue
		}
		pass.Report(analysis.Diagnostic{Pos: f.pos, End: f.end, Category: "rawsocket", Message: f.msg})
	}
	return nil, nil
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

// constName returns the package-level constant e names, if any.
func constName(info *types.Info, e ast.Expr) *types.Const {
	var id *ast.Ident
	switch x := ast.Unparen(e).(type) {
	case *ast.Ident:
		id = x
	case *ast.SelectorExpr:
		id = x.Sel
	case *ast.CallExpr: // uintptr(unix.SYS_SOCKET)
		if len(x.Args) == 1 {
			if tv, ok := info.Types[x.Fun]; ok && tv.IsType() {
				return constName(info, x.Args[0])
			}
		}
		return nil
	default:
		return nil
	}
	c, ok := info.Uses[id].(*types.Const)
	if !ok || c.Pkg() == nil {
		return nil
	}
	for _, p := range SyscallPackages {
		if c.Pkg().Path() == p {
			return c
		}
	}
	return nil
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
