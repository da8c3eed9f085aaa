// Package netimport defines the netimport analyzer: it reports every import
// of a package on netlint's deny list (net, net/http, crypto/tls,
// golang.org/x/net/..., google.golang.org/grpc/... and other well-known
// network clients; see package netpolicy for the lists and why), at the
// import spec, naming the package and the reason it is denied. Parsing-only
// packages such as net/url, net/netip and net/mail are allowed, and an import
// of net, crypto/tls, net/textproto or net/http whose every use in the file
// is a type, constant or parsing helper (netpolicy.DataSymbols: net.IP,
// net.ParseIP, tls.VersionTLS13, textproto.MIMEHeader, http.StatusText, a
// unix socket, ...) is not reported.
//
// Flags -deny and -allow extend the lists; -config names a .netlint.json.
// A finding is suppressed by "//netlint:allow <reason>" on the import line,
// on the line before it, or above the import block, or by an "import"
// exception of the config file.
package netimport
