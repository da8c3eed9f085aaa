// Package allowblock accepts a whole import block.
package allowblock

//netlint:allow both wrap the policy engine, which has no network capability
import (
	"example.com/b"
	"example.com/d"
)

var (
	_ = b.Fetch
	_ = d.Call
)
