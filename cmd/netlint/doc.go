// Command netlint forbids networking in Go code. It runs the analyzers of
// github.com/guardrun/guardrun/analyzers: forbidden imports (netimport), raw
// socket calls and plugin.Open (rawsocket), network tools started by literal
// name (netexec), malformed suppressions (netdirective) and, with
// -transitive, imports that reach a forbidden package through other packages
// (nettransitive).
//
// Standalone:
//
//	netlint [-transitive] [-json] [-test=false] [-tags t] [-C dir] [-deny p,...] [-allow p,...] [-config file] [packages]
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
