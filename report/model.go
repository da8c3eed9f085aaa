package report

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/guardrun/guardrun/internal/runstate"
	"github.com/guardrun/guardrun/metrics"
	"github.com/guardrun/guardrun/sandbox"
)

// Model is everything the page shows about one run. Times are UTC; a zero
// time means "not recorded".
type Model struct {
	RunID     string
	Pipeline  string
	Status    string
	SpecHash  string
	Host      string
	PID       int
	StartedAt time.Time
	EndedAt   time.Time
	Error     string
	Forced    []string
	// BestEffort: the run accepted limits the host could not enforce.
	BestEffort bool
	// Enforcement is nil when no stage ran (nothing was sandboxed).
	Enforcement *sandbox.Report
	// Policy is the "policy.verdict" audit record's data, sorted by key;
	// nil when the run recorded none.
	Policy []KV
	// AuditHead is the chain head the run stored; HeadCheck says whether
	// audit.jsonl still holds that record (a spot check, not `verify`).
	AuditHead *runstate.AuditHead
	HeadCheck string
	HeadOK    bool
	Stages    []Stage
	// Totals are from metrics_<id>.json; nil when that file is missing.
	Totals *metrics.Totals
	// BytesRead and BytesWritten are what the stages that ran in this run
	// read and wrote (metrics_<id>.json): a stage skipped as up to date
	// read nothing, whatever volumes its outputs were recorded with, so a
	// no-op run reads 0 B. Totals, by contrast, include those volumes.
	BytesRead, BytesWritten int64
	// BuildSeconds sums the Go processor builds of the run.
	BuildSeconds float64
	// Events are this run's audit records in log order.
	Events []Event
	// Notes say which inputs were missing or unreadable and what the page
	// shows instead.
	Notes       []string
	GeneratedAt time.Time
}

// Stage is one stage of the run.
type Stage struct {
	Name    string
	Status  string
	Reasons []string
	Error   string
	// OutputTail and Log are a failed stage's last output lines and the
	// path of its log (run_<id>.json).
	OutputTail []string
	Log        string
	// AttemptCount is what run_<id>.json recorded; Attempts are the
	// details, from stage_<name>.json when it belongs to this run, else
	// reconstructed from the audit log (Source says which).
	AttemptCount int
	Attempts     []Attempt
	Source       string
	StartedAt    time.Time
	EndedAt      time.Time
	// MarkerAt is when the stage was skipped or blocked (a point in time).
	MarkerAt time.Time
	// Upstream is the stage whose failure blocked this one.
	Upstream       string
	Processor      string
	Version        string
	IdempotencyKey string
	Limits         *runstate.AppliedLimits
	Outputs        []runstate.OutputRecord
	// Metrics are nil when metrics_<id>.json is missing or lacks the stage.
	Metrics *metrics.Stage
	// Items summarises a fan-out stage's items (nil for a plain stage).
	Items *runstate.ItemCounts
	// Build is the build of the stage's Go processor in this run
	// (run_<id>.json "builds"; nil when it built none: not Go, cached, or
	// built by another stage).
	Build *runstate.ProcessorBuild
}

// Attempt is one try of a stage.
type Attempt struct {
	N         int
	StartedAt time.Time
	EndedAt   time.Time
	Outcome   string
	ExitCode  int
	Signal    string
	Error     string
	DelayMs   int64
	// Offsets are known only from stage_<name>.json (HasOffsets).
	HasOffsets      bool
	StartLineOffset int64
	StartByteOffset int64
	EndLineOffset   int64
	CPUSeconds      *float64
	PeakMemoryBytes *int64
	Notes           []string
	// OutputTail is a failed attempt's last output lines (stage state only).
	OutputTail []string
	// Approx: the times come from audit record times (when the record was
	// written), not from the stage state.
	Approx bool
}

// Event is one audit record of the run.
type Event struct {
	Seq     int64
	Time    time.Time
	Event   string
	Stage   string
	Details []KV
}

// KV is one key and its value, formatted for display.
type KV struct {
	Key   string
	Value string
}

// Sources of stage detail.
const (
	SourceStageState = "stage state"
	SourceAudit      = "audit log"
	SourceRunState   = "run state only"
)

// ErrRunNotFound: the state dir holds no record of the run asked for.
var ErrRunNotFound = errors.New("run not found")

// RunNotFoundError: stateDir holds no run_<id>.json for the id. It is
// ErrRunNotFound.
type RunNotFoundError struct {
	RunID     string
	StateDir  string
	Available []string
}

func (e *RunNotFoundError) Error() string {
	if len(e.Available) == 0 {
		return fmt.Sprintf("run %q not found in %s: no runs recorded there", e.RunID, e.StateDir)
	}
	return fmt.Sprintf("run %q not found in %s: available run ids: %s", e.RunID, e.StateDir, strings.Join(e.Available, ", "))
}

// Is makes errors.Is(err, ErrRunNotFound) true.
func (e *RunNotFoundError) Is(target error) bool { return target == ErrRunNotFound }
