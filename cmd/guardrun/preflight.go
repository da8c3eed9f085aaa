package main

import (
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/guardrun/guardrun/pipeline"
	"github.com/guardrun/guardrun/preflight"
	"github.com/guardrun/guardrun/runner"
)

// preflightFlags are the flags of the checks that must pass before a run:
// `check`, `plan` and `run` take the same ones and share preflight.Run, so
// they reach the same verdict (README, "One verdict").
type preflightFlags struct {
	policyDirs multiFlag
	strict     bool
	bestEffort bool
}

func (f *preflightFlags) register(fs *flag.FlagSet) {
	fs.Var(&f.policyDirs, "policy", "directory of extra .rego policy modules (repeatable)")
	fs.BoolVar(&f.strict, "strict", false, "policy warnings refuse the pipeline (exit 3) like denials")
	fs.BoolVar(&f.bestEffort, "best-effort", false, "run even where this host cannot enforce isolation or limits (recorded in the run)")
}

// options are preflight's options for p; warnings (nil: none) receives the
// policy's warnings. noCache evaluates afresh (`check`).
func (f *preflightFlags) options(p *pipeline.Pipeline, warnings io.Writer, noCache bool) preflight.Options {
	return preflight.Options{BestEffort: f.bestEffort, PolicyDirs: f.policyDirs, Strict: f.strict, NoCache: noCache,
		Warnings: warnings, CachePath: runner.Layout(p).PreflightFile()}
}

// planError is a plan with stages it cannot plan (action "error": an input
// that cannot be read, a processor that cannot be found): a problem of the
// spec or its inputs, exit 2.
type planError struct{ stages []string }

func (e *planError) Error() string {
	if len(e.stages) == 1 {
		return fmt.Sprintf("plan: cannot plan stage %s", e.stages[0])
	}
	return fmt.Sprintf("plan: cannot plan %d stages: %s", len(e.stages), strings.Join(e.stages, ", "))
}
