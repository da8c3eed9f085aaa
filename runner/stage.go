package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/guardrun/guardrun/internal/flock"
	"github.com/guardrun/guardrun/internal/hashcache"
	"github.com/guardrun/guardrun/internal/runstate"
	"github.com/guardrun/guardrun/pipeline"
	"github.com/guardrun/guardrun/sandbox"
)

// This file is a stage's life in a run: decide whether it is up to date,
// take its lock, run its attempts with retries, record how it ended. The
// attempt itself is attempt.go, checkpoints and resume are checkpoint.go,
// committing the outputs is promote.go.

// stageResult is what one stage's execution reports to the scheduler.
type stageResult struct {
	idx      int
	status   string
	err      error
	reasons  []Reason
	attempts []runstate.Attempt
	metrics  StageMetrics
	// items summarises a fan-out stage's items (nil for a plain stage),
	// whose attempts are counted (itemAttempts, itemRetries), not listed.
	items        *runstate.ItemCounts
	itemAttempts int
	itemRetries  int
}

// attemptCount is how many attempts the stage made (all its items').
func (res *stageResult) attemptCount() int {
	if res.items != nil {
		return res.itemAttempts
	}
	return len(res.attempts)
}

// retryCount is how many of them were retries.
func (res *stageResult) retryCount() int {
	if res.items != nil {
		return res.itemRetries
	}
	return max(len(res.attempts)-1, 0)
}

// StageMetrics are the per-stage figures of metrics_<id>.json.
type StageMetrics struct {
	WallSeconds     float64
	CPUSeconds      *float64
	PeakMemoryBytes *int64
	BytesIn         int64
	BytesOut        int64
	LinesIn         int64
	LinesOut        int64
}

// stageExec holds one stage's execution in this run.
type stageExec struct {
	r       *Runner
	st      *pipeline.Stage
	log     *slog.Logger // scoped to the run and the stage
	outDir  string
	staging string
	pr      *proc
	files   []inputFile
	inputs  *inputHash
	state   runstate.StageState
	hashers map[string]*hashcache.Incremental
	linesIn int64
	// startWrite delivers the result of the asynchronous "running" write.
	startWrite chan error

	// job names the attempt's staging dir, checkpoint and process: the
	// stage's name, or for an item of a fan-out stage its job name.
	job string
	// isItem marks one item's job of a fan-out stage: no marker, no
	// stage_<name>.json and no audit records of its own (the fan-out
	// stage records them as a whole); only declared outputs promoted.
	isItem bool
	item   string // the item's id
	// inputsFile holds the attempt's input list when it is too long for
	// the environment ("" otherwise).
	inputsFile string
	// committed are the outputs an item's job promoted.
	committed []runstate.MarkerOutput
	// batch are the items of a batched stage's process (batch.go): many
	// in a batch, one for an item run alone. The processor reads them
	// from batchFile (PIPELINE_BATCH_FILE) and reports each done on the
	// progress pipe; checkpoints are not used.
	batch     []*pendingItem
	batchFile string
	// batchRun is the batch a multi-item process works on (nil otherwise).
	batchRun *batchRun
}

// record records an event of this stage.
func (se *stageExec) record(d runstate.Payload) {
	if se.isItem {
		se.log.Debug(d.Event(), logKeyJob, se.job)
		return
	}
	se.r.events.recordTo(se.log, se.st.Name, d)
}

// key waits for the inputs to be hashed. Hashing always ends; the wait is
// not cut short by an interrupt, which must still checkpoint under the key.
func (se *stageExec) key() (string, error) { return se.inputs.Wait(context.Background()) }

// saveState writes stage_<name>.json after the pending "running" record.
func (se *stageExec) saveState() error {
	if se.startWrite != nil {
		err := <-se.startWrite
		se.startWrite = nil
		if err != nil {
			return err
		}
	}
	return se.r.layout.WriteStage(&se.state)
}

