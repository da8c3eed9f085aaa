package b // want package:"reaches example.com/c -> net/http"

import "example.com/c" // want `import "example.com/c" reaches forbidden package net/http: example.com/b -> example.com/c -> net/http`

// Fetch fetches through c.
func Fetch() { c.Get("x") }
