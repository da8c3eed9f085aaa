package short // want package:"reaches example.com/e -> example.com/f -> google.golang.org/grpc"

// short reaches grpc through a long and a short chain; the fact keeps the
// shortest.

import (
	"example.com/e"     // want `example.com/short -> example.com/e -> example.com/f -> google.golang.org/grpc`
	"example.com/long1" // want `example.com/short -> example.com/long1 -> example.com/long2 -> example.com/d -> example.com/e -> example.com/f -> google.golang.org/grpc`
)

// Call calls.
func Call() { long1.Call(); e.Call() }
