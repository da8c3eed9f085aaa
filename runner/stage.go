package runner

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/guardrun/guardrun/internal/atomicfile"
	"github.com/guardrun/guardrun/internal/flock"
	"github.com/guardrun/guardrun/internal/hashcache"
	"github.com/guardrun/guardrun/pipeline"
	"github.com/guardrun/guardrun/sandbox"
)

// stageResult is what one stage's execution reports to the scheduler.
type stageResult struct {
	idx      int
	status   string
	err      error
	reasons  []Reason
	attempts []Attempt
	metrics  StageMetrics
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
	outDir  string
	staging string
	pr      *proc
	files   []inputFile
	parts   KeyParts
	key     string
	state   StageState
	hashers map[string]*hashcache.Incremental
	linesIn int64
	total   int64 // bytes of all inputs
	// keyReady is closed once parts.Inputs, key and total are set (or
	// keyErr): inputs may be hashed while the processor already runs.
	keyReady chan struct{}
	keyErr   error
	// startWrite delivers the result of the asynchronous "running" write.
	startWrite chan error
}

func (se *stageExec) waitKey() error {
	<-se.keyReady
	return se.keyErr
}

// saveState writes stage_<name>.json after the pending "running" record.
func (se *stageExec) saveState() error {
	if se.startWrite != nil {
		err := <-se.startWrite
		se.startWrite = nil
		if err != nil {
			return err
		}
	}
	return writeState(stageStatePath(se.r.p.StateDir, se.st.Name), &se.state)
}

// keyIfReady returns the key and input size when hashing has finished
// (without waiting); "" otherwise.
func (se *stageExec) keyIfReady() (string, int64) {
	select {
	case <-se.keyReady:
		if se.keyErr == nil {
			return se.key, se.total
		}
	default:
	}
	return "", 0
}

// execStage decides whether a stage is up to date and runs it when not.
func (r *Runner) execStage(ctx context.Context, idx int) (res stageResult) {
	st := &r.p.Stages[idx]
	start := time.Now()
	res.idx = idx
	defer func() { res.metrics.WallSeconds = time.Since(start).Seconds() }()

	se := &stageExec{r: r, st: st, outDir: r.p.Abs(st.OutputDir)}
	se.staging = stagingPath(se.outDir, st.Name)
	// fail ends a stage that failed before any attempt (processor, inputs,
	// params): the audit chain records it like any other stage end.
	fail := func(err error) stageResult {
		res.status, res.err = StageFailed, err
		r.emit(Event{Type: EvStageEnd, Stage: st.Name, Status: StageFailed, Err: err})
		r.audit(EvStageEnd, st.Name, map[string]any{"status": StageFailed, "attempts": 0, "error": err.Error()})
		return res
	}

	pr, err := r.procs.resolve(ctx, st)
	if err != nil {
		if ctx.Err() != nil {
			res.status = StageInterrupted
			return res
		}
		var coder interface{ Code() int }
		if errors.As(err, &coder) { // lint findings stop the run with their own code
			res.err = err
			res.status = StageFailed
			return res
		}
		return fail(fmt.Errorf("resolving processor: %w", err))
	}
	se.pr = pr
	if se.files, err = expandInputs(r.p, st); err != nil {
		return fail(err)
	}
	se.parts, err = baseParts(st, pr.Version)
	if err != nil {
		return fail(err)
	}

	forced := r.forced[st.Name]
	var marker *markerHead
	var rawMarker []byte
	if st.Idempotent {
		if marker, rawMarker, err = readMarkerHead(se.outDir, st.Name); err != nil {
			r.log.Warn("unreadable marker", "stage", st.Name, "err", err)
			res.reasons = append(res.reasons, Reason{Kind: ReasonMarkerBad, Detail: err.Error()})
			marker = nil
		}
	}
	progress, perr := ReadProgress(r.p.StateDir, st.Name)
	if perr != nil {
		r.log.Warn("unreadable checkpoint, starting over", "stage", st.Name, "err", perr)
		progress = nil
	}

	// The key is needed before running only to decide a skip or to validate a
	// checkpoint; otherwise inputs are hashed while the processor works.
	se.keyReady = make(chan struct{})
	hash := func() {
		defer close(se.keyReady)
		ids, total, err := hashInputs(r.cache, se.files)
		if err != nil {
			se.keyErr = err
			return
		}
		se.parts.Inputs, se.total = ids, total
		se.key = se.parts.Key()
	}
	if marker == nil && progress == nil {
		res.reasons = append(res.reasons, decide(r.p, st, nil, nil, nil, r.cache, forced)...)
		go hash()
	} else {
		hash()
		if se.keyErr != nil {
			return fail(se.keyErr)
		}
		res.reasons = append(res.reasons, decide(r.p, st, marker, rawMarker, &se.parts, r.cache, forced)...)
		if len(res.reasons) == 0 {
			res.status = StageSkipped
			res.metrics.BytesIn = se.total
			if marker.Metrics != nil {
				res.metrics.BytesOut, res.metrics.LinesIn, res.metrics.LinesOut = marker.Metrics.BytesOut, marker.Metrics.LinesIn, marker.Metrics.LinesOut
			}
			r.emit(Event{Type: EvStageSkip, Stage: st.Name, Status: StageSkipped})
			return res
		}
	}
	defer func() { _ = se.waitKey() }()

	lock, err := r.lockStage(ctx, st.Name)
	if err != nil {
		if ctx.Err() != nil {
			res.status = StageInterrupted
			return res
		}
		return fail(err)
	}
	defer lock.Release()

	status, attempts, runErr := se.run(ctx, progress, res.reasons, &res.metrics)
	if key, total := se.keyIfReady(); key != "" {
		res.metrics.BytesIn = total
	}
	res.status, res.attempts, res.err = status, attempts, runErr
	r.emit(Event{Type: EvStageEnd, Stage: st.Name, Status: status, Err: runErr, Attempts: len(attempts)})
	return res
}

