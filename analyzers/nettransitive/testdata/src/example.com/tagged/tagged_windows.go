package tagged // want package:"reaches example.com/e -> example.com/f -> google.golang.org/grpc"

import "example.com/e" // want `example.com/tagged -> example.com/e -> example.com/f -> google.golang.org/grpc`

var _ = e.Call
