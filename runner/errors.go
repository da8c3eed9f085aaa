package runner

import (
	"errors"
	"fmt"
	"strings"

	"github.com/guardrun/guardrun/internal/flock"
)

// Sentinel errors of a run. The CLI maps them to exit codes with errors.Is
// (DESIGN §8); this package knows no exit codes.
var (
	// ErrLocked: another run holds the pipeline lock.
	ErrLocked = errors.New("pipeline is locked")
	// ErrStageFailed: one or more stages failed.
	ErrStageFailed = errors.New("stage failed")
	// ErrInterrupted: the run was interrupted (SIGINT/SIGTERM); checkpoints
	// were kept.
	ErrInterrupted = errors.New("interrupted")
	// ErrNoSuchStage: an option names a stage the pipeline does not have.
	ErrNoSuchStage = errors.New("no such stage")
	// ErrRunIDUsed: --run-id names a run this pipeline already recorded.
	ErrRunIDUsed = errors.New("run id already used")
)

// RunIDUsedError names the run that already used a requested run id. It
// is ErrRunIDUsed.
type RunIDUsedError struct {
	RunID, Status, StartedAt string
}

func (e *RunIDUsedError) Error() string {
	by := "an earlier run"
	if e.StartedAt != "" {
		by = fmt.Sprintf("the run started at %s (%s)", e.StartedAt, e.Status)
	}
	return fmt.Sprintf("run id %s is already used by %s: choose another --run-id, or pass --replace-run to replace its records", e.RunID, by)
}

// Is makes errors.Is(err, ErrRunIDUsed) true.
func (e *RunIDUsedError) Is(target error) bool { return target == ErrRunIDUsed }

// LockedError says who holds the pipeline lock. It is ErrLocked.
type LockedError struct {
	Path   string
	Holder flock.Holder
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("pipeline is locked by %s (lock %s); use --wait to wait for it", e.Holder, e.Path)
}

// Is makes errors.Is(err, ErrLocked) true.
func (e *LockedError) Is(target error) bool { return target == ErrLocked }

// StageFailedError names the stages that failed and those they blocked. It
// is ErrStageFailed.
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

// Is makes errors.Is(err, ErrStageFailed) true.
func (e *StageFailedError) Is(target error) bool { return target == ErrStageFailed }

// InterruptedError: the run was interrupted by a signal; checkpoints were
// kept and the next run resumes. It is ErrInterrupted.
type InterruptedError struct{ RunID string }

func (e *InterruptedError) Error() string {
	return fmt.Sprintf("run %s interrupted; checkpoints kept, run again to resume", e.RunID)
}

// Is makes errors.Is(err, ErrInterrupted) true.
func (e *InterruptedError) Is(target error) bool { return target == ErrInterrupted }

// VetError is a Go processor refused by the VetFunc (netlint findings, or a
// package that does not load). A run that hits one fails with it, unwrapped
// to what the VetFunc returned, instead of a generic stage failure.
type VetError struct {
	Dir string
	Err error
}

func (e *VetError) Error() string { return e.Err.Error() }
func (e *VetError) Unwrap() error { return e.Err }

func noSuchStage(flag, name string) error {
	return fmt.Errorf("%s %s: %w", flag, name, ErrNoSuchStage)
}
