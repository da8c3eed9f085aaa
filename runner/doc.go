// Package runner owns orchestration of one pipeline run: the stage graph and
// scheduling within the run budget, idempotency keys and skip decisions,
// checkpoints and exactly-once promotion of outputs, retries with
// deterministic backoff, the run and stage locks, and the state files
// (run_<id>.json, stage_<name>.json, progress_<stage>.json, metrics, audit
// events). Processes are started only through package sandbox; files are
// written only through internal/atomicfile.
package runner
