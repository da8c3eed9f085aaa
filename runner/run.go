package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/guardrun/guardrun/audit"
	"github.com/guardrun/guardrun/internal/atomicfile"
	"github.com/guardrun/guardrun/internal/flock"
	"github.com/guardrun/guardrun/internal/hashcache"
	"github.com/guardrun/guardrun/pipeline"
	"github.com/guardrun/guardrun/sandbox"
)

// Options configure a run.
type Options struct {
	RunID string
	// Jobs caps concurrently running stages (0: as the budget allows).
	Jobs int
	// Force reruns these stages even when up to date.
	Force []string
	// Wait waits for the pipeline lock instead of failing with exit 4.
	Wait bool
	// Sandbox starts processors. When nil, the runner calls
	// sandbox.New(SandboxOptions) the first time a stage actually runs, so a
	// no-op run pays nothing for probing namespaces and cgroups.
	Sandbox        sandbox.Sandbox
	SandboxOptions sandbox.Options
	// Vet vets Go processors before they are built (netlint); may be nil.
	Vet VetFunc
	// OnEvent receives progress events (serialised); may be nil.
	OnEvent func(Event)
	// AuditKey, when set, makes the audit chain an HMAC chain.
	AuditKey []byte
	// Preflight is recorded as the "policy.verdict" audit event: what the
	// policy, the linter and the sandbox probe said before the run.
	Preflight map[string]any
	// Logger for structured logs; nil discards.
	Logger *slog.Logger
	// Now is the clock (tests); nil is time.Now.
	Now func() time.Time
	// Extra data recorded in run_<id>.json.
	BestEffort bool
}

// Event types.
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
	EvStageAttempt    = "stage.attempt"
	EvStageRetry      = "stage.retry"
	EvStageResume     = "stage.resume"
	EvStageCheckpoint = "stage.checkpoint"
	EvStageEnd        = "stage.end"
	EvStageBlocked    = "stage.blocked"
	EvProgress        = "stage.progress"
)

// Event is a progress notification for the CLI.
type Event struct {
	Type       string
	Stage      string
	Status     string
	Attempt    int
	Attempts   int
	Delay      time.Duration
	Err        error
	Detail     string
	Lines      int64
	Bytes      int64
	TotalBytes int64
}

// Runner executes one run of a pipeline.
type Runner struct {
	p       *pipeline.Pipeline
	opts    Options
	runID   string
	cache   *hashcache.Cache
	procs   *procs
	sandbox sandbox.Sandbox
	log     *slog.Logger
	forced  map[string]bool
	now     func() time.Time
	evMu    sync.Mutex
	host    string
	al      *audit.Log

	sbOnce    sync.Once
	sbErr     error
	sbStarted bool

	// rs is the run state; it is first written (status running) when a
	// stage is about to run, so a no-op run writes it once, at the end.
	rs          *RunState
	runningOnce sync.Once
	runningErr  error
}

// markRunning records run_<id>.json with status running before the first
// stage does any work, so that a crash is visible in the state files.
func (r *Runner) markRunning() error {
	// Nothing changes r.rs while stages run (summarize fills it in after
	// the last one ended), so it is written as it is.
	r.runningOnce.Do(func() {
		r.runningErr = writeState(runStatePath(r.p.StateDir, r.runID), r.rs)
	})
	return r.runningErr
}

// getSandbox returns the sandbox, creating it on first use.
func (r *Runner) getSandbox() (sandbox.Sandbox, error) {
	r.sbOnce.Do(func() {
		r.sbStarted = true
		if r.sandbox != nil {
			return
		}
		r.sandbox, r.sbErr = sandbox.New(r.opts.SandboxOptions)
		if r.sbErr == nil {
			rep := r.sandbox.Report()
			r.audit(EvSandbox, "", map[string]any{"network": rep.Network, "memory": rep.Memory, "cpu": rep.CPU,
				"pids": rep.Pids, "io": rep.IO, "tree": rep.Tree, "bestEffort": rep.BestEffort, "notes": rep.Notes})
		}
	})
	return r.sandbox, r.sbErr
}

