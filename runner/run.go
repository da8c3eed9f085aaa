package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
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
	"github.com/guardrun/guardrun/internal/runstate"
	"github.com/guardrun/guardrun/pipeline"
	"github.com/guardrun/guardrun/sandbox"
)

// Options configure a run.
type Options struct {
	RunID string
	// ReplaceRun lets RunID name a run already recorded: its run record,
	// metrics and report are removed first (its audit records stay in
	// the chain). Without it such a RunID is a RunIDUsedError.
	ReplaceRun bool
	// Jobs caps concurrently running stages (0: as the budget allows).
	Jobs int
	// Force reruns these stages even when up to date.
	Force []string
	// Wait waits for the pipeline lock instead of failing with ErrLocked.
	Wait bool
	// Sandbox starts processors. When nil, the runner calls
	// sandbox.New(SandboxOptions) the first time a stage actually runs, so a
	// no-op run pays nothing for probing namespaces and cgroups.
	Sandbox        sandbox.Sandbox
	SandboxOptions sandbox.Options
	// Vet vets Go processors before they are built (netlint); may be nil.
	Vet VetFunc
	// GoSources, when set, are the Go processors' source hashes preflight
	// computed for this pipeline: the run does not hash them again.
	GoSources *GoSources
	// OnEvent receives every event of the run (serialised); may be nil.
	OnEvent func(runstate.Event)
	// AuditKey, when set, makes the audit chain an HMAC chain.
	AuditKey []byte
	// Preflight is recorded as the "policy.verdict" event: what the policy
	// and the linter said before the run; nil records none.
	Preflight *runstate.PolicyVerdict
	// Logger for structured logs; nil discards.
	Logger *slog.Logger
	// Now is the clock (tests); nil is time.Now.
	Now func() time.Time
	// BestEffort is recorded in run_<id>.json.
	BestEffort bool
	// AuditKeyPath is the path of the audit key file when the key was
	// given by path ("" when given on a file descriptor or not at all): a
	// path the sandbox must keep out of the processors' view. The runner
	// itself uses only AuditKey.
	AuditKeyPath string
	// LogCapBytes caps the stdout and stderr one attempt leaves in
	// stateDir/logs/<stage>.log (0: DefaultLogCap; < 0: unlimited).
	LogCapBytes int64
	// MaxStagedFiles bounds the files and directories one attempt may
	// stage: more fails the stage before anything is promoted (a
	// processor must not make guardrun itself run out of memory). 0 means
	// DefaultMaxStagedFiles, negative means no limit.
	MaxStagedFiles int
}

// Runner executes one run of a pipeline.
type Runner struct {
	p      *pipeline.Pipeline
	layout runstate.Layout
	opts   Options
	runID  string
	cache  *hashcache.Cache
	procs  *procs
	log    *slog.Logger // scoped to the run
	forced map[string]bool
	now    func() time.Time
	host   string
	events recorder

	// verified are outputs of up-to-date items, checked in this run.
	verified verifiedFiles
	// stat stats the many files of fan-out stages' decisions by directory;
	// it lives for the run (closed by Run).
	stat hashcache.Statter

	// itemLogMu serialises the appends of items' logs to a stage log.
	itemLogMu sync.Mutex

	sbOnce    sync.Once
	sandbox   sandbox.Sandbox
	sbErr     error
	sbStarted bool

	// recovered is the id of the predecessor this run recovered, if any.
	recovered string

	// rec keeps run_<id>.json current while stages run; it is first
	// written (status running) when a stage is about to run, so a no-op run
	// writes the record once, at the end.
	rec *runRecord
}

// markRunning records run_<id>.json with status running before the first
// stage does any work, so that a crash is visible in the state files; from
// then on the record follows the stages as they end.
func (r *Runner) markRunning() error { return r.rec.start() }

// getSandbox returns the sandbox, creating it on first use.
func (r *Runner) getSandbox() (sandbox.Sandbox, error) {
	r.sbOnce.Do(func() {
		r.sbStarted = true
		if r.sandbox != nil {
			return
		}
		// Processors never see the lock files (they could hold a lock
		// against the next run) nor, below, the audit key.
		opts := r.opts.SandboxOptions
		opts.Hide = append(append([]string(nil), opts.Hide...), r.layout.LocksDir)
		if r.opts.AuditKeyPath != "" {
			opts.Hide = append(opts.Hide, r.opts.AuditKeyPath)
		}
		r.sandbox, r.sbErr = sandbox.New(opts)
		if r.sbErr == nil {
			r.events.record("", runstate.SandboxReport{Report: r.sandbox.Report()})
		}
	})
	return r.sandbox, r.sbErr
}

