package netimport

import (
	"fmt"
	"strconv"

	"github.com/guardrun/guardrun/analyzers/internal/netpolicy"
	"github.com/guardrun/guardrun/analyzers/internal/suppress"
	"golang.org/x/tools/go/analysis"
)

// Doc is the analyzer's documentation.
const Doc = `report imports of packages that can reach the network

netimport reports each import of a package on the deny list (by default net,
net/... except net/url, net/netip and net/mail, crypto/tls, log/syslog,
expvar, golang.org/x/net/..., google.golang.org/grpc/... and well-known
network clients and SDKs). An import of net, crypto/tls, net/textproto or
net/http whose every use in the file is a type, constant or parsing helper
(net.IP, net.ParseIP, tls.VersionTLS13, textproto.MIMEHeader,
http.StatusText, ...; a unix socket) is not reported. Suppress one with
"//netlint:allow <reason>".`

// Analyzer uses the policy of the command-line flags (netpolicy.Global).
var Analyzer = New(netpolicy.Global)

// New returns a netimport analyzer that asks policy for its lists.
func New(policy func() (*netpolicy.Policy, error)) *analysis.Analyzer {
	a := &analysis.Analyzer{
		Name: "netimport",
		Doc:  Doc,
		URL:  "https://github.com/guardrun/guardrun/blob/main/docs/NETLINT.md#netimport",
		Run:  func(pass *analysis.Pass) (any, error) { return run(pass, policy) },
	}
	netpolicy.RegisterFlags(&a.Flags)
	return a
}

func run(pass *analysis.Pass, policy func() (*netpolicy.Policy, error)) (any, error) {
	pol, err := policy()
	if err != nil {
		return nil, err
	}
	ix := suppress.New(pass)
	for _, f := range pass.Files {
		for _, spec := range f.Imports {
			path, err := strconv.Unquote(spec.Path.Value)
			if err != nil {
				continue
			}
			v := pol.Check(path)
			if !v.Forbidden {
				continue
			}
			if ok, _ := netpolicy.DataOnly(f, spec, pass.TypesInfo); ok {
				continue // only types, constants and parsing helpers are used
			}
			if _, ok := ix.Allowed(spec.Pos()); ok {
				continue
			}
			if _, ok := pol.Except(pass.Pkg.Path(), pass.Fset.File(spec.Pos()).Name(), netpolicy.KindImport, path); ok {
				continue
			}
			pass.Report(analysis.Diagnostic{
				Pos:      spec.Pos(),
				End:      spec.End(),
				Category: "netimport",
				Message:  fmt.Sprintf("forbidden network import %q (%s)", path, v.Rule.Reason),
			})
		}
	}
	return nil, nil
}
