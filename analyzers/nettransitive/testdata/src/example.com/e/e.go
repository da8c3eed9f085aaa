package e // want package:"reaches example.com/f -> google.golang.org/grpc"

import "example.com/f" // want `example.com/e -> example.com/f -> google.golang.org/grpc`

// Call calls.
func Call() { f.Dial() }
