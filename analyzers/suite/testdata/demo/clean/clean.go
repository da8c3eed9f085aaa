// Package clean parses URLs and addresses, which is allowed.
package clean

import (
	"net/mail"
	"net/netip"
	"net/url"
	"strings"
)

// Host returns the host of a URL.
func Host(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return ""
	}
	return strings.ToLower(u.Hostname())
}

// Valid reports whether s is an address and ip an IP.
func Valid(s, ip string) bool {
	_, err1 := mail.ParseAddress(s)
	_, err2 := netip.ParseAddr(ip)
	return err1 == nil && err2 == nil
}