func (r *Runner) lockStage(ctx context.Context, name string) (*flock.Lock, error) {
	path := filepath.Join(r.p.LocksDir, "stage_"+name+".lock")
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
	r.log.Info("stage lock busy, waiting", "stage", name, "holder", holder.String())
	return flock.Acquire(ctx, path, h, 50*time.Millisecond, nil)
}

// run executes the attempts of a stage that must run.
func (se *stageExec) run(ctx context.Context, progress *Progress, reasons []Reason, m *StageMetrics) (string, []Attempt, error) {
	r, st := se.r, se.st
	se.state = StageState{Name: st.Name, RunID: r.runID, Status: StageRunning, StartedAt: r.now(), Outputs: []OutputRecord{},
		Reasons: reasonStrings(reasons), Limits: &AppliedLimits{CPUs: st.Resources.CPUs, MemoryMB: st.Resources.MemoryMB, Pids: st.Resources.Pids, TimeoutSeconds: st.TimeoutSeconds}}
	if err := r.markRunning(); err != nil {
		return se.finish(StageFailed, err, m)
	}
	sb, err := r.getSandbox()
	if err != nil {
		if errors.Is(err, sandbox.ErrUnenforceable) {
			err = fmt.Errorf("%w (guardrun check shows what this host enforces; --best-effort runs anyway and records what was not enforced)", err)
		}
		return se.finish(StageFailed, fmt.Errorf("sandbox: %w", err), m)
	}
	rep := sb.Report()
	se.state.Enforcement = &rep
	// The "running" record is written while the stage gets ready and the
	// processor starts; every later write of the file waits for it
	// (saveState), so the records cannot overtake one another.
	se.startWrite = make(chan error, 1)
	snap := se.state
	go func() { se.startWrite <- writeState(stageStatePath(r.p.StateDir, st.Name), &snap) }()
	// An old marker must not outlive the outputs it describes.
	if err := removeIfExists(markerPath(se.outDir, st.Name)); err != nil {
		return se.finish(StageFailed, fmt.Errorf("removing old marker: %w", err), m)
	}
	r.audit(EvStageStart, st.Name, map[string]any{"reasons": se.state.Reasons, "processor": se.pr.Path, "version": se.pr.Version})
	if progress != nil && (se.waitKey() != nil || progress.IdempotencyKey != se.key || !st.Checkpoint.Enabled) {
		progress = nil // made for other inputs or settings: useless
	}
	se.hashers = map[string]*hashcache.Incremental{}

	for n := 1; n <= st.Retry.MaxAttempts; n++ {
		var delay time.Duration
		if n > 1 {
			delay = Backoff(st.Retry, r.runID, st.Name, n)
			r.emit(Event{Type: EvStageRetry, Stage: st.Name, Attempt: n, Delay: delay})
			r.audit(EvStageRetry, st.Name, map[string]any{"attempt": n, "delayMs": delay.Milliseconds()})
			select {
			case <-ctx.Done():
				return se.finish(StageInterrupted, nil, m)
			case <-time.After(delay):
			}
			// the checkpoint persisted by the previous attempt, if any
			if st.Checkpoint.Enabled {
				if p, _ := ReadProgress(r.p.StateDir, st.Name); p != nil && se.waitKey() == nil && p.IdempotencyKey == se.key {
					progress = p
				}
			}
		}
		startLine, startByte, err := se.prepareStaging(progress)
		if err != nil {
			return se.finish(StageFailed, err, m)
		}
		a := Attempt{Attempt: n, DelayMs: delay.Milliseconds(), StartLineOffset: startLine, StartByteOffset: startByte, EndLineOffset: startLine, EndByteOffset: startByte}
		if startByte > 0 {
			r.emit(Event{Type: EvStageResume, Stage: st.Name, Attempt: n, Detail: fmt.Sprintf("line %d, byte %d", startLine, startByte)})
			r.audit(EvStageResume, st.Name, map[string]any{"attempt": n, "lineOffset": startLine, "byteOffset": startByte})
		}
		r.emit(Event{Type: EvStageAttempt, Stage: st.Name, Attempt: n})
		outcome, res := se.attempt(ctx, &a)
		se.state.Attempts = append(se.state.Attempts, a)
		addUsage(m, res)
		if p, _ := ReadProgress(r.p.StateDir, st.Name); p != nil {
			progress = p
		}
		r.audit(EvStageAttempt, st.Name, map[string]any{"attempt": n, "outcome": a.Outcome, "exitCode": a.ExitCode, "error": a.Error})
		switch {
		case outcome == OutcomeSucceeded:
			if err := se.promote(m); err != nil {
				return se.finish(StageFailed, err, m)
			}
			return se.finish(StageSucceeded, nil, m)
		case outcome == OutcomeInterrupted:
			return se.finish(StageInterrupted, nil, m)
		case !retryable(st.Retry, outcome) || n == st.Retry.MaxAttempts:
			return se.finish(StageFailed, errors.New(a.Error), m)
		}
		if err := se.saveState(); err != nil {
			return se.finish(StageFailed, err, m)
		}
	}
	return se.finish(StageFailed, errors.New("no attempts"), m)
}

