package netpolicy

import (
	"go/ast"
	"go/constant"
	"go/types"
	"path"
	"sort"
	"strconv"
	"strings"
)

// DataSymbols lists, for denied packages that are often imported only for
// their types, constants and parsing helpers, the exported names that
// neither open a connection nor serve one. A name ending in "*" is a
// prefix. Every constant of these packages counts as data too, and so do
// the methods of the listed types and the fields of their structs. An
// import of such a package whose every use in the file is on this list is
// not a finding (netimport) and not an edge (nettransitive).
var DataSymbols = map[string][]string{
	"net": {
		"IP", "IPMask", "IPNet", "IPAddr", "TCPAddr", "UDPAddr", "UnixAddr", "HardwareAddr", "Addr",
		"ParseIP", "ParseCIDR", "ParseMAC", "IPv4", "IPv4Mask", "CIDRMask", "JoinHostPort", "SplitHostPort",
		"IPv4len", "IPv6len", "IPv4bcast", "IPv4allsys", "IPv4allrouter", "IPv4zero", "IPv6zero",
		"IPv6unspecified", "IPv6loopback", "IPv6interfacelocalallnodes", "IPv6linklocalallnodes",
		"IPv6linklocalallrouters", "TCPAddrFromAddrPort", "UDPAddrFromAddrPort",
		"Error", "ParseError", "AddrError", "InvalidAddrError", "UnknownNetworkError", "OpError",
		"DNSError", "DNSConfigError", "ErrClosed", "ErrWriteToConnected", "Flags", "Flag*",
		// interfaces and types of connections made elsewhere: using a
		// connection someone else opened is not opening one
		"Conn", "Listener", "PacketConn", "Buffers",
		// unix domain sockets are files (see UnixNetworks)
		"UnixConn", "UnixListener", "DialUnix", "ListenUnix", "ListenUnixgram", "ResolveUnixAddr",
	},
	"crypto/tls": {
		"CipherSuiteName", "VersionName", "CipherSuites", "InsecureCipherSuites", "CipherSuite",
		"CurveID", "SignatureScheme", "ClientAuthType", "RenegotiationSupport", "Certificate",
		"ConnectionState", "Config", "LoadX509KeyPair", "X509KeyPair", "ClientHelloInfo",
		"CertificateRequestInfo", "ClientSessionCache", "NewLRUClientSessionCache", "ClientSessionState",
		"SessionState", "ParseSessionState", "EncryptedClientHelloKey", "RecordHeaderError", "AlertError",
		"CertificateVerificationError", "ECHRejectionError",
		"TLS_*", "Version*", "Curve*", "X25519*", "ECDSAWith*", "PSSWith*", "PKCS1With*", "Ed25519",
		"NoClientCert", "RequestClientCert", "RequireAnyClientCert", "VerifyClientCertIfGiven",
		"RequireAndVerifyClientCert", "Renegotiate*",
	},
	"net/textproto": {
		"MIMEHeader", "CanonicalMIMEHeaderKey", "TrimString", "TrimBytes", "ProtocolError", "Error",
		"Reader", "NewReader", "Writer", "NewWriter",
	},
	"net/http": {
		"StatusText", "Status*", "Method*", "Header", "CanonicalHeaderKey", "DetectContentType",
		"ParseHTTPVersion", "ParseTime", "TimeFormat", "TrailerPrefix", "DefaultMaxHeaderBytes",
		"Cookie", "SameSite*", "ParseCookie", "ParseSetCookie", "MaxBytesError", "ProtocolError",
	},
}

// UnixNetworks are the network names of unix domain sockets: net.Dial,
// net.Listen and friends with one of these constant networks reach a file,
// not the network.
var UnixNetworks = []string{"unix", "unixgram", "unixpacket"}

// networkArg maps the net functions and methods that take a network name to
// the index of that argument.
var networkArg = map[string]int{
	"Dial": 0, "DialTimeout": 0, "Listen": 0, "ListenPacket": 0,
	"Dialer.Dial": 0, "Dialer.DialContext": 1, "ListenConfig.Listen": 1, "ListenConfig.ListenPacket": 1,
}

// HasDataSymbols reports whether imports of path are judged by use.
func HasDataSymbols(path string) bool { return DataSymbols[path] != nil }

// IsDataSymbol reports whether name (an exported name of the package path)
// is on DataSymbols.
func IsDataSymbol(path, name string) bool {
	for _, s := range DataSymbols[path] {
		if p, ok := strings.CutSuffix(s, "*"); ok {
			if strings.HasPrefix(name, p) {
				return true
			}
		} else if s == name {
			return true
		}
	}
	return false
}

