// Package datafp imports network packages for their types, constants and
// parsing helpers only: nothing here can reach the network, so netimport
// stays quiet (issue 13's false positives).
package datafp

import (
	"crypto/tls"
	"net"
	"net/http"
	"net/netip"
	"net/textproto"
)

// Peer is data that happens to hold an address.
type Peer struct {
	IP   net.IP
	Mask net.IPMask
	Addr *net.TCPAddr
}

func Parse(s string) (Peer, error) {
	ip := net.ParseIP(s)
	_, n, err := net.ParseCIDR(s + "/24")
	if err != nil {
		return Peer{}, err
	}
	host, port, _ := net.SplitHostPort(net.JoinHostPort(ip.String(), "80"))
	_, _ = host, port
	return Peer{IP: ip.To4(), Mask: n.Mask, Addr: &net.TCPAddr{IP: ip, Port: 80}}, nil
}

// Prefix parses with net/netip (allowed: values only) and converts to net.
func Prefix(s string) (netip.Prefix, net.IP, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return p, nil, err
	}
	ap := netip.AddrPortFrom(p.Addr(), 443)
	return p, net.IP(ap.Addr().AsSlice()).Mask(net.CIDRMask(p.Bits(), 32)), nil
}

// MinTLS is a setting passed to a program that does the connecting.
const MinTLS = tls.VersionTLS13

func Suites() []string {
	return []string{tls.CipherSuiteName(tls.TLS_AES_128_GCM_SHA256), tls.VersionName(MinTLS)}
}

func Header(h textproto.MIMEHeader) string {
	return h.Get(textproto.CanonicalMIMEHeaderKey("content-type"))
}

func Status(code int) string {
	if code == http.StatusNotFound {
		return http.StatusText(code) + " " + http.MethodGet
	}
	return http.Header{"A": {"b"}}.Get("A")
}

// Local talks to a unix socket: a file, not the network.
func Local(path string) error {
	c, err := net.Dial("unix", path)
	if err != nil {
		return err
	}
	defer c.Close()
	l, err := net.Listen("unixgram", path+".2")
	if err != nil {
		return err
	}
	return l.Close()
}
