// Package allowed suppresses its findings, once without a reason.
package allowed

import (
	"net" //netlint:allow only net.IP values are parsed here

	"os/exec"
)

// Loopback is 127.0.0.1.
var Loopback = net.IPv4(127, 0, 0, 1)

// Ping pings the loopback address.
func Ping() error {
	//netlint:allow
	return exec.Command("ping", "-c", "1", "127.0.0.1").Run()
}
