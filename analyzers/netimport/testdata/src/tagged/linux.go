//go:build linux

package tagged

import "net" // want `forbidden network import "net"`

var _ = net.Dial
