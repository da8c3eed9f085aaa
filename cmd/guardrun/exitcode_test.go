package main

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/guardrun/guardrun/analyzers/lint"
	"github.com/guardrun/guardrun/audit"
	"github.com/guardrun/guardrun/pipeline"
	"github.com/guardrun/guardrun/policy"
	"github.com/guardrun/guardrun/preflight"
	"github.com/guardrun/guardrun/report"
	"github.com/guardrun/guardrun/runner"
)

// TestExitCodeMapsEveryLibraryError: the libraries return errors, never
// numbers; this table is the contract of DESIGN §8, wrapped as callers wrap.
func TestExitCodeMapsEveryLibraryError(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("doing x: %w", err) }
	for _, tc := range []struct {
		name string
		err  error
		want int
	}{
		{"success", nil, 0},
		{"stage failed", &runner.StageFailedError{Failed: []string{"s"}}, 1},
		{"broken audit chain", &audit.ChainError{Line: 3, Reason: "hash mismatch"}, 1},
		{"anything else", errors.New("disk on fire"), 1},
		{"usage", &usageError{msg: "bad flag"}, 2},
		{"invalid spec", wrap(&pipeline.SpecError{Field: "stages[0].name", Msg: "required"}), 2},
		{"several spec problems", pipeline.SpecErrors{{Msg: "a"}, {Msg: "b"}}, 2},
		{"--force of an unknown stage", wrap(fmt.Errorf("--force x: %w", runner.ErrNoSuchStage)), 2},
		{"no such run", &report.RunNotFoundError{RunID: "r"}, 2},
		{"bad key file", &audit.KeyFileError{Path: "k", Reason: "empty"}, 2},
		{"go processor does not load", &lint.Error{Op: "load", Err: errors.New("x")}, 2},
		{"unlintable go processor found while running", &runner.VetError{Err: &lint.Error{Op: "load", Err: errors.New("x")}}, 2},
		{"no guardrun-guard to compute a verdict", wrap(&preflight.GuardMissingError{Next: "/bin/guardrun-guard"}), 2},
		{"no guardrun-guard to vet a changed go processor", &runner.VetError{Err: &preflight.GuardMissingError{}}, 2},
		{"plan has a stage it cannot plan", &planError{stages: []string{"s"}}, 2},
		{"guardrun-guard misbehaves", fmt.Errorf("running guardrun-guard: %w", errors.New("killed")), 1},
		{"policy denial", &policy.ViolationError{Result: &policy.Result{}}, 3},
		{"broken policy", &policy.Error{Err: errors.New("rego_parse_error")}, 3},
		{"netlint finding", &preflight.LintError{}, 3},
		{"netlint finding found while running", wrap(&runner.VetError{Err: &preflight.LintError{}}), 3},
		{"run id already used", wrap(&runner.RunIDUsedError{RunID: "r"}), 2},
		{"locked", &runner.LockedError{Path: "l"}, 4},
		{"interrupted", &runner.InterruptedError{RunID: "r"}, 130},
		{"cancelled", wrap(context.Canceled), 130},
	} {
		assert.Equal(t, tc.want, exitCode(tc.err), tc.name)
	}
}
