// Package flagish imports net only for net.IP values, as spf13/pflag does:
// it reaches no network, so importers stay clean.
package flagish

import "net"

// IPValue is a flag holding an IP address.
type IPValue struct{ ip net.IP }

func (v *IPValue) Set(s string) error {
	v.ip = net.ParseIP(s)
	return nil
}

func (v *IPValue) String() string { return v.ip.String() }