func retryable(r pipeline.Retry, outcome string) bool {
	switch outcome {
	case OutcomeTransient:
		return true
	case OutcomeTimeout:
		return r.RetryOnTimeout
	case OutcomeOOMKill:
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
func (se *stageExec) finish(status string, err error, m *StageMetrics) (string, []Attempt, error) {
	now := se.r.now()
	se.state.Status = status
	se.state.EndedAt = &now
	// A stage can end (timeout, interrupt, start failure) before its
	// inputs are hashed: the key is recorded only once it is known.
	key, _ := se.keyIfReady()
	se.state.IdempotencyKey = key
	if err != nil {
		se.state.Error = err.Error()
	}
	m.LinesIn = se.linesIn
	// The stage's record and the audit records of its attempts (stage.end
	// included) are made durable together.
	se.r.audit(EvStageEnd, se.st.Name, map[string]any{"status": status, "attempts": len(se.state.Attempts), "error": se.state.Error,
		"idempotencyKey": key, "outputs": outputsForAudit(se.state.Outputs)})
	synced := make(chan struct{})
	go func() { se.r.auditSync(); close(synced) }()
	if werr := se.saveState(); werr != nil && err == nil {
		err, status = werr, StageFailed
		se.r.audit(EvStageEnd, se.st.Name, map[string]any{"status": status, "error": "recording the stage state: " + werr.Error()})
	}
	<-synced
	return status, se.state.Attempts, err
}

// prepareStaging makes the staging dir match the checkpoint: staged outputs
// truncated to their checkpointed sizes, everything else empty. Without a
// usable checkpoint it starts clean. It returns the offsets to resume at.
func (se *stageExec) prepareStaging(p *Progress) (int64, int64, error) {
	if p != nil && se.resumable(p) {
		err := filepath.WalkDir(se.staging, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(se.staging, path)
			size := p.Outputs[filepath.ToSlash(rel)] // 0 when not checkpointed
			if err := os.Truncate(path, size); err != nil {
				return err
			}
			if h := se.hashers[filepath.ToSlash(rel)]; h != nil && h.Offset() > size {
				delete(se.hashers, filepath.ToSlash(rel))
			}
			return nil
		})
		if err == nil {
			se.linesIn = p.LineOffset
			return p.LineOffset, p.ByteOffset, nil
		}
		se.r.log.Warn("checkpoint unusable, starting over", "stage", se.st.Name, "err", err)
	}
	se.hashers = map[string]*hashcache.Incremental{}
	se.linesIn = 0
	if err := os.RemoveAll(se.staging); err != nil {
		return 0, 0, fmt.Errorf("clearing staging dir: %w", err)
	}
	if err := removeIfExists(progressPath(se.r.p.StateDir, se.st.Name)); err != nil {
		return 0, 0, err
	}
	if err := os.MkdirAll(se.staging, 0o755); err != nil {
		return 0, 0, fmt.Errorf("creating staging dir: %w", err)
	}
	for _, o := range se.st.Outputs {
		path := filepath.Join(se.staging, filepath.FromSlash(o))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return 0, 0, fmt.Errorf("creating output %s: %w", o, err)
		}
		f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
		if err != nil {
			return 0, 0, fmt.Errorf("creating output %s: %w", o, err)
		}
		_ = f.Close()
	}
	return 0, 0, nil
}

