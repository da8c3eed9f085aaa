package direct

import (
	"crypto/tls" // want `forbidden network import "crypto/tls" \(TLS connections`
	"expvar"     // want `forbidden network import "expvar" \(publishes variables over HTTP\)`
	"fmt"
	"log/syslog"    // want `forbidden network import "log/syslog"`
	"net"           // want `forbidden network import "net" \(sockets, DNS and dialing\)`
	"net/http"      // want `forbidden network import "net/http" \(HTTP clients and servers\)`
	"net/mail"      // allowed: parsing only
	"net/netip"     // allowed: values only
	"net/rpc"       // want `forbidden network import "net/rpc"`
	"net/smtp"      // want `forbidden network import "net/smtp"`
	"net/textproto" // want `forbidden network import "net/textproto" \(text protocol client`
	"net/url"       // allowed: parsing only
	"os"

	"golang.org/x/net/html"  // allowed: parser only
	"golang.org/x/net/http2" // want `forbidden network import "golang.org/x/net/http2" \(network protocols`
	"google.golang.org/grpc" // want `forbidden network import "google.golang.org/grpc" \(gRPC client and server\)`
)

import rpcjson "net/rpc/jsonrpc" // want `forbidden network import "net/rpc/jsonrpc"`

import _ "net/http/pprof" // want `forbidden network import "net/http/pprof"`

var (
	_ = tls.Client
	_ = fmt.Sprint
	_ = expvar.NewInt
	_ = syslog.New
	_ = textproto.Dial
	_ = net.Dial
	_ = http.Get
	_ = mail.ParseAddress
	_ = netip.ParseAddr
	_ = rpc.Dial
	_ = smtp.Dial
	_ = url.Parse
	_ = os.Exit
	_ = html.Parse
	_ http2.Transport
	_ = grpc.Dial
	_ = rpcjson.Dial
)
