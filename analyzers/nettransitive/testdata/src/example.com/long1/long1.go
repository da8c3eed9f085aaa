package long1 // want package:"reaches example.com/long2 -> example.com/d -> example.com/e -> example.com/f -> google.golang.org/grpc"

import "example.com/long2" // want `example.com/long1 -> example.com/long2 -> example.com/d -> example.com/e -> example.com/f -> google.golang.org/grpc`

// Call calls.
func Call() { long2.Call() }