// resumable: every checkpointed output is still staged at least as large as
// checkpointed (a crash during promotion moves files away).
func (se *stageExec) resumable(p *Progress) bool {
	for name, size := range p.Outputs {
		fi, err := os.Stat(filepath.Join(se.staging, filepath.FromSlash(name)))
		if err != nil || fi.Size() < size {
			return false
		}
	}
	if _, err := os.Stat(se.staging); err != nil {
		return false
	}
	return true
}

// report is one progress line from a processor.
type report struct {
	LineOffset int64            `json:"lineOffset"`
	ByteOffset int64            `json:"byteOffset"`
	Outputs    map[string]int64 `json:"outputs"`
	TotalBytes int64            `json:"totalBytes"`
}

// attempt runs the processor once and classifies how it ended.
func (se *stageExec) attempt(ctx context.Context, a *Attempt) (string, sandbox.Result) {
	r, st := se.r, se.st
	a.StartedAt = r.now()
	defer func() { a.EndedAt = r.now() }()
	setOutcome := func(o string, code int, msg string) string {
		a.Outcome, a.ExitCode, a.Error = o, code, msg
		return o
	}
	inputs := make([]string, len(se.files))
	for i, f := range se.files {
		inputs[i] = f.Abs
	}
	pipeR, pipeW, err := os.Pipe()
	if err != nil {
		return setOutcome(OutcomeStartFailed, -1, fmt.Sprintf("creating progress pipe: %v", err)), sandbox.Result{}
	}
	defer pipeR.Close()
	actx, cancel := context.WithTimeout(ctx, time.Duration(st.TimeoutSeconds)*time.Second)
	defer cancel()
	logW := r.stageLog(st.Name)
	defer logW.Close()
	cmd := &sandbox.Cmd{
		ID:         fmt.Sprintf("%s-%s-%d", r.runID, st.Name, a.Attempt),
		Path:       se.pr.Path,
		Args:       se.pr.Args,
		Env:        se.env(a, inputs, progressFD(pipeW)),
		Dir:        r.p.Workspace,
		Stdout:     logW,
		Stderr:     logW,
		ExtraFiles: []*os.File{pipeW},
		Limits: sandbox.Limits{CPUs: st.Resources.CPUs, MemoryBytes: st.Resources.MemoryMB << 20, Pids: st.Resources.Pids,
			ReadBps: st.Resources.IO.ReadBps, WriteBps: st.Resources.IO.WriteBps},
	}
	p, err := r.sandbox.Start(actx, cmd) // created by run() before any attempt
	_ = pipeW.Close()
	if err != nil {
		msg := fmt.Sprintf("starting processor: %v", err)
		if errors.Is(err, sandbox.ErrUnenforceable) {
			msg += " (--best-effort runs anyway and records what was not enforced)"
		}
		return setOutcome(OutcomeStartFailed, -1, msg), sandbox.Result{}
	}
	cp := newCheckpointer(se, a)
	readDone := make(chan struct{})
	go func() { cp.read(pipeR); close(readDone) }()
	res, werr := p.Wait()
	// Grandchildren holding fd 3 are dead once Wait returns (tree kill).
	_ = pipeR.SetReadDeadline(time.Now().Add(2 * time.Second))
	<-readDone
	cp.stop()
	a.EndLineOffset, a.EndByteOffset = cp.last.LineOffset, cp.last.ByteOffset
	if res.CPUSeconds > 0 {
		v := res.CPUSeconds
		a.CPUSeconds = &v
	}
	if res.PeakMemoryBytes > 0 {
		v := res.PeakMemoryBytes
		a.PeakMemoryBytes = &v
	}
	a.Signal = res.Signal
	a.Notes = res.Notes
	switch {
	case werr != nil:
		return setOutcome(OutcomeFailed, res.ExitCode, werr.Error()), res
	case ctx.Err() != nil:
		return setOutcome(OutcomeInterrupted, res.ExitCode, "interrupted"), res
	case errors.Is(actx.Err(), context.DeadlineExceeded):
		return setOutcome(OutcomeTimeout, res.ExitCode, fmt.Sprintf("killed: timeout after %ds", st.TimeoutSeconds)), res
	case res.OOMKilled:
		return setOutcome(OutcomeOOMKill, res.ExitCode, fmt.Sprintf("killed: memory limit %d MiB exceeded", st.Resources.MemoryMB)), res
	case cp.err != nil:
		return setOutcome(OutcomeFailed, res.ExitCode, cp.err.Error()), res
	case res.Signal != "":
		return setOutcome(OutcomeFailed, res.ExitCode, "killed by signal: "+res.Signal), res
	case res.ExitCode == 0:
		return setOutcome(OutcomeSucceeded, 0, ""), res
	}
	for _, c := range st.Retry.RetryableExitCodes {
		if c == res.ExitCode {
			return setOutcome(OutcomeTransient, res.ExitCode, fmt.Sprintf("exit code %d (transient)", res.ExitCode)), res
		}
	}
	return setOutcome(OutcomeFailed, res.ExitCode, fmt.Sprintf("exit code %d", res.ExitCode)), res
}

