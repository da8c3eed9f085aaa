// Package runner owns orchestration of one pipeline run: the scheduler
// (dependency order within the run budget, schedule.go), idempotency keys
// and skip decisions (key.go, plan.go, decide.go; a fan-out stage's items:
// items.go, fanout.go, batch.go, and the item summary's fast path,
// itemsum.go), a stage's life (stage.go:
// decide, lock, attempts with retries and deterministic backoff, its
// record), one attempt of a processor (attempt.go), checkpoints and resume
// (checkpoint.go), exactly-once promotion of outputs with the marker last
// (promote.go), and the run's events (events.go: each recorded once and
// fanned out to the audit chain, the structured log and the CLI).
//
// State files, their paths and record types, and the audit event payloads
// belong to internal/runstate: the runner writes through it. Processes are
// started only through package sandbox; programs are resolved only through
// internal/execpath. The runner knows no exit codes: it returns sentinel
// errors (ErrStageFailed, ErrLocked, ErrInterrupted, ErrNoSuchStage) and
// *VetError, which the CLI maps.
package runner
