// Package nettransitive defines the nettransitive analyzer, netlint's
// -transitive mode: it reports an import of a package that is not itself
// forbidden but reaches a forbidden package through its own imports, with the
// shortest such chain, for example
//
//	import "example.com/b" reaches forbidden package net/http: example.com/a -> example.com/b -> example.com/c -> net/http
//
// It works with package facts: every package it analyzes exports a Reach fact
// holding its shortest chain to a forbidden package, and importers extend it
// by one step, so each package is looked at once.
//
// An import of net, crypto/tls, net/textproto or net/http used only for
// types, constants and parsing helpers (netpolicy.DataSymbols) is not an
// edge; a chain that starts in a _test.go file says so.
//
// Rules: standard library packages are judged by the deny list alone (their
// internal use of net, such as crypto/x509's net.IP fields, is not followed);
// an import suppressed with "//netlint:allow <reason>" or by an "import"
// exception of the config file is an accepted edge and is cut from the graph,
// so the acknowledgement is written once, where the dependency enters, and its
// importers stay clean. Directives inside versioned third-party modules are
// ignored (a dependency cannot exempt itself); exceptions of the config file
// apply everywhere.
package nettransitive
