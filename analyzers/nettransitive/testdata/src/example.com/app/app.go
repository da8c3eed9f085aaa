package app // want package:"reaches example.com/b -> example.com/c -> net/http"

import (
	"fmt"

	"example.com/b" // want `import "example.com/b" reaches forbidden package net/http: example.com/app -> example.com/b -> example.com/c -> net/http`
)

// Run runs.
func Run() { b.Fetch(); fmt.Println() }
