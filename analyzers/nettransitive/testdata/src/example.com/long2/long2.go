package long2 // want package:"reaches example.com/d -> example.com/e -> example.com/f -> google.golang.org/grpc"

import "example.com/d" // want `example.com/long2 -> example.com/d -> example.com/e -> example.com/f -> google.golang.org/grpc`

// Call calls.
func Call() { d.Call() }
