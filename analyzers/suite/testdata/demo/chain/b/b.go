// Package b wraps c.
package b

import "example.com/demo/chain/c"

// Run runs.
func Run() error { return c.Fetch() }
