// Package certs uses crypto/x509, which imports net for net.IP fields; the
// standard library is judged by the list only, so this is clean.
package certs

import (
	"crypto/x509"
	"net/mail"
	"net/url"
)

var (
	_ = x509.ParseCertificate
	_ = mail.ParseAddress
	_ = url.Parse
)

// Use is used.
var Use = 1
