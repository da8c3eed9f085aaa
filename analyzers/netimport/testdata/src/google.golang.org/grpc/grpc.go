// Package grpc is a stub of the real module for the analyzer tests.
package grpc

// Dial stands in for grpc.Dial.
func Dial(string) error { return nil }
