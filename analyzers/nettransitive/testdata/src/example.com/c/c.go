package c // want package:"reaches net/http"

import "net/http" // a direct import: netimport's finding, not this analyzer's

// Get fetches.
func Get(u string) { _, _ = http.Get(u) }