// env is the processor's minimal environment (DESIGN §5).
func (se *stageExec) env(a *Attempt, inputs []string, progressFD string) []string {
	st := se.st
	var env []string
	keep := []string{"PATH", "HOME", "TMPDIR", "LANG"}
	if runtime.GOOS == "windows" {
		keep = append(keep, "SYSTEMROOT", "WINDIR", "TEMP", "TMP", "USERPROFILE", "PATHEXT", "COMSPEC")
	}
	for _, k := range keep {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	js := func(v any) string { b, _ := json.Marshal(v); return string(b) }
	outs := st.Outputs
	if outs == nil {
		outs = []string{}
	}
	params := string(st.Params)
	if params == "" {
		params = "{}"
	}
	cpLines, cpSecs := "0", "0"
	if st.Checkpoint.Enabled {
		cpLines = strconv.FormatInt(st.Checkpoint.EveryLines, 10)
		cpSecs = strconv.FormatFloat(st.Checkpoint.EverySeconds, 'g', -1, 64)
	}
	env = append(env,
		"PIPELINE_STAGE_NAME="+st.Name,
		"PIPELINE_RUN_ID="+se.r.runID,
		"PIPELINE_ATTEMPT="+strconv.Itoa(a.Attempt),
		"PIPELINE_INPUTS="+js(inputs),
		"PIPELINE_OUTPUT_DIR="+se.staging,
		"PIPELINE_OUTPUTS="+js(outs),
		"PIPELINE_PARAMS="+params,
		"PIPELINE_LINE_OFFSET="+strconv.FormatInt(a.StartLineOffset, 10),
		"PIPELINE_BYTE_OFFSET="+strconv.FormatInt(a.StartByteOffset, 10),
		"PIPELINE_PROGRESS_FD="+progressFD,
		"PIPELINE_CHECKPOINT_LINES="+cpLines,
		"PIPELINE_CHECKPOINT_SECONDS="+cpSecs,
	)
	keys := make([]string, 0, len(st.Env))
	for k := range st.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		env = append(env, k+"="+st.Env[k])
	}
	return env
}

