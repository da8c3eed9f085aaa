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

	"github.com/guardrun/guardrun/analyzers/lint"
	"github.com/guardrun/guardrun/audit"
	"github.com/guardrun/guardrun/internal/memlimit"
	"github.com/guardrun/guardrun/pipeline"
	"github.com/guardrun/guardrun/policy"
	"github.com/guardrun/guardrun/preflight"
	"github.com/guardrun/guardrun/report"
	"github.com/guardrun/guardrun/runner"
)

func main() {
	ctx, stop := signalContext()
	defer stop()
	stopProfile := startProfile()
	// A soft heap limit that follows the live heap (internal/memlimit):
	// large fan-outs stay near what they hold, small runs are unaffected.
	memlimit.Start(memlimit.Floor)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stopProfile()
	code := exitCode(err)
	if err != nil && !errors.Is(err, errSilent) {
		fmt.Fprintln(os.Stderr, "guardrun: "+err.Error())
	}
	stop()
	os.Exit(code)
}

// startProfile writes a CPU profile to $GUARDRUN_CPUPROFILE and, at the
// end, a heap profile (allocations included) to $GUARDRUN_MEMPROFILE
// (debugging aids for performance work; see docs/BENCHMARKS.md).
func startProfile() func() {
	mem := os.Getenv("GUARDRUN_MEMPROFILE")
	stopCPU := startCPUProfile()
	return func() {
		stopCPU()
		if mem == "" {
			return
		}
		if f, err := os.Create(mem); err == nil {
			_ = pprof.Lookup("allocs").WriteTo(f, 0)
			_ = f.Close()
		}
	}
}

func startCPUProfile() func() {
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
				notice(os.Stderr, "guardrun: interrupted: stopping processors and keeping checkpoints (again to abort)")
				cancel()
				continue
			}
			clearLive()
			fmt.Fprintln(os.Stderr, "guardrun: aborted")
			os.Exit(exitInterrupted)
		}
	}()
	return ctx, func() { signal.Stop(ch); cancel() }
}

// Exit codes (DESIGN §8). Only this package knows them: libraries return
// sentinel or typed errors and exitCode maps them, in one switch.
const (
	exitOK          = 0
	exitFailed      = 1 // a stage failed, the audit chain is broken, or an internal error
	exitUsage       = 2 // bad flags, an invalid spec, a stage plan cannot plan, a missing run, key file or guardrun-guard
	exitPolicy      = 3 // the policy or netlint refused
	exitLocked      = 4 // another run holds the pipeline lock
	exitInterrupted = 130
)

// exitCode is the one place errors become exit codes.
func exitCode(err error) int {
	var (
		usage      *usageError
		plan       *planError
		findings   *preflight.LintError
		unlintable *lint.Error
		refused    *cleanError
	)
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, runner.ErrInterrupted), errors.Is(err, context.Canceled):
		return exitInterrupted
	case errors.Is(err, runner.ErrLocked):
		return exitLocked
	case errors.Is(err, policy.ErrPolicy), errors.As(err, &findings):
		return exitPolicy
	case errors.As(err, &usage), errors.Is(err, pipeline.ErrInvalidSpec), errors.Is(err, runner.ErrNoSuchStage),
		errors.Is(err, report.ErrRunNotFound), errors.Is(err, audit.ErrKeyFile), errors.As(err, &unlintable), errors.Is(err, runner.ErrRunIDUsed),
		errors.Is(err, preflight.ErrNoGuard), errors.As(err, &plan), errors.As(err, &refused):
		return exitUsage
	}
	return exitFailed // runner.ErrStageFailed, audit.ErrBrokenChain, anything unexpected
}