// execStage decides whether a stage is up to date and runs it when not.
func (r *Runner) execStage(ctx context.Context, idx int) (res stageResult) {
	st := &r.p.Stages[idx]
	start := time.Now()
	res.idx = idx
	defer func() { res.metrics.WallSeconds = time.Since(start).Seconds() }()

	outDir := r.p.Abs(st.OutputDir)
	if st.IsFanOut() {
		return r.execChain(ctx, []int{idx}, []bool{false}, 1)[0]
	}
	se := &stageExec{r: r, st: st, job: st.Name, log: r.log.With(logKeyStage, st.Name), outDir: outDir, staging: runstate.StagingDir(outDir, st.Name)}
	// fail ends a stage that failed before any attempt (processor, inputs,
	// params): the audit chain records it like any other stage end.
	fail := func(err error) stageResult {
		res.status, res.err = runstate.StageFailed, err
		se.record(runstate.StageEnd{Status: runstate.StageFailed, Error: err.Error(), Outputs: []runstate.OutputRecord{}})
		return res
	}

	pr, err := r.procs.resolve(ctx, st)
	if err != nil {
		if ctx.Err() != nil {
			res.status = runstate.StageInterrupted
			return res
		}
		var ve *VetError
		if errors.As(err, &ve) { // the lint verdict stops the run as it is
			res.err, res.status = err, runstate.StageFailed
			return res
		}
		return fail(fmt.Errorf("resolving processor: %w", err))
	}
	se.pr = pr
	if se.files, err = expandInputs(r.p, st, &r.verified); err != nil {
		return fail(err)
	}
	code, err := r.procs.code(st, pr)
	if err != nil {
		return fail(err)
	}
	base, err := baseParts(st, pr.Version, code)
	if err != nil {
		return fail(err)
	}

	forced := r.forced[st.Name]
	var marker *runstate.MarkerHead
	if st.Idempotent {
		if marker, err = runstate.ReadMarkerHead(se.outDir, st.Name); err != nil {
			se.log.Warn("unreadable marker", logKeyErr, err)
			res.reasons = append(res.reasons, Reason{Kind: ReasonMarkerBad, Detail: err.Error()})
			marker = nil
		}
	}
	progress, perr := r.layout.ReadProgress(st.Name)
	if perr != nil {
		se.log.Warn("unreadable checkpoint, starting over", logKeyErr, perr)
		progress = nil
	}

	// Hashing the inputs is stopped by an interrupt and bounded by the
	// stage's timeout (it is cancelled once the stage has ended, below).
	hctx, hcancel := context.WithTimeout(ctx, time.Duration(st.TimeoutSeconds)*time.Second)
	defer hcancel()
	// The key is needed before running only to decide a skip or to validate a
	// checkpoint; otherwise inputs are hashed while the processor works.
	if marker == nil && progress == nil {
		res.reasons = append(res.reasons, decide(r.p, st, nil, nil, "", r.cache, forced)...)
		se.inputs = hashInputsAsync(hctx, r.cache, se.files, base)
	} else {
		se.inputs = hashInputsNow(hctx, r.cache, se.files, base)
		key, err := se.key()
		if err != nil {
			if ctx.Err() != nil {
				res.status = runstate.StageInterrupted
				return res
			}
			return fail(err)
		}
		res.reasons = append(res.reasons, decide(r.p, st, marker, se.inputs.Parts(), key, r.cache, forced)...)
		if len(res.reasons) == 0 {
			res.status = runstate.StageSkipped
			_, res.metrics.BytesIn, _ = se.inputs.Ready()
			if c := marker.Counters; c != nil {
				res.metrics.BytesOut, res.metrics.LinesIn, res.metrics.LinesOut = c.BytesOut, c.LinesIn, c.LinesOut
			}
			se.record(runstate.StageSkip{})
			return res
		}
	}
	// The hashing goroutine uses the stat cache, saved at the end of the run.
	defer func() { _, _ = se.key() }()

	lock, err := r.lockStage(ctx, se)
	if err != nil {
		if ctx.Err() != nil {
			res.status = runstate.StageInterrupted
			return res
		}
		return fail(err)
	}
	defer lock.Release()

	// The state dir and the output dir are re-checked now (real
	// directories beneath the workspace, no symlink an earlier stage
	// planted): nothing is written through them otherwise.
	if err := r.checkStateDir(); err != nil {
		return fail(err)
	}
	od, err := se.openOutDir(true)
	if err != nil {
		return fail(err)
	}
	_ = od.Close()
	status, attempts, runErr := se.run(ctx, progress, res.reasons, &res.metrics)
	if _, total, ok := se.inputs.Ready(); ok {
		res.metrics.BytesIn = total
	}
	res.status, res.attempts, res.err = status, attempts, runErr
	return res
}

