// Command proc is a processor that reaches the network through app.
package main

import "example.com/demo/app"

func main() { app.Main() }
