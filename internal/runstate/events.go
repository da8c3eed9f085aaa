package runstate

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/guardrun/guardrun/sandbox"
)

// Event names: the "event" field of audit.jsonl and guardrun.log, and what
// the progress printer switches on. They are a documented contract
// (docs/OBSERVABILITY.md): names are only ever added.
const (
	EvRunStart        = "run.start"
	EvRunEnd          = "run.end"
	EvLock            = "lock.acquired"
	EvLockWait        = "lock.wait"
	EvPolicy          = "policy.verdict"
	EvSandbox         = "sandbox.report"
	EvSweep           = "sweep"
	EvStageSkip       = "stage.skip"
	EvStageStart      = "stage.start"
	EvAttemptStart    = "stage.attempt.start"
	EvStageAttempt    = "stage.attempt"
	EvStageRetry      = "stage.retry"
	EvStageResume     = "stage.resume"
	EvStageCheckpoint = "stage.checkpoint"
	EvStageEnd        = "stage.end"
	EvStageBlocked    = "stage.blocked"
	EvProgress        = "stage.progress"
	// EvStagesSkipped is the one record of the stages a run skipped (it
	// replaces a stage.skip record per stage in the audit chain and the log).
	EvStagesSkipped = "stages.skipped"
	// EvRunCompacted keeps the summary of a run whose files retention
	// deleted.
	EvRunCompacted = "run.compacted"
)

// Payload is the typed data of one event. Each event name has exactly one
// payload type; the payload's JSON encoding is the "data" object of its
// audit record.
type Payload interface {
	// Event returns the event name.
	Event() string
}

// Event is one thing that happened in a run: recorded once by the runner
// and fanned out to the progress printer, the structured log and (when
// Audited) the audit chain.
type Event struct {
	RunID string
	Stage string // empty for run-level events
	Data  Payload
}

// Type is the event name.
func (e Event) Type() string { return e.Data.Event() }

// Audited reports whether events named name go into the audit chain. Live
// progress, the wait for the lock (the audit log is opened only once the
// lock is held) and the start of an attempt (recorded by stage.start,
// stage.retry and stage.attempt) are for the terminal and the log only. A
// stage's skip is for the terminal only: the run records its skips in one
// stages.skipped record.
func Audited(name string) bool {
	switch name {
	case EvProgress, EvLockWait, EvAttemptStart, EvStageSkip:
		return false
	}
	return true
}

// Logged reports whether events named name go into guardrun.log: all but
// live progress and the per-stage skip (stages.skipped sums those up).
func Logged(name string) bool { return name != EvProgress && name != EvStageSkip }

// RunStart is run.start.
type RunStart struct {
	Pipeline   string `json:"pipeline"`
	SpecHash   string `json:"specHash"`
	PID        int    `json:"pid"`
	Host       string `json:"host"`
	BestEffort bool   `json:"bestEffort"`
}

// RunEnd is run.end.
type RunEnd struct {
	Status string `json:"status"`
	Error  string `json:"error"`
	// Counts counts the run's stages by status (the one-line summary).
	Counts *StageCounts `json:"counts,omitempty"`
}

// LockAcquired is lock.acquired.
type LockAcquired struct {
	Path string `json:"path"`
}

// LockWait is lock.wait: another run holds the pipeline lock and --wait
// waits for it.
type LockWait struct {
	Holder string `json:"holder"`
}

// PolicyVerdict is policy.verdict: what the policy and netlint said before
// the run (a cached verdict says "pass (cached)" and has no Waived count).
type PolicyVerdict struct {
	Policy      string `json:"policy"`
	Fingerprint string `json:"fingerprint"`
	Warnings    int    `json:"warnings"`
	Waived      *int   `json:"waived,omitempty"`
	Netlint     string `json:"netlint,omitempty"`
}

// SandboxReport is sandbox.report: what the sandbox enforces, recorded when
// the first stage needs it.
type SandboxReport struct {
	sandbox.Report
}