// progressFD is how a processor finds the progress pipe: fd 3 on Unix
// (the first extra file), the inherited handle's value on Windows, where
// the sandbox passes it as an additional inherited handle.
func progressFD(w *os.File) string {
	if runtime.GOOS == "windows" {
		return strconv.FormatUint(uint64(w.Fd()), 10)
	}
	return "3"
}

// checkpointer turns progress reports into progress_<stage>.json and keeps
// the incremental output hashers moving behind them.
type checkpointer struct {
	se   *stageExec
	a    *Attempt
	last report
	err  error

	mu       sync.Mutex
	pending  map[string]int64
	notify   chan struct{}
	hashDone chan struct{}

	lastAudit     time.Time
	audited       int64 // byte offset of the last audited checkpoint
	lastSaved     int64 // byte offset of the last persisted checkpoint
	lastSavedLine int64
}

func newCheckpointer(se *stageExec, a *Attempt) *checkpointer {
	cp := &checkpointer{se: se, a: a, last: report{LineOffset: a.StartLineOffset, ByteOffset: a.StartByteOffset},
		notify: make(chan struct{}, 1), hashDone: make(chan struct{})}
	go cp.hashLoop()
	return cp
}

// minPersistInterval coalesces reports from a chatty processor.
const minPersistInterval = 20 * time.Millisecond

func (cp *checkpointer) read(rd io.Reader) {
	se := cp.se
	sc := bufio.NewScanner(rd)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var lastPersist time.Time
	var unsaved *report
	for sc.Scan() {
		line := sc.Bytes()
		if len(strings.TrimSpace(string(line))) == 0 {
			continue
		}
		var rep report
		if err := json.Unmarshal(line, &rep); err != nil {
			se.r.log.Warn("ignoring malformed progress report", "stage", se.st.Name, "err", err)
			continue
		}
		if err := cp.validate(&rep); err != nil {
			se.r.log.Warn("ignoring invalid progress report", "stage", se.st.Name, "err", err)
			continue
		}
		cp.last = rep
		se.linesIn = rep.LineOffset
		se.r.emit(Event{Type: EvProgress, Stage: se.st.Name, Lines: rep.LineOffset, Bytes: rep.ByteOffset, TotalBytes: rep.TotalBytes})
		if !se.st.Checkpoint.Enabled {
			continue
		}
		if time.Since(lastPersist) < minPersistInterval {
			r := rep
			unsaved = &r
			continue
		}
		cp.persist(&rep)
		unsaved = nil
		lastPersist = time.Now()
	}
	if unsaved != nil {
		cp.persist(unsaved)
	}
}

