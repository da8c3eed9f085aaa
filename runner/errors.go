package runner

import (
	"fmt"
	"strings"

	"github.com/guardrun/guardrun/internal/flock"
)

// Exit codes of DESIGN §8, shared with the CLI.
const (
	ExitOK          = 0
	ExitStageFailed = 1
	ExitUsage       = 2
	ExitPolicy      = 3
	ExitLocked      = 4
	ExitInterrupted = 130
)

// LockedError: another run holds the pipeline lock.
type LockedError struct {
	Path   string
	Holder flock.Holder
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("pipeline is locked by %s (lock %s); use --wait to wait for it", e.Holder, e.Path)
}

// Code is the exit code.
func (e *LockedError) Code() int { return ExitLocked }

// StageFailedError: one or more stages failed.
type StageFailedError struct {
	Failed  []string
	Blocked []string
	First   string // "<stage>: <error>" of the first failure
}

func (e *StageFailedError) Error() string {
	msg := "stage failed: " + strings.Join(e.Failed, ", ")
	if len(e.Failed) > 1 {
		msg = "stages failed: " + strings.Join(e.Failed, ", ")
	}
	if len(e.Blocked) > 0 {
		msg += "; not run: " + strings.Join(e.Blocked, ", ")
	}
	if e.First != "" {
		msg += " (" + e.First + ")"
	}
	return msg
}

// Code is the exit code.
func (e *StageFailedError) Code() int { return ExitStageFailed }

// InterruptedError: the run was interrupted by a signal; checkpoints were
// kept and the next run resumes.
type InterruptedError struct{ RunID string }

func (e *InterruptedError) Error() string {
	return fmt.Sprintf("run %s interrupted; checkpoints kept, run again to resume", e.RunID)
}

// Code is the exit code.
func (e *InterruptedError) Code() int { return ExitInterrupted }

// UsageError: bad flags or arguments detected by the runner (e.g. --force of
// an unknown stage).
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

// Code is the exit code.
func (e *UsageError) Code() int { return ExitUsage }
