// Command cleanproc is a processor that uses only allowed packages.
package main

import (
	"fmt"

	"example.com/demo/clean"
)

func main() { fmt.Println(clean.Host("https://example.com/x")) }