func (cp *checkpointer) validate(rep *report) error {
	if rep.LineOffset < cp.last.LineOffset || rep.ByteOffset < cp.last.ByteOffset {
		return fmt.Errorf("offsets went backwards (%d,%d after %d,%d)", rep.LineOffset, rep.ByteOffset, cp.last.LineOffset, cp.last.ByteOffset)
	}
	for name, size := range rep.Outputs {
		clean := filepath.ToSlash(filepath.Clean(filepath.FromSlash(name)))
		if clean != name || strings.HasPrefix(clean, "../") || filepath.IsAbs(name) || clean == ".." {
			return fmt.Errorf("output name %q is not a clean relative path", name)
		}
		fi, err := os.Stat(filepath.Join(cp.se.staging, filepath.FromSlash(name)))
		if err != nil {
			return fmt.Errorf("output %s: %w", name, unwrapPathErr(err))
		}
		if fi.Size() < size {
			return fmt.Errorf("output %s reported %d bytes but holds %d", name, size, fi.Size())
		}
	}
	return nil
}

func (cp *checkpointer) persist(rep *report) {
	se := cp.se
	// A checkpoint is only worth anything with its key; on a cold run the
	// inputs may still be hashing (rarely for long).
	if se.waitKey() != nil {
		return
	}
	outs := rep.Outputs
	if outs == nil {
		outs = map[string]int64{}
	}
	p := Progress{Stage: se.st.Name, RunID: se.r.runID, Attempt: cp.a.Attempt, IdempotencyKey: se.key,
		LineOffset: rep.LineOffset, ByteOffset: rep.ByteOffset, Outputs: outs, TotalBytes: rep.TotalBytes, UpdatedAt: se.r.now()}
	if err := writeState(progressPath(se.r.p.StateDir, se.st.Name), &p); err != nil {
		se.r.log.Warn("checkpoint not persisted", "stage", se.st.Name, "err", err)
		return
	}
	// The audit chain gets a checkpoint record at most every
	// auditCheckpointEvery per stage (and the last one of each attempt, in
	// stop): enough to reconstruct progress without flooding the log.
	if now := time.Now(); now.Sub(cp.lastAudit) >= auditCheckpointEvery {
		cp.lastAudit = now
		cp.audited = p.ByteOffset
		se.r.audit(EvStageCheckpoint, se.st.Name, map[string]any{"attempt": cp.a.Attempt, "lineOffset": p.LineOffset, "byteOffset": p.ByteOffset})
	}
	cp.lastSaved = p.ByteOffset
	cp.lastSavedLine = p.LineOffset
	cp.mu.Lock()
	cp.pending = outs
	cp.mu.Unlock()
	select {
	case cp.notify <- struct{}{}:
	default:
	}
}

// hashLoop hashes checkpointed output bytes while the processor runs.
func (cp *checkpointer) hashLoop() {
	defer close(cp.hashDone)
	for range cp.notify {
		cp.mu.Lock()
		outs := cp.pending
		cp.mu.Unlock()
		for name, size := range outs {
			h := cp.se.hashers[name]
			if h == nil {
				h = hashcache.NewIncremental(filepath.Join(cp.se.staging, filepath.FromSlash(name)))
				cp.se.hashers[name] = h
			}
			if err := h.Advance(size); err != nil {
				delete(cp.se.hashers, name)
			}
		}
	}
}

func (cp *checkpointer) stop() {
	close(cp.notify)
	<-cp.hashDone
	if cp.lastSaved > cp.audited {
		cp.se.r.audit(EvStageCheckpoint, cp.se.st.Name, map[string]any{"attempt": cp.a.Attempt, "lineOffset": cp.lastSavedLine, "byteOffset": cp.lastSaved})
	}
}

// auditCheckpointEvery throttles checkpoint records in the audit chain.
const auditCheckpointEvery = 5 * time.Second

