package runstate

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/guardrun/guardrun/internal/hashcache"
	"github.com/guardrun/guardrun/sandbox"
)

// Run statuses (run_<id>.json "status").
const (
	RunRunning     = "running"
	RunSucceeded   = "succeeded"
	RunFailed      = "failed"
	RunInterrupted = "interrupted"
)

// Stage statuses.
const (
	StageRunning     = "running"
	StageSucceeded   = "succeeded"
	StageSkipped     = "skipped"
	StageFailed      = "failed"
	StageInterrupted = "interrupted"
	// StageBlocked: not started because an upstream stage failed.
	StageBlocked = "blocked"
	// StagePending: not started because the run was interrupted first.
	StagePending = "pending"
)

// Attempt outcomes.
const (
	OutcomeSucceeded   = "succeeded"
	OutcomeTransient   = "transient"
	OutcomeFailed      = "failed"
	OutcomeTimeout     = "timeout"
	OutcomeOOMKill     = "oom_kill"
	OutcomeInterrupted = "interrupted"
	OutcomeStartFailed = "start_failed"
)

// RunState is run_<id>.json.
type RunState struct {
	RunID     string     `json:"runId"`
	Pipeline  string     `json:"pipeline"`
	SpecHash  string     `json:"specHash"`
	Status    string     `json:"status"`
	PID       int        `json:"pid"`
	Host      string     `json:"host"`
	StartedAt time.Time  `json:"startedAt"`
	EndedAt   *time.Time `json:"endedAt,omitempty"`
	// Stages are the stages that did not skip, in pipeline order: the
	// stages skipped as up to date are only named in Skipped (SetStages).
	// Records written before Skipped existed list every stage here.
	Stages []RunStage `json:"stages"`
	// Skipped names the stages skipped as up to date; absent when none was.
	Skipped *SkippedStages `json:"skipped,omitempty"`
	// Counts counts every stage by status; absent in records written
	// before it existed (Recount computes it).
	Counts *StageCounts `json:"counts,omitempty"`
	// Enforcement is what the sandbox enforced; absent when no stage ran.
	Enforcement *sandbox.Report `json:"enforcement,omitempty"`
	BestEffort  bool            `json:"bestEffort"`
	Forced      []string        `json:"forced,omitempty"`
	Error       string          `json:"error,omitempty"`
	Audit       *AuditHead      `json:"audit,omitempty"`
	// Builds are the Go processors the run had to build, in the order the
	// builds started; absent when every binary was cached (or no
	// processor is Go).
	Builds []ProcessorBuild `json:"builds,omitempty"`
}

// RunStage is a stage's line in run_<id>.json.
type RunStage struct {
	Name     string   `json:"name"`
	Status   string   `json:"status"`
	Attempts int      `json:"attempts"`
	Reasons  []string `json:"reasons,omitempty"`
	Error    string   `json:"error,omitempty"`
	// OutputTail and Log are a failed stage's last output lines (of its
	// last attempt, or of its first failed item's) and where its whole
	// output is (the stage log, workspace-relative when inside it).
	OutputTail []string `json:"outputTail,omitempty"`
	Log        string   `json:"log,omitempty"`
	// Items summarises a fan-out stage's items.
	Items *ItemCounts `json:"items,omitempty"`
}

// ProcessorBuild is one build of a Go processor in a run: from the cache
// miss to the binary cached, the netlint pass of a source changed since
// preflight and `go build` included. Stage is the stage that needed it
// first and waited for it (a stage skipped as up to date too: processors
// are resolved before the skip decision).
type ProcessorBuild struct {
	Stage string `json:"stage"`
	// Package is the processor's package directory as the spec names it
	// (workspace-relative, cleaned: "processors/upper").
	Package   string    `json:"package"`
	StartedAt time.Time `json:"startedAt"`
	EndedAt   time.Time `json:"endedAt"`
	Seconds   float64   `json:"seconds"`
	// Failed: the build (or its netlint pass) failed or was interrupted;
	// the stage's error says why.
	Failed bool `json:"failed,omitempty"`
}

// SkippedStages are the stages a run skipped as up to date, by name in
// pipeline order: one short entry each instead of a line in "stages", so
// that a no-op run of thousands of stages writes a small record.
type SkippedStages struct {
	Count int      `json:"count"`
	Names []string `json:"names"`
}

