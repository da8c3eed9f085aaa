package rawallow

import (
	"plugin"

	"golang.org/x/sys/unix"
)

func Allowed() { // want Allowed:`makes a raw network call: rawallow\.Allowed -> golang\.org/x/sys/unix\.Listen`
	//netlint:allow netlink socket to bring the sandbox's loopback down
	fd, _ := unix.Socket(16, 3, 0)

	_ = unix.Bind(fd, nil) //netlint:allow binds the netlink socket above

	//netlint:allow
	_ = unix.Listen(fd, 1) // want `raw socket call unix.Listen`

	_, _ = plugin.Open("p.so") //netlint:allow // want `plugin.Open loads code`
}
