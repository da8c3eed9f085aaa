package tagged // want package:"reaches example.com/c -> net/http"

import "example.com/c" // want `example.com/tagged -> example.com/c -> net/http`

var _ = c.Get
