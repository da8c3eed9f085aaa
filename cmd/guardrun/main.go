// Command guardrun runs offline, network-isolated, resumable pipelines.
// See the README for the spec, the processor protocol and the exit codes.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"github.com/guardrun/guardrun/runner"
)

func main() {
	ctx, stop := signalContext()
	defer stop()
	stopProfile := startProfile()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stopProfile()
	code := exitCode(err)
	if err != nil && !errors.Is(err, errSilent) {
		fmt.Fprintln(os.Stderr, "guardrun: "+err.Error())
	}
	stop()
	os.Exit(code)
}

// startProfile writes a CPU profile to $GUARDRUN_CPUPROFILE (a debugging
// aid for performance work; see docs/BENCHMARKS.md).
func startProfile() func() {
	path := os.Getenv("GUARDRUN_CPUPROFILE")
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return func() {}
	}
	return func() { pprof.StopCPUProfile(); _ = f.Close() }
}

// signalContext cancels on the first SIGINT/SIGTERM (the run checkpoints
// and exits 130); a second signal aborts at once with 130.
func signalContext() (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	go func() {
		n := 0
		for range ch {
			n++
			if n == 1 {
				fmt.Fprintln(os.Stderr, "guardrun: interrupted: stopping processors and keeping checkpoints (again to abort)")
				cancel()
				continue
			}
			fmt.Fprintln(os.Stderr, "guardrun: aborted")
			os.Exit(runner.ExitInterrupted)
		}
	}()
	return ctx, func() { signal.Stop(ch); cancel() }
}

// exitCode is the one place errors become exit codes (DESIGN §8).
func exitCode(err error) int {
	if err == nil {
		return runner.ExitOK
	}
	var c interface{ Code() int }
	if errors.As(err, &c) {
		return c.Code()
	}
	if errors.Is(err, context.Canceled) {
		return runner.ExitInterrupted
	}
	return runner.ExitStageFailed
}