// StageCounts counts a run's stages by status. Ran counts the stages that
// ran and succeeded; a stage that ran and failed counts as Failed. The
// counts add up to Stages.
type StageCounts struct {
	Stages      int `json:"stages"`
	Ran         int `json:"ran"`
	Skipped     int `json:"skipped"`
	Failed      int `json:"failed"`
	Blocked     int `json:"blocked"`
	Interrupted int `json:"interrupted"`
	// Running is non-zero only in the record of a run still going (or
	// killed: the next run turns them into Interrupted).
	Running int `json:"running,omitempty"`
	Pending int `json:"pending"`
}

// Add counts one stage with status.
func (c *StageCounts) Add(status string) {
	c.Stages++
	switch status {
	case StageSucceeded:
		c.Ran++
	case StageSkipped:
		c.Skipped++
	case StageFailed:
		c.Failed++
	case StageBlocked:
		c.Blocked++
	case StageInterrupted:
		c.Interrupted++
	case StageRunning:
		c.Running++
	default:
		c.Pending++
	}
}

// String is the counts as the run's summary line says them: ran and
// skipped always, the other counts when they are not zero, e.g. "3 ran,
// 10 skipped, 1 failed, 2 blocked".
func (c StageCounts) String() string {
	s := fmt.Sprintf("%d ran, %d skipped", c.Ran, c.Skipped)
	for _, x := range []struct {
		n    int
		what string
	}{{c.Failed, "failed"}, {c.Blocked, "blocked"}, {c.Interrupted, "interrupted"}, {c.Running, "running"}, {c.Pending, "pending"}} {
		if x.n > 0 {
			s += fmt.Sprintf(", %d %s", x.n, x.what)
		}
	}
	return s
}

// SetStages records a line for every stage, in pipeline order: the
// skipped ones by name in Skipped, the others in Stages; Counts counts
// them all.
func (rs *RunState) SetStages(all []RunStage) {
	rs.Stages = make([]RunStage, 0, len(all))
	var skipped []string
	for _, s := range all {
		if s.Status == StageSkipped {
			skipped = append(skipped, s.Name)
			continue
		}
		rs.Stages = append(rs.Stages, s)
	}
	rs.Skipped = nil
	if len(skipped) > 0 {
		rs.Skipped = &SkippedStages{Count: len(skipped), Names: skipped}
	}
	rs.Recount()
}

// AllStages returns a line for every stage: Stages, then one line (status
// skipped, no attempts) per name in Skipped.
func (rs *RunState) AllStages() []RunStage {
	if rs.Skipped == nil || len(rs.Skipped.Names) == 0 {
		return rs.Stages
	}
	all := make([]RunStage, 0, len(rs.Stages)+len(rs.Skipped.Names))
	all = append(all, rs.Stages...)
	for _, n := range rs.Skipped.Names {
		all = append(all, RunStage{Name: n, Status: StageSkipped})
	}
	return all
}

// Recount sets Counts from Stages and Skipped.
func (rs *RunState) Recount() {
	var c StageCounts
	for _, s := range rs.Stages {
		c.Add(s.Status)
	}
	if rs.Skipped != nil {
		c.Stages += rs.Skipped.Count
		c.Skipped += rs.Skipped.Count
	}
	rs.Counts = &c
}

// AuditHead is the audit chain head at the end of a run.
type AuditHead struct {
	Seq  int64  `json:"seq"`
	Hash string `json:"hash"`
}

// StageState is stage_<name>.json: the stage's last execution.
type StageState struct {
	Name           string          `json:"name"`
	RunID          string          `json:"runId"`
	Status         string          `json:"status"`
	StartedAt      time.Time       `json:"startedAt"`
	EndedAt        *time.Time      `json:"endedAt,omitempty"`
	Attempts       []Attempt       `json:"attempts"`
	IdempotencyKey string          `json:"idempotencyKey,omitempty"`
	Reasons        []string        `json:"reasons,omitempty"`
	Outputs        []OutputRecord  `json:"outputs"`
	Error          string          `json:"error,omitempty"`
	Enforcement    *sandbox.Report `json:"enforcement,omitempty"`
	Limits         *AppliedLimits  `json:"limits,omitempty"`
	// Items summarises a fan-out stage's items (its outputs are in its
	// item journal, items_<stage>.jsonl).
	Items *ItemCounts `json:"items,omitempty"`
}