func (r *Runner) lockStage(ctx context.Context, se *stageExec) (*flock.Lock, error) {
	name := se.st.Name
	path := r.layout.StageLock(name)
	h := r.holder("stage " + name)
	l, holder, err := flock.TryAcquire(path, h)
	if err == nil {
		return l, nil
	}
	if !errors.Is(err, flock.ErrLocked) {
		return nil, err
	}
	// Another pipeline sharing this locks dir runs the same stage: wait for
	// it, it is a transient condition of the runner itself.
	se.log.Info("stage lock busy, waiting", logKeyDetail, holder.String())
	return flock.Acquire(ctx, path, h, 50*time.Millisecond, nil)
}

// run executes the attempts of a stage that must run. progress is the
// checkpoint found on disk (nil for none); from then on the loop holds the
// checkpoint itself: the one its last attempt persisted, or none when an
// attempt had to start over.
func (se *stageExec) run(ctx context.Context, progress *runstate.Progress, reasons []Reason, m *StageMetrics) (string, []runstate.Attempt, error) {
	r, st := se.r, se.st
	se.state = runstate.StageState{Name: st.Name, RunID: r.runID, Status: runstate.StageRunning, StartedAt: r.now(), Outputs: []runstate.OutputRecord{},
		Reasons: reasonStrings(reasons), Limits: &runstate.AppliedLimits{CPUs: st.Resources.CPUs, MemoryMB: st.Resources.MemoryMB, Pids: st.Resources.Pids, TimeoutSeconds: st.TimeoutSeconds}}
	r.rec.set(st.Index, runstate.RunStage{Name: st.Name, Status: runstate.StageRunning, Reasons: se.state.Reasons})
	if err := r.markRunning(); err != nil {
		return se.finish(runstate.StageFailed, err, m)
	}
	sb, err := r.getSandbox()
	if err != nil {
		if errors.Is(err, sandbox.ErrUnenforceable) {
			err = fmt.Errorf("%w (guardrun check shows what this host enforces; --best-effort runs anyway and records what was not enforced)", err)
		}
		return se.finish(runstate.StageFailed, fmt.Errorf("sandbox: %w", err), m)
	}
	rep := sb.Report()
	se.state.Enforcement = &rep
	// The "running" record is written while the stage gets ready and the
	// processor starts; every later write of the file waits for it
	// (saveState), so the records cannot overtake one another.
	se.startWrite = make(chan error, 1)
	snap := se.state
	go func() { se.startWrite <- r.layout.WriteStage(&snap) }()
	// An old marker must not outlive the outputs it describes.
	if err := runstate.RemoveMarker(se.outDir, st.Name); err != nil {
		return se.finish(runstate.StageFailed, fmt.Errorf("removing old marker: %w", err), m)
	}
	se.record(runstate.StageStart{Reasons: se.state.Reasons, Processor: se.pr.Path, Version: se.pr.Version})
	if progress != nil {
		if key, err := se.key(); err != nil || progress.IdempotencyKey != key || !st.Checkpoint.Enabled {
			progress = nil // made for other inputs or settings: useless
		}
	}
	status, err := se.attemptLoop(ctx, progress, m)
	return se.finish(status, err, m)
}

