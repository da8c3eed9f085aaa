package badallow // want package:"reaches example.com/b"

import (
	"example.com/b" //netlint:allow // want `example.com/badallow -> example.com/b -> example.com/c -> net/http`
)

var _ = b.Fetch
