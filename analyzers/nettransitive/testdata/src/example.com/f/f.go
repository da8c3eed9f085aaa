package f // want package:"reaches google.golang.org/grpc"

import "google.golang.org/grpc"

// Dial dials.
func Dial() { _ = grpc.Dial("x") }