// DataOnly reports whether file f uses the package imported by spec for
// data only (see DataSymbols). With info the uses are the type checker's;
// without it (a dependency known only from its syntax) they are the
// qualified identifiers pkg.Name of the file. The second result names the
// first use that is not data ("" when there is none, or when the package is
// not judged by use).
func DataOnly(f *ast.File, spec *ast.ImportSpec, info *types.Info) (bool, string) {
	p, err := strconv.Unquote(spec.Path.Value)
	if err != nil || !HasDataSymbols(p) {
		return false, ""
	}
	local := path.Base(p)
	if spec.Name != nil {
		local = spec.Name.Name
	}
	if local == "_" || (local == "." && info == nil) {
		return false, "" // run for its side effects, or unknowable
	}
	unixIdents := unixCalls(f, p, local, info)
	var bad []string
	note := func(name string) { bad = append(bad, p+"."+name) }
	if info != nil {
		ast.Inspect(f, func(n ast.Node) bool {
			id, ok := n.(*ast.Ident)
			if !ok {
				return true
			}
			obj := info.Uses[id]
			if obj == nil || obj.Pkg() == nil || obj.Pkg().Path() != p || unixIdents[id] {
				return true
			}
			if !dataObject(p, obj) {
				note(obj.Name())
			}
			return true
		})
	} else {
		ast.Inspect(f, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if x, ok := sel.X.(*ast.Ident); ok && x.Name == local && !unixIdents[sel.Sel] && !IsDataSymbol(p, sel.Sel.Name) {
				note(sel.Sel.Name)
			}
			return true
		})
		if !hasBodies(f) {
			return false, "" // parsed for its imports only: the uses are unknown
		}
	}
	if len(bad) > 0 {
		sort.Strings(bad)
		return false, bad[0]
	}
	return true, ""
}

func hasBodies(f *ast.File) bool {
	for _, d := range f.Decls {
		if gd, ok := d.(*ast.GenDecl); !ok || gd.Tok.String() != "import" {
			return true
		}
	}
	return false
}

// dataObject decides one use found by the type checker.
func dataObject(p string, obj types.Object) bool {
	switch obj := obj.(type) {
	case *types.Const:
		return true
	case *types.Var:
		if obj.IsField() {
			return true
		}
		return IsDataSymbol(p, obj.Name())
	case *types.Func:
		if recv := obj.Signature().Recv(); recv != nil {
			t := recv.Type()
			if ptr, ok := t.(*types.Pointer); ok {
				t = ptr.Elem()
			}
			if n, ok := t.(*types.Named); ok {
				return IsDataSymbol(p, n.Obj().Name())
			}
			return false
		}
	}
	return IsDataSymbol(p, obj.Name())
}

// unixCalls returns the identifiers naming net.Dial, net.Listen, ... in
// calls whose network argument is a constant unix socket network.
func unixCalls(f *ast.File, p, local string, info *types.Info) map[*ast.Ident]bool {
	out := map[*ast.Ident]bool{}
	if p != "net" {
		return out
	}
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		sel, ok := ast.Unparen(call.Fun).(*ast.SelectorExpr)
		if !ok {
			return true
		}
		key := sel.Sel.Name
		if info != nil {
			fn, ok := info.Uses[sel.Sel].(*types.Func)
			if !ok || fn.Pkg() == nil || fn.Pkg().Path() != "net" {
				return true
			}
			if recv := fn.Signature().Recv(); recv != nil {
				t := recv.Type()
				if ptr, ok := t.(*types.Pointer); ok {
					t = ptr.Elem()
				}
				if nt, ok := t.(*types.Named); ok {
					key = nt.Obj().Name() + "." + key
				}
			}
		} else if x, ok := sel.X.(*ast.Ident); !ok || x.Name != local {
			return true
		}
		i, ok := networkArg[key]
		if !ok || i >= len(call.Args) {
			return true
		}
		if network, ok := constStr(call.Args[i], info); ok && contains(UnixNetworks, network) {
			out[sel.Sel] = true
		}
		return true
	})
	return out
}

func constStr(e ast.Expr, info *types.Info) (string, bool) {
	if info != nil {
		if tv, ok := info.Types[e]; ok && tv.Value != nil && tv.Value.Kind() == constant.String {
			return constant.StringVal(tv.Value), true
		}
		return "", false
	}
	if lit, ok := ast.Unparen(e).(*ast.BasicLit); ok {
		s, err := strconv.Unquote(lit.Value)
		return s, err == nil
	}
	return "", false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
