package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/guardrun/guardrun/audit"
	"github.com/guardrun/guardrun/internal/runstate"
)

// Keys of guardrun.log (docs/OBSERVABILITY.md). Loggers are scoped with
// With: the run's logger carries run, a stage's logger also stage.
const (
	logKeyEvent   = "event"
	logKeyRun     = "run"
	logKeyStage   = "stage"
	logKeyStatus  = "status"
	logKeyAttempt = "attempt"
	logKeyDelayMs = "delay_ms"
	logKeyDetail  = "detail"
	logKeyErr     = "err"
	logKeyCount   = "count"
	logKeyJob     = "job"
	logKeyItem    = "item"
)

func runLogger(l *slog.Logger, runID string) *slog.Logger {
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}
	return l.With(logKeyRun, runID)
}

// recorder is the one path of a run's events: each event is recorded once,
// from one typed value, and goes to the audit chain (when
// runstate.Audited), to the structured log (when runstate.Logged: all but
// live progress and the per-stage skips, which the run's one
// stages.skipped record sums up) and to Options.OnEvent (the CLI's
// printer).
//
// An event that cannot be recorded in the chain is never dropped
// silently: the first failure (disk full, the log swapped or truncated
// behind guardrun's back, a record too large) is kept as the run's
// *AuditError, onFail stops the run, and the run ends failed with it.
// A stage.end with more outputs than fit in a record has them stored by
// digest (runstate.Layout.SpillOutputs) before its record is appended.
type recorder struct {
	runID   string
	log     *slog.Logger
	onEvent func(runstate.Event)
	layout  runstate.Layout

	mu sync.Mutex // serialises onEvent
	al *audit.Log // nil until the pipeline lock is held

	errMu  sync.Mutex
	err    *AuditError // the first failure to record in the chain
	onFail func(error) // called once, with the first failure
}

func (rc *recorder) setAudit(al *audit.Log, onFail func(error)) {
	rc.al = al
	rc.errMu.Lock()
	rc.onFail = onFail
	rc.errMu.Unlock()
}

// fail keeps the first audit failure and stops the run.
func (rc *recorder) fail(log *slog.Logger, event string, err error) {
	log.Error("audit append failed", logKeyEvent, event, logKeyErr, err)
	rc.errMu.Lock()
	first := rc.err == nil
	if first {
		rc.err = &AuditError{Event: event, Err: err}
	}
	ae, onFail := rc.err, rc.onFail
	rc.errMu.Unlock()
	if first && onFail != nil {
		onFail(ae)
	}
}

// failed is the first audit failure of the run, nil when there was none.
func (rc *recorder) failed() error {
	rc.errMu.Lock()
	defer rc.errMu.Unlock()
	if rc.err == nil {
		return nil
	}
	return rc.err
}

// ErrAudit: an event of the run could not be recorded in the audit chain.
var ErrAudit = errors.New("audit chain not written")

// AuditError is the first event a run could not record in the audit chain
// (disk full, the log replaced or truncated while the run appended to it,
// a record over the size limit). The run stops and ends failed with it. It
// is ErrAudit.
type AuditError struct {
	Event string // "" for a failed fsync of records already appended
	Err   error
}

func (e *AuditError) Error() string {
	if e.Event == "" {
		return fmt.Sprintf("writing the audit chain: %v", e.Err)
	}
	return fmt.Sprintf("recording %s in the audit chain: %v", e.Event, e.Err)
}

func (e *AuditError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrAudit) true.
func (e *AuditError) Is(target error) bool { return target == ErrAudit }

// Code is a stable machine-readable name of the error.
func (e *AuditError) Code() string { return "audit_failed" }

// record records an event of the run (stage "") or of a stage, logging it
// with the run's logger.
func (rc *recorder) record(stage string, d runstate.Payload) {
	log := rc.log
	if stage != "" {
		log = log.With(logKeyStage, stage)
	}
	rc.recordTo(log, stage, d)
}