// sandboxIfStarted returns the sandbox when some stage needed it.
func (r *Runner) sandboxIfStarted() (sandbox.Sandbox, error) {
	var started bool
	r.sbOnce.Do(func() {}) // no further creation after the run
	started = r.sbStarted
	if !started {
		return nil, nil
	}
	return r.sandbox, r.sbErr
}

// Result is the outcome of Run.
type Result struct {
	State   *RunState
	Metrics *RunMetrics
}

// Run executes the pipeline. The returned error has a Code() for the CLI
// (1 a stage failed, 4 locked, 130 interrupted) or is an internal error.
func Run(ctx context.Context, p *pipeline.Pipeline, opts Options) (*Result, error) {
	r := &Runner{p: p, opts: opts, runID: opts.RunID, forced: map[string]bool{}, now: opts.Now, log: opts.Logger}
	if r.now == nil {
		r.now = func() time.Time { return time.Now().UTC() }
	}
	if r.log == nil {
		r.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if r.runID == "" {
		r.runID = NewRunID(r.now())
	}
	for _, f := range opts.Force {
		if _, ok := p.Stage(f); !ok {
			return nil, &UsageError{Msg: fmt.Sprintf("--force %s: no such stage", f)}
		}
		r.forced[f] = true
	}
	r.host, _ = os.Hostname()
	if err := os.MkdirAll(p.StateDir, 0o755); err != nil {
		return nil, fmt.Errorf("creating state dir: %w", err)
	}
	lock, prev, err := r.lockPipeline(ctx)
	if err != nil {
		return nil, err
	}
	defer lock.Release()
	r.sandbox = opts.Sandbox
	r.al, err = audit.Open(filepath.Join(p.StateDir, "audit.jsonl"), opts.AuditKey)
	if err != nil {
		return nil, fmt.Errorf("opening audit log: %w", err)
	}
	defer r.al.Close()
	r.audit(EvLock, "", map[string]any{"path": lock.Path()})
	if opts.Preflight != nil {
		r.audit(EvPolicy, "", opts.Preflight)
	}
	r.recoverPrevious(prev)
	if err := lock.SetHolder(r.holder("pipeline " + p.Name)); err != nil {
		return nil, fmt.Errorf("recording lock holder: %w", err)
	}
	if err := r.sweep(prev.RunID != ""); err != nil {
		return nil, err
	}
	r.cache = hashcache.Open(filepath.Join(p.StateDir, hashCacheFile))
	r.procs = newProcs(p, r.cache, opts.Vet)

	rs := &RunState{RunID: r.runID, Pipeline: p.Name, SpecHash: p.SpecHash, Status: RunRunning, PID: os.Getpid(), Host: r.host,
		StartedAt: r.now(), BestEffort: opts.BestEffort, Forced: opts.Force}
	for _, st := range p.Stages {
		rs.Stages = append(rs.Stages, RunStage{Name: st.Name, Status: StagePending})
	}
	r.audit(EvRunStart, "", map[string]any{"pipeline": p.Name, "specHash": p.SpecHash, "pid": rs.PID, "host": r.host, "bestEffort": opts.BestEffort})
	r.rs = rs
	r.emit(Event{Type: EvRunStart, Detail: r.runID})

	results := r.schedule(ctx)

	// Final state: what every stage did, metrics, caches.
	runErr := r.summarize(ctx, rs, results)
	end := r.now()
	rs.EndedAt = &end
	if sb, err := r.sandboxIfStarted(); sb != nil && err == nil {
		rep := sb.Report()
		rs.Enforcement = &rep
	}
	met := r.metrics(rs, results)
	r.audit(EvRunEnd, "", map[string]any{"status": rs.Status, "error": rs.Error})
	// The head is known once run.end is appended; syncing the log runs in
	// parallel with the state writes (independent files, one journal
	// commit on most filesystems).
	seq, h := r.al.Head()
	rs.Audit = &AuditHead{Seq: seq, Hash: h}
	var wg sync.WaitGroup
	errs := make([]error, 5)
	for i, f := range []func() error{
		func() error { return r.al.Sync() },
		func() error { return writeState(runStatePath(p.StateDir, r.runID), rs) },
		func() error { return r.cache.Save() },
		func() error { return writeMetricsJSON(p.StateDir, met) },
		func() error { return writeMetricsProm(p.StateDir, met) },
	} {
		wg.Add(1)
		go func(i int, f func() error) { defer wg.Done(); errs[i] = f() }(i, f)
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil && runErr == nil {
		runErr = fmt.Errorf("writing run state: %w", err)
	}
	r.emit(Event{Type: EvRunEnd, Status: rs.Status, Detail: r.runID})
	return &Result{State: rs, Metrics: met}, runErr
}

// NewRunID returns a time-based run id, e.g. 20261122T071551Z-1a2b.
func NewRunID(t time.Time) string {
	return fmt.Sprintf("%s-%04x", t.UTC().Format("20060102T150405Z"), uint16(time.Now().UnixNano()>>10)^uint16(os.Getpid()))
}

func (r *Runner) holder(what string) flock.Holder {
	return flock.Holder{RunID: r.runID, PID: os.Getpid(), Host: r.host, Since: r.now(), What: what}
}

// lockPipeline takes locksDir/pipeline.lock. It returns what the previous
// holder left in the file: a run that died without releasing (crash).
func (r *Runner) lockPipeline(ctx context.Context) (*flock.Lock, flock.Holder, error) {
	// The lock is taken without recording ourselves: what a crashed holder
	// left in the file must survive until recoverPrevious has used it, even
	// if we are killed in between (then the next run recovers it).
	path := filepath.Join(r.p.LocksDir, "pipeline.lock")
	l, holder, err := flock.TryAcquire(path, flock.Holder{})
	if err != nil && !errors.Is(err, flock.ErrLocked) {
		return nil, flock.Holder{}, err
	}
	if err != nil {
		if !r.opts.Wait {
			return nil, flock.Holder{}, &LockedError{Path: path, Holder: holder}
		}
		r.emit(Event{Type: EvLockWait, Detail: holder.String()})
		l, err = flock.Acquire(ctx, path, flock.Holder{}, 100*time.Millisecond, nil)
		if err != nil {
			if ctx.Err() != nil {
				return nil, flock.Holder{}, &InterruptedError{RunID: r.runID}
			}
			return nil, flock.Holder{}, err
		}
	}
	return l, flock.ReadHolder(path), nil
}

// recoverPrevious marks the run of a crashed predecessor (its lock file
// still names it) as interrupted, so that no run_<id>.json claims to be
// running forever.
func (r *Runner) recoverPrevious(prev flock.Holder) {
	if prev.RunID == "" {
		return
	}
	rs, err := ReadRunState(r.p.StateDir, prev.RunID)
	if err != nil || rs.Status != RunRunning {
		return
	}
	end := r.now()
	rs.Status, rs.EndedAt, rs.Error = RunInterrupted, &end, "guardrun died (no clean exit was recorded); recovered by run "+r.runID
	for i := range rs.Stages {
		if rs.Stages[i].Status == StageRunning {
			rs.Stages[i].Status = StageInterrupted
		}
	}
	if err := writeState(runStatePath(r.p.StateDir, prev.RunID), rs); err == nil {
		r.audit(EvSweep, "", map[string]any{"recoveredRun": prev.RunID})
	}
	for _, st := range r.p.Stages {
		ss, err := ReadStageState(r.p.StateDir, st.Name)
		if err != nil || ss.Status != StageRunning || ss.RunID != prev.RunID {
			continue
		}
		ss.Status, ss.EndedAt, ss.Error = StageInterrupted, &end, "guardrun died during this stage"
		_ = writeState(stageStatePath(r.p.StateDir, st.Name), ss)
	}
}

// sweep removes the leftovers of crashes: temp files of atomic writes in
// the state dir and every output dir, and, after a crash, the sandbox's
// leftovers (cgroups, processes).
func (r *Runner) sweep(crashed bool) error {
	dirs := map[string]bool{r.p.StateDir: true, r.p.LocksDir: true}
	for _, st := range r.p.Stages {
		dirs[r.p.Abs(st.OutputDir)] = true
	}
	var removed []string
	for d := range dirs {
		rm, err := atomicfile.Sweep(d)
		if err != nil {
			return err
		}
		removed = append(removed, rm...)
	}
	// Sandbox leftovers (cgroups) exist only after a crash; probing the
	// sandbox is not free, so a clean predecessor means nothing to sweep.
	if crashed {
		if sb, err := r.getSandbox(); err == nil {
			if err := sb.Sweep(); err != nil {
				r.log.Warn("sandbox sweep", "err", err)
			}
		}
	}
	if len(removed) > 0 {
		sort.Strings(removed)
		r.log.Info("swept crash leftovers", "files", removed)
		r.audit(EvSweep, "", map[string]any{"removed": removed})
	}
	return nil
}

// emit reports an event to the CLI and to the structured log (constant
// keys: event, run, stage, status, attempt, delay_ms, detail, err).
func (r *Runner) emit(ev Event) {
	if ev.Type != EvProgress {
		attrs := []any{"event", ev.Type, "run", r.runID}
		if ev.Stage != "" {
			attrs = append(attrs, "stage", ev.Stage)
		}
		if ev.Status != "" {
			attrs = append(attrs, "status", ev.Status)
		}
		if ev.Attempt > 0 {
			attrs = append(attrs, "attempt", ev.Attempt)
		}
		if ev.Delay > 0 {
			attrs = append(attrs, "delay_ms", ev.Delay.Milliseconds())
		}
		if ev.Detail != "" {
			attrs = append(attrs, "detail", ev.Detail)
		}
		if ev.Err != nil {
			attrs = append(attrs, "err", ev.Err.Error())
			r.log.Error("stage failed", attrs...)
		} else {
			r.log.Info(ev.Type, attrs...)
		}
	}
	if r.opts.OnEvent == nil {
		return
	}
	r.evMu.Lock()
	defer r.evMu.Unlock()
	r.opts.OnEvent(ev)
}

// audit appends an event to the audit chain. Records are written at once
// (one write each) and fsynced in batches: at the end of every stage that
// ran and at the end of the run (auditSync), so a no-op run over many stages
// costs one fsync, not one per stage.
func (r *Runner) audit(event, stage string, data map[string]any) {
	if r.al == nil {
		return
	}
	if _, err := r.al.AppendNoSync(audit.Event{Type: event, RunID: r.runID, Stage: stage, Data: data}); err != nil {
		r.log.Error("audit append failed", "event", event, "err", err)
	}
}

func (r *Runner) auditSync() {
	if r.al == nil {
		return
	}
	if err := r.al.Sync(); err != nil {
		r.log.Error("audit sync failed", "err", err)
	}
}

// stageLog is where a processor's stdout and stderr go:
// stateDir/logs/<stage>.log, appended per attempt. The caller closes it
// when the attempt has ended.
func (r *Runner) stageLog(stage string) io.WriteCloser {
	dir := filepath.Join(r.p.StateDir, "logs")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nopCloser{io.Discard}
	}
	f, err := os.OpenFile(filepath.Join(dir, stage+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nopCloser{io.Discard}
	}
	fmt.Fprintf(f, "--- run %s stage %s at %s\n", r.runID, stage, r.now().Format(time.RFC3339))
	return f
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// schedule runs stages in dependency order, concurrently within the budget.
// Each stage waits for its upstream stages (remaining counts), ready stages
// are started in topological order as the budget allows, and a stage whose
// upstream did not succeed is blocked, which blocks its own downstream.
func (r *Runner) schedule(ctx context.Context) []stageResult {
	p := r.p
	n := len(p.Stages)
	results := make([]stageResult, n)
	status := make([]string, n)
	index := make(map[string]int, n)
	for i, st := range p.Stages {
		index[st.Name] = i
		status[i] = StagePending
		results[i] = stageResult{idx: i, status: StagePending}
	}
	rank := make([]int, n) // position in the topological order
	for pos, i := range p.Order() {
		rank[i] = pos
	}
	remaining := make([]int, n)
	downstream := make([][]int, n)
	for i, st := range p.Stages {
		remaining[i] = len(st.DependsOn)
		for _, d := range st.DependsOn {
			downstream[index[d]] = append(downstream[index[d]], i)
		}
	}
	var ready []int // kept sorted by rank
	push := func(i int) {
		k := sort.Search(len(ready), func(j int) bool { return rank[ready[j]] > rank[i] })
		ready = append(ready, 0)
		copy(ready[k+1:], ready[k:])
		ready[k] = i
	}
	for i := range p.Stages {
		if remaining[i] == 0 {
			push(i)
		}
	}
	jobs := r.opts.Jobs
	if jobs <= 0 {
		jobs = n
	}
	var cpus float64
	var mem int64
	var io, running int
	done := make(chan stageResult)
	fits := func(st *pipeline.Stage) bool {
		if running == 0 {
			return true // a stage larger than the budget still runs, alone
		}
		if running >= jobs || cpus+st.Resources.CPUs > p.Budget.CPUs+1e-9 || mem+st.Resources.MemoryMB > p.Budget.MemoryMB {
			return false
		}
		return !st.IOHeavy || io < p.Budget.IOConcurrency
	}
	// finish records a stage's end and releases or blocks its downstream.
	var finish func(i int, res stageResult)
	finish = func(i int, res stageResult) {
		status[i], results[i] = res.status, res
		ok := res.status == StageSucceeded || res.status == StageSkipped
		for _, d := range downstream[i] {
			if status[d] != StagePending {
				continue
			}
			if !ok && (res.status == StageFailed || res.status == StageBlocked) {
				st := &p.Stages[d]
				r.emit(Event{Type: EvStageBlocked, Stage: st.Name, Status: StageBlocked, Detail: p.Stages[i].Name})
				r.audit(EvStageBlocked, st.Name, map[string]any{"upstream": p.Stages[i].Name})
				finish(d, stageResult{idx: d, status: StageBlocked, err: fmt.Errorf("not run: upstream %s did not succeed", p.Stages[i].Name)})
				continue
			}
			if remaining[d]--; remaining[d] == 0 && ok {
				push(d)
			}
		}
	}
	for {
		if ctx.Err() == nil {
			kept := ready[:0]
			for _, i := range ready {
				st := &p.Stages[i]
				if status[i] != StagePending || !fits(st) {
					if status[i] == StagePending {
						kept = append(kept, i)
					}
					continue
				}
				status[i] = StageRunning
				running++
				cpus += st.Resources.CPUs
				mem += st.Resources.MemoryMB
				if st.IOHeavy {
					io++
				}
				go func(i int) { done <- r.execStage(ctx, i) }(i)
			}
			ready = kept
		}
		if running == 0 {
			break
		}
		res := <-done
		st := &p.Stages[res.idx]
		running--
		cpus -= st.Resources.CPUs
		mem -= st.Resources.MemoryMB
		if st.IOHeavy {
			io--
		}
		if res.status == StageSkipped {
			r.audit(EvStageSkip, st.Name, nil)
		}
		finish(res.idx, res)
	}
	return results
}

// summarize fills the run state from the stage results and returns the
// run's error.
func (r *Runner) summarize(ctx context.Context, rs *RunState, results []stageResult) error {
	var failed, blocked []string
	var coded error
	interrupted := ctx.Err() != nil
	for i, res := range results {
		s := &rs.Stages[i]
		s.Status = res.status
		s.Attempts = len(res.attempts)
		s.Reasons = reasonStrings(res.reasons)
		if res.err != nil {
			s.Error = res.err.Error()
		}
		switch res.status {
		case StageFailed:
			failed = append(failed, s.Name)
			var c interface{ Code() int }
			if errors.As(res.err, &c) && coded == nil {
				coded = res.err
			}
		case StageBlocked:
			blocked = append(blocked, s.Name)
		case StageInterrupted:
			interrupted = true
		}
	}
	switch {
	case interrupted:
		rs.Status = RunInterrupted
		rs.Error = "interrupted"
		return &InterruptedError{RunID: r.runID}
	case coded != nil:
		rs.Status = RunFailed
		rs.Error = coded.Error()
		return coded
	case len(failed) > 0:
		rs.Status = RunFailed
		err := &StageFailedError{Failed: failed, Blocked: blocked}
		for _, res := range results {
			if res.status == StageFailed && res.err != nil {
				err.First = fmt.Sprintf("%s: %v", r.p.Stages[res.idx].Name, res.err)
				break
			}
		}
		rs.Error = err.Error()
		return err
	}
	rs.Status = RunSucceeded
	return nil
}
