package dialer // want package:"reaches net"

import "net"

var _ net.IP

// Dial dials: net is more than data here.
func Dial() { _, _ = net.Dial("tcp", "h:1") }