// closeSandbox releases what the sandbox this run created keeps between
// attempts (the drained cgroups it reuses, the run's network namespace):
// nothing of a finished run is left for the next run's sweep. A sandbox
// given in Options is its owner's to close.
func (r *Runner) closeSandbox() {
	sb, err := r.sandboxIfStarted()
	if sb == nil || err != nil || r.opts.Sandbox != nil {
		return
	}
	if c, ok := sb.(io.Closer); ok {
		if err := c.Close(); err != nil {
			r.log.Warn("closing the sandbox", logKeyErr, err)
		}
	}
}

// sandboxIfStarted returns the sandbox when some stage needed it.
func (r *Runner) sandboxIfStarted() (sandbox.Sandbox, error) {
	r.sbOnce.Do(func() {}) // no further creation after the run
	if !r.sbStarted {
		return nil, nil
	}
	return r.sandbox, r.sbErr
}

// Result is the outcome of Run.
type Result struct {
	State   *runstate.RunState
	Metrics *RunMetrics
	// recordWrites counts the writes of run_<id>.json (tests).
	recordWrites int
}

// Run executes the pipeline. The error is ErrStageFailed, ErrLocked,
// ErrInterrupted, ErrNoSuchStage (errors.Is), a *VetError, or an internal
// error.
func Run(ctx context.Context, p *pipeline.Pipeline, opts Options) (*Result, error) {
	r := &Runner{p: p, layout: Layout(p), opts: opts, runID: opts.RunID, forced: map[string]bool{}, now: opts.Now}
	if r.now == nil {
		r.now = func() time.Time { return time.Now().UTC() }
	}
	if r.runID == "" {
		r.runID = NewRunID(r.now())
	}
	r.log = runLogger(opts.Logger, r.runID)
	r.events = recorder{runID: r.runID, log: r.log, onEvent: opts.OnEvent, layout: r.layout}
	for _, f := range opts.Force {
		if _, ok := p.Stage(f); !ok {
			return nil, noSuchStage("--force", f)
		}
		r.forced[f] = true
	}
	r.host, _ = os.Hostname()
	// The state dir must be a real directory beneath the workspace (no
	// symlink planted in its place): checked here and again before every
	// stage runs.
	if err := r.checkStateDir(); err != nil {
		return nil, err
	}
	lock, prev, err := r.lockPipeline(ctx)
	if err != nil {
		return nil, err
	}
	defer lock.Release()
	// A run id names one run: checked under the lock, so that two runs
	// given the same id cannot both pass.
	if opts.RunID != "" {
		if err := r.claimRunID(opts.ReplaceRun); err != nil {
			return nil, err
		}
	}
	r.sandbox = opts.Sandbox
	al, err := audit.Open(r.layout.AuditLog(), opts.AuditKey)
	if err != nil {
		return nil, fmt.Errorf("opening audit log: %w", err)
	}
	defer al.Close()
	// An event that cannot be recorded in the chain stops the run, which
	// then ends failed with that reason (recorder.fail).
	runCtx, stopRun := context.WithCancelCause(ctx)
	defer stopRun(nil)
	r.events.setAudit(al, stopRun)
	r.events.record("", runstate.LockAcquired{Path: lock.Path()})
	if opts.Preflight != nil {
		r.events.record("", *opts.Preflight)
	}
	r.recoverPrevious(prev)
	r.recoverUnended(al)
	if err := lock.SetHolder(r.holder("pipeline " + p.Name)); err != nil {
		return nil, fmt.Errorf("recording lock holder: %w", err)
	}
	if err := r.sweep(prev.RunID != ""); err != nil {
		return nil, err
	}
	if g := opts.GoSources; g != nil && g.p == p && g.cache != nil {
		r.cache = g.cache
	} else {
		r.cache = hashcache.Open(r.layout.HashCache())
	}
	r.procs = newProcs(p, r.cache, opts.Vet)
	r.procs.seed(opts.GoSources)
	defer r.stat.Close()

	rs := &runstate.RunState{RunID: r.runID, Pipeline: p.Name, SpecHash: p.SpecHash, Status: runstate.RunRunning, PID: os.Getpid(), Host: r.host,
		StartedAt: r.now(), BestEffort: opts.BestEffort, Forced: opts.Force}
	lines := make([]runstate.RunStage, len(p.Stages))
	for i, st := range p.Stages {
		lines[i] = runstate.RunStage{Name: st.Name, Status: runstate.StagePending}
	}
	r.rec = newRunRecord(r.layout, r.log, *rs, lines)
	r.rec.anchor = func() *runstate.AuditHead {
		seq, h := al.SyncedHead()
		return &runstate.AuditHead{Seq: seq, Hash: h}
	}
	r.events.record("", runstate.RunStart{Pipeline: p.Name, SpecHash: p.SpecHash, PID: rs.PID, Host: r.host, BestEffort: opts.BestEffort})

	sched := &scheduler{p: p, jobs: opts.Jobs, exec: r.execStage, fan: r.execChain, blocked: func(i, upstream int) {
		r.events.record(p.Stages[i].Name, runstate.BlockedByUpstream{Upstream: p.Stages[upstream].Name})
	}, ended: func(i int, res stageResult) {
		r.rec.set(i, r.stageLine(p.Stages[i].Name, res))
	}}
	results := sched.run(runCtx)
	r.rec.close()
	r.closeSandbox()

	// Final state: what every stage did, metrics, caches.
	runErr := r.summarize(ctx, rs, results)
	rs.Builds = r.procs.goBuilds()
	end := r.now()
	rs.EndedAt = &end
	if sb, err := r.sandboxIfStarted(); sb != nil && err == nil {
		rep := sb.Report()
		rs.Enforcement = &rep
	}
	met := r.metrics(rs, results)
	// One record for the skips of the run, not one per stage.
	if rs.Skipped != nil {
		r.events.record("", runstate.NewStagesSkipped(rs.Skipped.Names))
	}
	// Runs beyond retention leave a summary in the chain before their files
	// go (once this run's record is durable, below).
	retired := r.retire()
	for _, c := range retired {
		r.events.record("", c)
	}
	r.events.record("", runstate.RunEnd{Status: rs.Status, Error: rs.Error, Counts: rs.Counts})
	// A failure to record anything of the run, run.end included, fails it:
	// its record says so even when the chain could not.
	if aerr := r.events.failed(); aerr != nil && rs.Status != runstate.RunFailed {
		rs.Status, rs.Error, runErr = runstate.RunFailed, aerr.Error(), aerr
	}
	// The head is known once run.end is appended; syncing the log runs in
	// parallel with the state writes (independent files, one journal
	// commit on most filesystems).
	seq, h := al.Head()
	rs.Audit = &runstate.AuditHead{Seq: seq, Hash: h}
	var wg sync.WaitGroup
	names := make([]string, len(r.p.Stages))
	for i := range r.p.Stages {
		names[i] = r.p.Stages[i].Name
	}
	if rs.Status == runstate.RunSucceeded {
		r.cache.EvictUnused() // every stage was decided: what it did not use is not needed
	}
	errs := make([]error, 6)
	for i, f := range []func() error{
		al.Sync,
		func() error { return r.layout.WriteRun(rs) },
		r.cache.Save,
		func() error { return r.layout.WriteMetricsJSON(met) },
		func() error { return r.layout.WriteMetricsProm(met) },
		func() error { return r.layout.WriteMetricsLastProm(met, names) },
	} {
		wg.Add(1)
		go func(i int, f func() error) { defer wg.Done(); errs[i] = f() }(i, f)
	}
	wg.Wait()
	res := &Result{State: rs, Metrics: met, recordWrites: r.rec.writeCount()}
	if errs[1] == nil {
		res.recordWrites++
	}
	if err := errors.Join(errs...); err != nil {
		// The next run repairs a record left running (recoverUnended).
		r.log.Error("writing run state", logKeyErr, err)
		if runErr == nil {
			runErr = fmt.Errorf("writing run state: %w", err)
		}
		return res, runErr
	}
	if r.events.failed() == nil {
		// Only once their summaries are in the chain.
		r.removeRetired(retired)
	}
	return res, runErr
}