// Sweep is sweep: leftovers of a crashed run cleaned up at start.
type Sweep struct {
	RecoveredRun string `json:"recoveredRun,omitempty"`
	// RecoveredStatus is the status the recovered run's record was left
	// with (or set to, when it still said running); Reason says why the
	// run needed recovering.
	RecoveredStatus string   `json:"recoveredStatus,omitempty"`
	Reason          string   `json:"reason,omitempty"`
	Removed         []string `json:"removed,omitempty"`
}

// StageSkip is stage.skip: the stage was up to date. Live only (the
// printer); the chain and the log get one StagesSkipped per run.
type StageSkip struct{}

// MaxSkippedNames is how many skipped stages a stages.skipped record names
// at most: a run that skipped more records only their count and digest
// (run_<id>.json names them all), so a no-op run of thousands of stages adds
// a record of constant size to the chain.
const MaxSkippedNames = 32

// StagesSkipped is stages.skipped: the stages the run skipped as up to
// date, in pipeline order. NamesSHA256 is SkippedDigest of all of them
// (what run_<id>.json lists in skipped.names); Names lists them only when
// there are at most MaxSkippedNames.
type StagesSkipped struct {
	Count       int      `json:"count"`
	Names       []string `json:"names,omitempty"`
	NamesSHA256 string   `json:"namesSha256"`
}

// NewStagesSkipped is the stages.skipped record of names.
func NewStagesSkipped(names []string) StagesSkipped {
	d := StagesSkipped{Count: len(names), NamesSHA256: SkippedDigest(names)}
	if len(names) <= MaxSkippedNames {
		d.Names = names
	}
	return d
}

