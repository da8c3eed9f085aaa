package runner

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/guardrun/guardrun/internal/atomicfile"
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
}

// OutputRecord is one promoted output.
type OutputRecord struct {
	Path   string `json:"path"` // workspace-relative
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
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
}

// AppliedLimits are the limits requested for every attempt of a stage.
type AppliedLimits struct {
	CPUs           float64 `json:"cpus"`
	MemoryMB       int64   `json:"memoryMB"`
	Pids           int64   `json:"pids"`
	TimeoutSeconds int     `json:"timeoutSeconds"`
}

// RunStage is a stage's line in run_<id>.json.
type RunStage struct {
	Name     string   `json:"name"`
	Status   string   `json:"status"`
	Attempts int      `json:"attempts"`
	Reasons  []string `json:"reasons,omitempty"`
	Error    string   `json:"error,omitempty"`
}

// AuditHead is the audit chain head at the end of a run.
type AuditHead struct {
	Seq  int64  `json:"seq"`
	Hash string `json:"hash"`
}

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
	Stages    []RunStage `json:"stages"`
	// Enforcement is what the sandbox enforced; absent when no stage ran.
	Enforcement *sandbox.Report `json:"enforcement,omitempty"`
	BestEffort  bool            `json:"bestEffort"`
	Forced      []string        `json:"forced,omitempty"`
	Error       string          `json:"error,omitempty"`
	Audit       *AuditHead      `json:"audit,omitempty"`
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

// Marker is <outputDir>/.<stage>.done, written last on success.
type Marker struct {
	Version     int             `json:"version"`
	Stage       string          `json:"stage"`
	Key         string          `json:"key"`
	Parts       KeyParts        `json:"parts"`
	Outputs     []MarkerOutput  `json:"outputs"`
	RunID       string          `json:"runId"`
	CompletedAt time.Time       `json:"completedAt"`
	Metrics     *MarkerCounters `json:"counters,omitempty"`
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

func runStatePath(stateDir, runID string) string {
	return filepath.Join(stateDir, "run_"+runID+".json")
}
func stageStatePath(stateDir, stage string) string {
	return filepath.Join(stateDir, "stage_"+stage+".json")
}
func progressPath(stateDir, stage string) string {
	return filepath.Join(stateDir, "progress_"+stage+".json")
}
func markerPath(outDir, stage string) string { return filepath.Join(outDir, "."+stage+".done") }
func stagingPath(outDir, stage string) string {
	return filepath.Join(outDir, "."+stage+".staging")
}

// readJSON reads a state file. A missing file returns os.ErrNotExist; a file
// that does not parse is reported, never silently replaced.
func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("parsing %s: %w", path, err)
	}
	return nil
}

// ReadRunState loads run_<id>.json.
func ReadRunState(stateDir, runID string) (*RunState, error) {
	var rs RunState
	if err := readJSON(runStatePath(stateDir, runID), &rs); err != nil {
		return nil, err
	}
	return &rs, nil
}

// ReadStageState loads stage_<name>.json.
func ReadStageState(stateDir, stage string) (*StageState, error) {
	var ss StageState
	if err := readJSON(stageStatePath(stateDir, stage), &ss); err != nil {
		return nil, err
	}
	return &ss, nil
}

// ReadProgress loads progress_<stage>.json; (nil, nil) when absent.
func ReadProgress(stateDir, stage string) (*Progress, error) {
	var p Progress
	err := readJSON(progressPath(stateDir, stage), &p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &p, nil
}

// markerHead is what a skip decision needs from a marker: when the key
// matches, the parts (the bulk of the file) are never decoded.
type markerHead struct {
	Key     string          `json:"key"`
	Outputs []MarkerOutput  `json:"outputs"`
	Metrics *MarkerCounters `json:"counters,omitempty"`
}

func readMarkerHead(outDir, stage string) (*markerHead, []byte, error) {
	b, err := os.ReadFile(markerPath(outDir, stage))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	var h markerHead
	if err := json.Unmarshal(b, &h); err != nil {
		return nil, nil, fmt.Errorf("parsing %s: %w", markerPath(outDir, stage), err)
	}
	return &h, b, nil
}

func writeState(path string, v any) error { return atomicfile.WriteJSON(path, v) }

// hashCacheFile is the stat/hash cache in the state dir (a text file; see
// package hashcache).
const hashCacheFile = "hashcache.txt"