// Layout is where p keeps its state and locks.
func Layout(p *pipeline.Pipeline) runstate.Layout {
	return runstate.Layout{StateDir: p.StateDir, LocksDir: p.LocksDir}
}

// claimRunID refuses a run id already recorded, or with replace removes
// that run's records.
func (r *Runner) claimRunID(replace bool) error {
	path := r.layout.RunFile(r.runID)
	if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if !replace {
		e := &RunIDUsedError{RunID: r.runID}
		if rs, err := r.layout.ReadRun(r.runID); err == nil {
			e.Status, e.StartedAt = rs.Status, rs.StartedAt.UTC().Format(time.RFC3339)
		}
		return e
	}
	for _, f := range r.layout.RunFiles(r.runID) {
		if err := os.Remove(f); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("replacing run %s: %w", r.runID, err)
		}
	}
	return atomicfile.SyncDir(r.layout.StateDir)
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
	path := r.layout.PipelineLock()
	l, holder, err := flock.TryAcquire(path, flock.Holder{})
	if err != nil && !errors.Is(err, flock.ErrLocked) {
		return nil, flock.Holder{}, err
	}
	if err != nil {
		if !r.opts.Wait {
			return nil, flock.Holder{}, &LockedError{Path: path, Holder: holder}
		}
		r.events.record("", runstate.LockWait{Holder: holder.String()})
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
	reason := "guardrun died (no clean exit was recorded); recovered by run " + r.runID
	r.recoverRun(prev.RunID, runstate.RunInterrupted, reason, reason, "guardrun died during this stage")
}

