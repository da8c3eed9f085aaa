package suite

import (
	"flag"

	"github.com/guardrun/guardrun/analyzers/internal/netpolicy"
	"github.com/guardrun/guardrun/analyzers/lint"
	"github.com/guardrun/guardrun/analyzers/netdirective"
	"github.com/guardrun/guardrun/analyzers/netexec"
	"github.com/guardrun/guardrun/analyzers/netimport"
	"github.com/guardrun/guardrun/analyzers/nettransitive"
	"github.com/guardrun/guardrun/analyzers/rawsocket"
	"golang.org/x/tools/go/analysis"
)

// Analyzers returns the netlint analyzers that read their lists from the
// command-line flags (see RegisterFlags): netimport, rawsocket, netexec and
// netdirective, plus nettransitive when transitive is set.
func Analyzers(transitive bool) []*analysis.Analyzer {
	as := []*analysis.Analyzer{netimport.Analyzer, rawsocket.Analyzer, netexec.Analyzer, netdirective.Analyzer}
	if transitive {
		as = append(as, nettransitive.Analyzer)
	}
	return as
}

// forPolicy returns fresh analyzers bound to one policy, so that concurrent
// runs with different configs do not share state.
func forPolicy(p *netpolicy.Policy, transitive bool) []*analysis.Analyzer {
	get := func() (*netpolicy.Policy, error) { return p, nil }
	as := []*analysis.Analyzer{netimport.New(get), rawsocket.New(get), netexec.New(get), netdirective.Analyzer}
	if transitive {
		as = append(as, nettransitive.New(get))
	}
	return as
}

// RegisterFlags defines the policy flags -deny, -allow and -config on fs.
func RegisterFlags(fs *flag.FlagSet) { netpolicy.RegisterFlags(fs) }

// ConfigName is the name of the config file netlint discovers at the module
// root.
const ConfigName = lint.ConfigName

// ConfigPath returns the .netlint.json that VetPackage(dir) uses ("" if
// none), so that a caller caching verdicts by source hash can mix the
// config's content into its key.
func ConfigPath(dir string) string { return lint.ConfigPath(dir) }