// attemptLoop runs attempts with retries and backoff until one succeeds
// (its outputs then promoted), the stage fails or the run is interrupted.
func (se *stageExec) attemptLoop(ctx context.Context, progress *runstate.Progress, m *StageMetrics) (string, error) {
	r, st := se.r, se.st
	se.hashers = map[string]*hashcache.Incremental{}
	for n := 1; n <= st.Retry.MaxAttempts; n++ {
		var delay time.Duration
		if n > 1 {
			delay = Backoff(st.Retry, r.runID, se.job, n)
			se.record(runstate.StageRetry{Attempt: n, DelayMs: delay.Milliseconds()})
			select {
			case <-ctx.Done():
				return runstate.StageInterrupted, nil
			case <-time.After(delay):
			}
		}
		startLine, startByte, resumed, err := se.prepareStaging(progress)
		if err != nil {
			return runstate.StageFailed, err
		}
		if !resumed {
			progress = nil
		}
		a := runstate.Attempt{Attempt: n, DelayMs: delay.Milliseconds(), StartLineOffset: startLine, StartByteOffset: startByte, EndLineOffset: startLine, EndByteOffset: startByte}
		if startByte > 0 {
			se.record(runstate.StageResume{Attempt: n, LineOffset: startLine, ByteOffset: startByte})
		}
		se.record(runstate.AttemptStart{Attempt: n})
		outcome, res, saved := se.attempt(ctx, &a)
		se.state.Attempts = append(se.state.Attempts, a)
		addUsage(m, res)
		if saved != nil {
			progress = saved
		}
		se.record(runstate.StageAttempt{Attempt: n, Outcome: a.Outcome, ExitCode: a.ExitCode, Error: a.Error})
		switch {
		case outcome == runstate.OutcomeSucceeded:
			if err := se.promote(m); err != nil {
				return runstate.StageFailed, err
			}
			return runstate.StageSucceeded, nil
		case outcome == runstate.OutcomeInterrupted:
			return runstate.StageInterrupted, nil
		case !retryable(st.Retry, outcome) || n == st.Retry.MaxAttempts:
			return runstate.StageFailed, errors.New(a.Error)
		}
		if !se.isItem {
			if err := se.saveState(); err != nil {
				return runstate.StageFailed, err
			}
		}
	}
	return runstate.StageFailed, errors.New("no attempts")
}

func retryable(r pipeline.Retry, outcome string) bool {
	switch outcome {
	case runstate.OutcomeTransient:
		return true
	case runstate.OutcomeTimeout:
		return r.RetryOnTimeout
	case runstate.OutcomeOOMKill:
		return r.RetryOnOOM
	}
	return false
}

func addUsage(m *StageMetrics, res sandbox.Result) {
	if res.CPUSeconds > 0 {
		v := res.CPUSeconds
		if m.CPUSeconds != nil {
			v += *m.CPUSeconds
		}
		m.CPUSeconds = &v
	}
	if res.PeakMemoryBytes > 0 && (m.PeakMemoryBytes == nil || res.PeakMemoryBytes > *m.PeakMemoryBytes) {
		v := res.PeakMemoryBytes
		m.PeakMemoryBytes = &v
	}
}

// finish records the stage's final state.
func (se *stageExec) finish(status string, err error, m *StageMetrics) (string, []runstate.Attempt, error) {
	now := se.r.now()
	se.state.Status = status
	se.state.EndedAt = &now
	// A stage can end (timeout, interrupt, start failure) before its
	// inputs are hashed: the key is recorded only once it is known.
	key, _, _ := se.inputs.Ready()
	se.state.IdempotencyKey = key
	if err != nil {
		se.state.Error = err.Error()
	}
	m.LinesIn = se.linesIn
	// The stage's record and the audit records of its attempts (stage.end
	// included) are made durable together.
	se.record(runstate.StageEnd{Status: status, Attempts: len(se.state.Attempts), Error: se.state.Error, IdempotencyKey: key, Outputs: se.state.Outputs})
	synced := make(chan struct{})
	go func() { se.r.events.sync(); close(synced) }()
	if werr := se.saveState(); werr != nil && err == nil {
		err, status = werr, runstate.StageFailed
		se.record(runstate.StageEnd{Status: status, Attempts: len(se.state.Attempts), Error: "recording the stage state: " + werr.Error(), IdempotencyKey: key, Outputs: se.state.Outputs})
	}
	<-synced
	return status, se.state.Attempts, err
}

func reasonStrings(rs []Reason) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.String()
	}
	return out
}