// recoverUnended repairs what a predecessor that exited without recording
// its end left. The lock file names no such run when guardrun exited on its
// own, so the audit chain's last record (as Open found it) is what tells:
//
//   - it belongs to a run whose run.end is not in the chain, because
//     appending failed (disk full, the log replaced or truncated) or
//     guardrun died: a record still saying running becomes failed, and the
//     chain gets a sweep record with the run's status and the reason;
//   - it is a run's run.end but that run's record still says running,
//     because writing the record failed (disk full): the record gets the
//     status and error its run.end says, and the chain a sweep record.
//
// Only the head of the previous run's record is read (its status), so the
// check costs the same however many stages it lists.
func (r *Runner) recoverUnended(al *audit.Log) {
	last, ok := al.Last()
	if !ok || last.RunID == "" || last.RunID == r.runID || r.recovered == last.RunID {
		return
	}
	head := r.layout.ReadRunHead(last.RunID)
	if head.Err != nil {
		return
	}
	if last.Event == runstate.EvRunEnd {
		if head.Status != runstate.RunRunning {
			return // the normal case: the run ended and recorded it
		}
		end, err := runstate.DecodeData[runstate.RunEnd](last.Data)
		if err != nil || end.Status == "" {
			return
		}
		reason := fmt.Sprintf("its record could not be written when it ended (its run.end, seq %d, says %s: %s); recovered by run %s", last.Seq, end.Status, end.Error, r.runID)
		r.recoverRun(last.RunID, end.Status, end.Error, reason, "the run ended during this stage without recording it")
		return
	}
	why := fmt.Sprintf("its end is not in the audit chain, which stops at seq %d (%s): the state disk was full, the audit log could not be written, or guardrun died", last.Seq, last.Event)
	if head.Status != runstate.RunRunning {
		// The run recorded how it ended in its record but not in the
		// chain: the chain now says it.
		rs, err := r.layout.ReadRun(last.RunID)
		if err != nil {
			return
		}
		r.recovered = last.RunID
		r.events.record("", runstate.Sweep{RecoveredRun: last.RunID, RecoveredStatus: rs.Status, Reason: why + "; its record says: " + rs.Error})
		return
	}
	reason := "run ended without recording its end: " + why + "; recovered by run " + r.runID
	r.recoverRun(last.RunID, runstate.RunFailed, reason, reason, "the run ended during this stage without recording it")
}

// recoverRun rewrites the record of run id, left running, with status and
// error (its running stages, and their stage_<name>.json, interrupted with
// stageReason), after recording the recovery with reason in the audit
// chain, whose new head the rewritten record anchors.
func (r *Runner) recoverRun(id, status, errText, reason, stageReason string) {
	rs, err := r.layout.ReadRun(id)
	if err != nil || rs.Status != runstate.RunRunning {
		return
	}
	r.recovered = id
	end := r.now()
	rs.Status, rs.EndedAt, rs.Error = status, &end, errText
	for i := range rs.Stages {
		if rs.Stages[i].Status == runstate.StageRunning {
			rs.Stages[i].Status = runstate.StageInterrupted
		}
	}
	rs.Recount()
	r.events.record("", runstate.Sweep{RecoveredRun: id, RecoveredStatus: status, Reason: reason})
	if r.events.al != nil {
		seq, h := r.events.al.Head()
		rs.Audit = &runstate.AuditHead{Seq: seq, Hash: h}
	}
	if err := r.layout.WriteRun(rs); err != nil {
		r.log.Warn("recovering run "+id, logKeyErr, err)
	}
	for _, st := range r.p.Stages {
		ss, err := r.layout.ReadStage(st.Name)
		if err != nil || ss.Status != runstate.StageRunning || ss.RunID != id {
			continue
		}
		ss.Status, ss.EndedAt, ss.Error = runstate.StageInterrupted, &end, stageReason
		_ = r.layout.WriteStage(ss)
	}
}

