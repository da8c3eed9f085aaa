// Command netlint forbids networking in Go code. It runs the analyzers of
// github.com/guardrun/guardrun/analyzers: forbidden imports, judged by use
// for net, crypto/tls, net/textproto and net/http (netimport); raw socket
// calls, socket trap numbers by value, linkname, cgo and assembly escape
// hatches and plugin.Open (rawsocket); network programs by the values that
// reach exec, through helpers of any package, and unresolved commands
// (netexec); malformed suppressions (netdirective) and, with
// -transitive, imports that reach a forbidden package through other packages
// (nettransitive).
//
// Standalone:
//
//	netlint [-transitive] [-json] [-test=false] [-tags t] [-C dir] [-deny p,...] [-allow p,...] [-config file] [-unresolved report|ignore] [packages]
//
// exits 0 when clean, 3 with findings (also with -json), 1 when the packages
// cannot be loaded or analyzed, 2 on a usage error.
//
// As a vet tool (the go command drives it with the unitchecker protocol):
//
//	go vet -vettool=$(command -v netlint) [-transitive] ./...
//
// See docs/NETLINT.md for the rules, the default lists and suppression.
package main
