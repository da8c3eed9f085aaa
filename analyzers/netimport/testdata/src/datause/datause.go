// Package datause mixes data with real network calls: the import rule
// stays exact.
package datause

import (
	"crypto/tls"    // want `forbidden network import "crypto/tls"`
	"net"           // want `forbidden network import "net" \(sockets, DNS and dialing\)`
	"net/http"      // want `forbidden network import "net/http"`
	"net/textproto" // want `forbidden network import "net/textproto"`
)

import _ "net/http/pprof" // want `forbidden network import "net/http/pprof"`

var _ net.IP

func Dial() {
	_, _ = net.Dial("tcp", "example.com:80")
	_, _ = net.Listen("unix"+"x", "/tmp/s") // not a unix network
	_, _ = tls.Dial("tcp", "h:443", &tls.Config{MinVersion: tls.VersionTLS13})
	_ = http.StatusText(200)
	_, _ = http.Get("https://example.com")
	_, _ = textproto.Dial("tcp", "h:25")
}
