package suppressed

import (
	"net" //netlint:allow only net.IP values are used here

	//netlint:allow the SMTP client only talks to the sandbox's local relay
	"net/smtp"

	// A directive without a reason suppresses nothing (netdirective reports it).
	"net/textproto" //netlint:allow // want `forbidden network import "net/textproto"`
)

// The directive above an import block covers the whole block.
//
//netlint:allow vendored protocol code, reviewed in SEC-42
import (
	"crypto/tls"
	"net/http"
)

// netlint:allow with a space is accepted too
import "net/rpc"

import (
	"expvar"     // want `forbidden network import "expvar"`
	"log/syslog" //netlint:allow the directive covers its own line only
)

var (
	_ = net.IPv4len
	_ = smtp.Dial
	_ = textproto.Dial
	_ = tls.Client
	_ = http.Get
	_ = rpc.Dial
	_ = syslog.New
	_ = expvar.NewInt
)
