// Package http2 is a stub of the real package for the analyzer tests.
package http2

// Transport stands in for http2.Transport.
type Transport struct{}