// Attempt is one try of a stage, as recorded in stage_<name>.json.
type Attempt struct {
	Attempt         int       `json:"attempt"`
	StartedAt       time.Time `json:"startedAt"`
	EndedAt         time.Time `json:"endedAt"`
	ExitCode        int       `json:"exitCode"`
	Signal          string    `json:"signal,omitempty"`
	Outcome         string    `json:"outcome"`
	Error           string    `json:"error,omitempty"`
	DelayMs         int64     `json:"delayMs"`
	StartLineOffset int64     `json:"startLineOffset"`
	StartByteOffset int64     `json:"startByteOffset"`
	EndLineOffset   int64     `json:"endLineOffset"`
	EndByteOffset   int64     `json:"endByteOffset"`
	CPUSeconds      *float64  `json:"cpuSeconds,omitempty"`
	PeakMemoryBytes *int64    `json:"peakMemoryBytes,omitempty"`
	// Notes say what the sandbox could not enforce for this attempt
	// (only with --best-effort).
	Notes []string `json:"notes,omitempty"`
	// OutputTail is a failed attempt's last lines of output (stdout and
	// stderr as they reached the stage log; at most 20, 512 bytes each).
	OutputTail []string `json:"outputTail,omitempty"`
}

// OutputRecord is one promoted output.
type OutputRecord struct {
	Path   string `json:"path"` // workspace-relative
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// AppliedLimits are the limits requested for every attempt of a stage.
type AppliedLimits struct {
	CPUs           float64 `json:"cpus"`
	MemoryMB       int64   `json:"memoryMB"`
	Pids           int64   `json:"pids"`
	TimeoutSeconds int     `json:"timeoutSeconds"`
}

// Progress is progress_<stage>.json: the last checkpoint a processor
// reported, valid only for the idempotency key it was made under.
type Progress struct {
	Stage          string           `json:"stage"`
	RunID          string           `json:"runId"`
	Attempt        int              `json:"attempt"`
	IdempotencyKey string           `json:"idempotencyKey"`
	LineOffset     int64            `json:"lineOffset"`
	ByteOffset     int64            `json:"byteOffset"`
	Outputs        map[string]int64 `json:"outputs"`
	TotalBytes     int64            `json:"totalBytes,omitempty"`
	UpdatedAt      time.Time        `json:"updatedAt"`
}

// MarkerVersion is the format version of markers.
const MarkerVersion = 1

// Marker is <outputDir>/.<stage>.done, written last on success. Parts are
// the idempotency key's parts as the runner encodes them (package runner
// owns the key); they are decoded only to explain a key mismatch.
type Marker struct {
	Version     int             `json:"version"`
	Stage       string          `json:"stage"`
	Key         string          `json:"key"`
	Outputs     []MarkerOutput  `json:"outputs"`
	RunID       string          `json:"runId"`
	CompletedAt time.Time       `json:"completedAt"`
	Counters    *MarkerCounters `json:"counters,omitempty"`
	// Parts come last: they are the bulk of a marker (every input of a
	// fan-in), and a skip decision reads the head of the file only.
	Parts json.RawMessage `json:"parts"`
}

// MarkerOutput records an output with the identity it was promoted with.
type MarkerOutput struct {
	OutputRecord
	ID hashcache.FileID `json:"id"`
}

// MarkerCounters keep the volume figures of the run that produced the
// outputs, so that skipped stages can still report them.
type MarkerCounters struct {
	BytesIn  int64 `json:"bytesIn"`
	BytesOut int64 `json:"bytesOut"`
	LinesIn  int64 `json:"linesIn"`
	LinesOut int64 `json:"linesOut"`
}

// MarkerHead is what a skip decision needs from a marker; the bulk of the
// file (the key parts) is left undecoded in Raw.
type MarkerHead struct {
	Key      string          `json:"key"`
	Outputs  []MarkerOutput  `json:"outputs"`
	Counters *MarkerCounters `json:"counters,omitempty"`
	path     string          // for DecodeMarker
}

// MaxFailedItems is how many failed items a record names at most.
const MaxFailedItems = 20

// ItemCounts summarise what a run did with a fan-out stage's items.
type ItemCounts struct {
	Total       int `json:"total"`
	Ran         int `json:"ran"`
	Skipped     int `json:"skipped"`
	Failed      int `json:"failed"`
	Blocked     int `json:"blocked"`
	Interrupted int `json:"interrupted"`
	// Removed counts the items no longer listed whose outputs were deleted.
	Removed int `json:"removed"`
	// FailedItems names the first MaxFailedItems failed items.
	FailedItems []ItemFailure `json:"failedItems,omitempty"`
}

// ItemFailure is one failed item: why, after how many attempts.
type ItemFailure struct {
	Item     string `json:"item"`
	Error    string `json:"error"`
	Attempts int    `json:"attempts"`
	// OutputTail is its last attempt's last output lines.
	OutputTail []string `json:"outputTail,omitempty"`
}
