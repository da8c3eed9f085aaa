package d // want package:"reaches example.com/e -> example.com/f -> google.golang.org/grpc"

import "example.com/e" // want `import "example.com/e" reaches forbidden package google.golang.org/grpc: example.com/d -> example.com/e -> example.com/f -> google.golang.org/grpc`

// Call calls.
func Call() { e.Call() }