// SkippedDigest is the SHA-256 (hex) of names, each followed by a newline.
func SkippedDigest(names []string) string {
	h := sha256.New()
	for _, n := range names {
		h.Write([]byte(n + "\n"))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// RunCompacted is run.compacted: retention deleted the files of run RunID
// (run_<id>.json, metrics, report); this is the summary the chain keeps of
// it. Audit is the chain head that run recorded when it ended.
type RunCompacted struct {
	RunID     string       `json:"runId"`
	Status    string       `json:"status"`
	StartedAt time.Time    `json:"startedAt"`
	EndedAt   *time.Time   `json:"endedAt,omitempty"`
	Error     string       `json:"error,omitempty"`
	Counts    *StageCounts `json:"counts,omitempty"`
	Audit     *AuditHead   `json:"audit,omitempty"`
}

// Summary is a short text for a stages.skipped record: the count,
// and the names when there are few.
func (d StagesSkipped) Summary() string {
	s := fmt.Sprintf("%d stages", d.Count)
	if d.Count == 1 {
		s = "1 stage"
	}
	if len(d.Names) > 0 && len(d.Names) <= 10 {
		s += ": " + strings.Join(d.Names, ", ")
	}
	return s
}

// StageStart is stage.start: the stage will run (after its lock is held).
type StageStart struct {
	Reasons   []string `json:"reasons"`
	Processor string   `json:"processor"`
	Version   string   `json:"version"`
	// Items is how many items a fan-out stage has (0 for a plain stage).
	Items int `json:"items,omitempty"`
}

// AttemptStart is stage.attempt.start: the processor is about to start.
type AttemptStart struct {
	Attempt int `json:"attempt"`
}

// StageAttempt is stage.attempt: one attempt ended.
type StageAttempt struct {
	Attempt  int    `json:"attempt"`
	Outcome  string `json:"outcome"`
	ExitCode int    `json:"exitCode"`
	Error    string `json:"error"`
}

// StageRetry is stage.retry: the next attempt starts after DelayMs.
type StageRetry struct {
	Attempt int   `json:"attempt"`
	DelayMs int64 `json:"delayMs"`
}

// StageResume is stage.resume: an attempt starts from a checkpoint.
type StageResume struct {
	Attempt    int   `json:"attempt"`
	LineOffset int64 `json:"lineOffset"`
	ByteOffset int64 `json:"byteOffset"`
}

// StageCheckpoint is stage.checkpoint: a checkpoint was persisted
// (throttled: at most one record every few seconds per stage, and the last
// one of each attempt).
type StageCheckpoint struct {
	Attempt    int   `json:"attempt"`
	LineOffset int64 `json:"lineOffset"`
	ByteOffset int64 `json:"byteOffset"`
}

// StageEnd is stage.end. A stage with more outputs than fit in a record
// of reasonable size (MaxInlineOutputsBytes) has them stored by digest
// (SpillOutputs): Outputs is null and OutputsCount, OutputsSHA256 and
// OutputsFile say how many there are and where the full list is.
type StageEnd struct {
	Status         string         `json:"status"`
	Attempts       int            `json:"attempts"`
	Error          string         `json:"error"`
	IdempotencyKey string         `json:"idempotencyKey"`
	Outputs        []OutputRecord `json:"outputs"`
	// OutputsCount is the number of outputs in OutputsFile.
	OutputsCount int `json:"outputsCount,omitempty"`
	// OutputsSHA256 is the SHA-256 (hex) of OutputsFile's bytes.
	OutputsSHA256 string `json:"outputsSha256,omitempty"`
	// OutputsFile is the stateDir-relative path of the outputs' JSON array
	// (Layout.OutputsFile of OutputsSHA256).
	OutputsFile string `json:"outputsFile,omitempty"`
	// Items summarises a fan-out stage's items.
	Items *ItemCounts `json:"items,omitempty"`
}

// BlockedByUpstream is stage.blocked: not run because Upstream did not
// succeed.
type BlockedByUpstream struct {
	Upstream string `json:"upstream"`
}

// ProgressReport is stage.progress: a processor's progress report (live only).
type ProgressReport struct {
	Lines      int64 `json:"lines"`
	Bytes      int64 `json:"bytes"`
	TotalBytes int64 `json:"totalBytes"`
}

func (RunStart) Event() string          { return EvRunStart }
func (RunEnd) Event() string            { return EvRunEnd }
func (LockAcquired) Event() string      { return EvLock }
func (LockWait) Event() string          { return EvLockWait }
func (PolicyVerdict) Event() string     { return EvPolicy }
func (SandboxReport) Event() string     { return EvSandbox }
func (Sweep) Event() string             { return EvSweep }
func (StageSkip) Event() string         { return EvStageSkip }
func (StageStart) Event() string        { return EvStageStart }
func (AttemptStart) Event() string      { return EvAttemptStart }
func (StageAttempt) Event() string      { return EvStageAttempt }
func (StageRetry) Event() string        { return EvStageRetry }
func (StageResume) Event() string       { return EvStageResume }
func (StageCheckpoint) Event() string   { return EvStageCheckpoint }
func (StageEnd) Event() string          { return EvStageEnd }
func (BlockedByUpstream) Event() string { return EvStageBlocked }
func (ProgressReport) Event() string    { return EvProgress }
func (StagesSkipped) Event() string     { return EvStagesSkipped }
func (RunCompacted) Event() string      { return EvRunCompacted }

// DecodeData decodes the "data" object of an audit record (as package
// audit reads it back) into the payload type of its event. A record
// without data decodes to the zero payload.
func DecodeData[T Payload](data map[string]any) (T, error) {
	var v T
	if len(data) == 0 {
		return v, nil
	}
	b, err := json.Marshal(data)
	if err != nil {
		return v, fmt.Errorf("decoding %s data: %w", v.Event(), err)
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return v, fmt.Errorf("decoding %s data: %w", v.Event(), err)
	}
	return v, nil
}

// Text is c in a few words: "ran 3, skipped 197, removed 1 of 200 items".
func (c *ItemCounts) Text() string {
	parts := []string{}
	for _, x := range []struct {
		n    int
		what string
	}{{c.Ran, "ran"}, {c.Skipped, "skipped"}, {c.Failed, "failed"}, {c.Blocked, "blocked"}, {c.Interrupted, "interrupted"}, {c.Removed, "removed"}} {
		if x.n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", x.what, x.n))
		}
	}
	if len(parts) == 0 {
		return fmt.Sprintf("%d items", c.Total)
	}
	return strings.Join(parts, ", ") + fmt.Sprintf(" of %d items", c.Total)
}
