// Package netimport defines the netimport analyzer: it reports every import
// of a package on netlint's deny list (net, net/http, crypto/tls,
// golang.org/x/net/..., google.golang.org/grpc/... and other well-known
// network clients; see package netpolicy for the lists and why), at the
// import spec, naming the package and the reason it is denied. Parsing-only
// packages such as net/url, net/netip and net/mail are allowed.
//
// Flags -deny and -allow extend the lists; -config names a .netlint.json.
// A finding is suppressed by "//netlint:allow <reason>" on the import line,
// on the line before it, or above the import block, or by an "import"
// exception of the config file.
package netimport