// recordTo records an event with a logger already scoped to its stage.
func (rc *recorder) recordTo(log *slog.Logger, stage string, d runstate.Payload) {
	ev := runstate.Event{RunID: rc.runID, Stage: stage, Data: d}
	name := d.Event()
	if rc.al != nil && runstate.Audited(name) {
		// Records are written at once (one write each) and fsynced in
		// batches: at the end of every stage that ran and at the end of the
		// run (sync), so a no-op run over many stages costs one fsync.
		data := d
		var err error
		if se, ok := d.(runstate.StageEnd); ok {
			data, err = rc.layout.SpillOutputs(se)
		}
		if err == nil {
			_, err = rc.al.AppendNoSync(audit.Event{Type: name, RunID: rc.runID, Stage: stage, Data: data})
		}
		if err != nil {
			rc.fail(log, name, err)
		}
	}
	if runstate.Logged(name) {
		level, attrs := logAttrs(d)
		log.LogAttrs(context.Background(), level, name, append(attrs, slog.String(logKeyEvent, name))...)
	}
	if rc.onEvent != nil {
		rc.mu.Lock()
		rc.onEvent(ev)
		rc.mu.Unlock()
	}
}

// sync makes the audit records appended so far durable.
func (rc *recorder) sync() {
	if rc.al == nil {
		return
	}
	if err := rc.al.Sync(); err != nil {
		rc.fail(rc.log, "", err)
	}
}

// logAttrs are the log attributes of an event beyond its name, run and
// stage; failures log at level error.
func logAttrs(d runstate.Payload) (slog.Level, []slog.Attr) {
	level := slog.LevelInfo
	var attrs []slog.Attr
	errAttr := func(msg string) {
		if msg != "" {
			level = slog.LevelError
			attrs = append(attrs, slog.String(logKeyErr, msg))
		}
	}
	switch d := d.(type) {
	case runstate.RunEnd:
		attrs = append(attrs, slog.String(logKeyStatus, d.Status))
		if c := d.Counts; c != nil {
			attrs = append(attrs, slog.String(logKeyDetail, c.String()))
		}
		errAttr(d.Error)
	case runstate.StagesSkipped:
		attrs = append(attrs, slog.String(logKeyStatus, runstate.StageSkipped), slog.String(logKeyDetail, d.Summary()))
	case runstate.RunCompacted:
		attrs = append(attrs, slog.String(logKeyStatus, d.Status), slog.String(logKeyDetail, "files of run "+d.RunID+" deleted (retention)"))
	case runstate.LockWait:
		attrs = append(attrs, slog.String(logKeyDetail, d.Holder))
	case runstate.LockAcquired:
		attrs = append(attrs, slog.String(logKeyDetail, d.Path))
	case runstate.Sweep:
		if d.RecoveredRun != "" {
			attrs = append(attrs, slog.String(logKeyDetail, "recovered run "+d.RecoveredRun))
		} else {
			attrs = append(attrs, slog.Any(logKeyDetail, d.Removed))
		}
	case runstate.AttemptStart:
		attrs = append(attrs, slog.Int(logKeyAttempt, d.Attempt))
	case runstate.StageAttempt:
		attrs = append(attrs, slog.Int(logKeyAttempt, d.Attempt), slog.String(logKeyStatus, d.Outcome))
		if d.Error != "" {
			attrs = append(attrs, slog.String(logKeyErr, d.Error)) // the stage may still retry
		}
	case runstate.StageRetry:
		attrs = append(attrs, slog.Int(logKeyAttempt, d.Attempt), slog.Int64(logKeyDelayMs, d.DelayMs))
	case runstate.StageResume:
		attrs = append(attrs, slog.Int(logKeyAttempt, d.Attempt), slog.String(logKeyDetail, resumeDetail(d.LineOffset, d.ByteOffset)))
	case runstate.StageCheckpoint:
		attrs = append(attrs, slog.Int(logKeyAttempt, d.Attempt), slog.String(logKeyDetail, resumeDetail(d.LineOffset, d.ByteOffset)))
	case runstate.StageEnd:
		attrs = append(attrs, slog.String(logKeyStatus, d.Status))
		errAttr(d.Error)
	case runstate.BlockedByUpstream:
		attrs = append(attrs, slog.String(logKeyStatus, runstate.StageBlocked), slog.String(logKeyDetail, d.Upstream))
	}
	return level, attrs
}

func resumeDetail(line, byteOff int64) string { return fmt.Sprintf("line %d, byte %d", line, byteOff) }
