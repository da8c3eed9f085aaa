package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/guardrun/guardrun/preflight/guard"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := guard.Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
