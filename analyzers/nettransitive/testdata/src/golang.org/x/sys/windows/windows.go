// Package windows is a stub of golang.org/x/sys/windows, which imports net
// for the net.IP type only; x/sys is opaque to the transitive mode.
package windows

import "net"

// IP converts.
func IP(b []byte) net.IP { return net.IP(b) }
