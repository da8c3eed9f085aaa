package usesdirect // want package:"reaches example.com/direct -> net"

import (
	"example.com/direct" // want `import "example.com/direct" reaches forbidden package net: example.com/usesdirect -> example.com/direct -> net`

	//netlint:allow the client is only built in the integration tests
	"example.com/b"
)

var _ = b.Fetch
var _ = direct.X
