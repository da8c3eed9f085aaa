package direct // want package:"reaches net"

import "net"

var _ = net.Dial
var X = 1