// sweep removes the leftovers of crashes: temp files of atomic writes in
// the state dir and every output dir, and, after a crash, the sandbox's
// leftovers (cgroups, processes).
func (r *Runner) sweep(crashed bool) error {
	dirs := map[string]bool{r.p.StateDir: true, r.p.LocksDir: true, r.layout.AuditDir(): true}
	for _, st := range r.p.Stages {
		dirs[r.p.Abs(st.OutputDir)] = true
	}
	// Input lists of attempts a crash left behind.
	if err := os.RemoveAll(r.layout.InputsDir()); err != nil {
		return fmt.Errorf("sweeping %s: %w", r.layout.InputsDir(), err)
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
		// A batch's staging dir outlives only a crash.
		for i := range r.p.Stages {
			if st := &r.p.Stages[i]; st.BatchMaxItems > 0 {
				if err := r.sweepBatches(st); err != nil {
					return err
				}
			}
		}
		if sb, err := r.getSandbox(); err == nil {
			if err := sb.Sweep(); err != nil {
				r.log.Warn("sandbox sweep", logKeyErr, err)
			}
		}
	}
	if len(removed) > 0 {
		sort.Strings(removed)
		r.events.record("", runstate.Sweep{Removed: removed})
	}
	return nil
}

// stageLine is a stage's line in run_<id>.json.
func (r *Runner) stageLine(name string, res stageResult) runstate.RunStage {
	s := runstate.RunStage{Name: name, Status: res.status, Attempts: res.attemptCount(), Reasons: reasonStrings(res.reasons), Items: res.items}
	if res.err != nil {
		s.Error = res.err.Error()
	}
	if res.status != runstate.StageFailed {
		return s
	}
	// A failure says why: the last lines its processor wrote, and where
	// the rest is.
	if n := len(res.attempts); n > 0 {
		s.OutputTail = res.attempts[n-1].OutputTail
	}
	if res.items != nil {
		for _, fi := range res.items.FailedItems {
			if len(fi.OutputTail) > 0 {
				s.OutputTail = fi.OutputTail
				break
			}
		}
	}
	if len(s.OutputTail) > 0 || res.attemptCount() > 0 {
		s.Log = filepath.Join(r.layout.LogDir(), name+".log")
		if rel, ok := relInside(r.p.Workspace, s.Log); ok {
			s.Log = filepath.ToSlash(rel)
		}
	}
	return s
}

// summarize fills the run state from the stage results and returns the
// run's error.
func (r *Runner) summarize(ctx context.Context, rs *runstate.RunState, results []stageResult) error {
	var failed, blocked []string
	var vetErr error
	interrupted := ctx.Err() != nil
	lines := make([]runstate.RunStage, len(results))
	for i, res := range results {
		lines[i] = r.stageLine(r.p.Stages[i].Name, res)
		s := &lines[i]
		switch res.status {
		case runstate.StageFailed:
			failed = append(failed, s.Name)
			var ve *VetError
			if errors.As(res.err, &ve) && vetErr == nil {
				vetErr = ve.Err
			}
		case runstate.StageBlocked:
			blocked = append(blocked, s.Name)
		case runstate.StageInterrupted:
			interrupted = true
		}
	}
	rs.SetStages(lines)
	if aerr := r.events.failed(); aerr != nil {
		// The run was stopped because the audit chain could not be
		// written: that is why it ended, whatever its stages did.
		rs.Status = runstate.RunFailed
		rs.Error = aerr.Error()
		return aerr
	}
	switch {
	case interrupted:
		rs.Status = runstate.RunInterrupted
		rs.Error = "interrupted"
		return &InterruptedError{RunID: r.runID}
	case vetErr != nil:
		// A Go processor refused by netlint stops the run with the lint
		// verdict itself, as the preflight would have.
		rs.Status = runstate.RunFailed
		rs.Error = vetErr.Error()
		return vetErr
	case len(failed) > 0:
		rs.Status = runstate.RunFailed
		err := &StageFailedError{Failed: failed, Blocked: blocked}
		for _, res := range results {
			if res.status == runstate.StageFailed && res.err != nil {
				err.First = fmt.Sprintf("%s: %v", r.p.Stages[res.idx].Name, res.err)
				break
			}
		}
		rs.Error = err.Error()
		return err
	}
	rs.Status = runstate.RunSucceeded
	return nil
}

// DefaultMaxStagedFiles is Options.MaxStagedFiles when unset.
const DefaultMaxStagedFiles = 100_000

func (o *Options) maxStaged() int {
	switch {
	case o.MaxStagedFiles == 0:
		return DefaultMaxStagedFiles
	case o.MaxStagedFiles < 0:
		return 0
	}
	return o.MaxStagedFiles
}