// promote moves staged outputs into the output dir and writes the marker
// last: fsync each staged file, rename it over its target, fsync the dirs,
// then the marker (atomically), then clear the checkpoint and staging dir.
func (se *stageExec) promote(m *StageMetrics) error {
	r, st := se.r, se.st
	if err := se.waitKey(); err != nil {
		return err
	}
	var staged []string
	err := filepath.WalkDir(se.staging, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			rel, _ := filepath.Rel(se.staging, path)
			staged = append(staged, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("listing staged outputs: %w", err)
	}
	sort.Strings(staged)
	have := map[string]bool{}
	for _, s := range staged {
		have[s] = true
	}
	for _, o := range st.Outputs {
		if !have[o] {
			return fmt.Errorf("declared output %s was not produced", o)
		}
	}
	type result struct {
		rec   MarkerOutput
		lines int64
		err   error
	}
	results := make([]result, len(staged))
	var wg sync.WaitGroup
	for i, rel := range staged {
		wg.Add(1)
		go func(i int, rel string) {
			defer wg.Done()
			src := filepath.Join(se.staging, filepath.FromSlash(rel))
			f, err := os.OpenFile(src, os.O_RDWR, 0)
			if err != nil {
				results[i].err = err
				return
			}
			err = f.Sync()
			fi, serr := f.Stat()
			_ = f.Close()
			if err != nil || serr != nil {
				results[i].err = errors.Join(err, serr)
				return
			}
			h := se.hashers[rel]
			if h == nil {
				h = hashcache.NewIncremental(src)
			}
			sum, err := h.Finish(fi.Size())
			if err != nil {
				results[i].err = err
				return
			}
			results[i] = result{rec: MarkerOutput{OutputRecord: OutputRecord{Path: joinRel(st.OutputDir, rel), Size: fi.Size(), SHA256: sum}}, lines: h.Lines()}
		}(i, rel)
	}
	wg.Wait()
	dirs := map[string]bool{}
	var outs []MarkerOutput
	for i, rel := range staged {
		if results[i].err != nil {
			return fmt.Errorf("finishing output %s: %w", rel, results[i].err)
		}
		dst := filepath.Join(se.outDir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return fmt.Errorf("promoting %s: %w", rel, err)
		}
		if err := os.Rename(filepath.Join(se.staging, filepath.FromSlash(rel)), dst); err != nil {
			return fmt.Errorf("promoting %s: %w", rel, err)
		}
		dirs[filepath.Dir(dst)] = true
		rec := results[i].rec
		id, _, err := hashcache.Stat(dst)
		if err != nil {
			return fmt.Errorf("promoting %s: %w", rel, err)
		}
		rec.ID = id
		r.cache.Put(dst, id, rec.SHA256, r.now(), true)
		outs = append(outs, rec)
		m.BytesOut += rec.Size
		m.LinesOut += results[i].lines
	}
	for d := range dirs {
		if err := atomicfile.SyncDir(d); err != nil {
			return err
		}
	}
	if outs == nil {
		outs = []MarkerOutput{}
	}
	mk := Marker{Version: 1, Stage: st.Name, Key: se.key, Parts: se.parts, Outputs: outs, RunID: r.runID, CompletedAt: r.now(),
		Metrics: &MarkerCounters{BytesIn: se.total, BytesOut: m.BytesOut, LinesIn: se.linesIn, LinesOut: m.LinesOut}}
	if st.Idempotent {
		if err := writeState(markerPath(se.outDir, st.Name), &mk); err != nil {
			return fmt.Errorf("writing marker: %w", err)
		}
	}
	se.state.Outputs = make([]OutputRecord, len(outs))
	for i, o := range outs {
		se.state.Outputs[i] = o.OutputRecord
	}
	if err := removeIfExists(progressPath(r.p.StateDir, st.Name)); err != nil {
		return err
	}
	if err := os.RemoveAll(se.staging); err != nil {
		return fmt.Errorf("removing staging dir: %w", err)
	}
	return nil
}

func removeIfExists(path string) error {
	err := os.Remove(path)
	if err == nil || errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

func reasonStrings(rs []Reason) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.String()
	}
	return out
}

func outputsForAudit(outs []OutputRecord) []any {
	l := make([]any, len(outs))
	for i, o := range outs {
		l[i] = map[string]any{"path": o.Path, "size": o.Size, "sha256": o.SHA256}
	}
	return l
}
