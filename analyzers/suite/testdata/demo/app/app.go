// Package app looks innocent but reaches net/http through three packages.
package app

import (
	"fmt"

	"example.com/demo/chain/b"
)

// Main runs.
func Main() { fmt.Println(b.Run()) }
