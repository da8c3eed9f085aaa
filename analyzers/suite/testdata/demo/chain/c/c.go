// Package c wraps d.
package c

import "example.com/demo/chain/d"

// Fetch fetches.
func Fetch() error { return d.Get("https://example.com") }
