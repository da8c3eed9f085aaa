package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"time"

	"github.com/guardrun/guardrun/internal/atomicfile"
	"github.com/guardrun/guardrun/internal/runstate"
	"github.com/guardrun/guardrun/sandbox"
)

// attempt runs the processor once and classifies how it ended. It returns
// the outcome, what the sandbox measured, and the last checkpoint the
// attempt persisted (nil when it persisted none).
func (se *stageExec) attempt(ctx context.Context, a *runstate.Attempt) (string, sandbox.Result, *runstate.Progress) {
	r, st := se.r, se.st
	a.StartedAt = r.now()
	defer func() { a.EndedAt = r.now() }()
	setOutcome := func(o string, code int, msg string) string {
		a.Outcome, a.ExitCode, a.Error = o, code, msg
		return o
	}
	// The staging dir is opened once, beneath the workspace without
	// following symlinks: progress reports are checked and hashed in it.
	stg, err := se.openStaging(false)
	if err != nil {
		return setOutcome(runstate.OutcomeStartFailed, -1, fmt.Sprintf("opening staging dir: %v", err)), sandbox.Result{}, nil
	}
	pipeR, pipeW, err := os.Pipe()
	if err != nil {
		_ = stg.Close()
		return setOutcome(runstate.OutcomeStartFailed, -1, fmt.Sprintf("creating progress pipe: %v", err)), sandbox.Result{}, nil
	}
	defer pipeR.Close()
	actx, cancel := context.WithTimeout(ctx, time.Duration(st.TimeoutSeconds)*time.Second)
	defer cancel()
	p, logs, cleanup, err := se.start(actx, a, pipeW)
	defer cleanup()
	if err != nil {
		_ = stg.Close()
		return setOutcome(runstate.OutcomeStartFailed, -1, err.Error()), sandbox.Result{}, nil
	}
	cp := newCheckpointer(se, a, stg, cancel)
	readDone := make(chan struct{})
	go func() { cp.read(pipeR); close(readDone) }()
	res, werr := p.Wait()
	// Grandchildren holding fd 3 are dead once Wait returns (tree kill).
	_ = pipeR.SetReadDeadline(time.Now().Add(2 * time.Second))
	<-readDone
	logs.finish(2 * time.Second)
	cp.stop()
	saved := cp.saved
	a.EndLineOffset, a.EndByteOffset = cp.last.LineOffset, cp.last.ByteOffset
	timedOut := errors.Is(actx.Err(), context.DeadlineExceeded)
	failErr := cp.err
	if failErr == nil && cp.itemFailed != "" {
		failErr = errors.New(cp.itemFailed)
	}
	o := se.classify(ctx, a, res, werr, timedOut, failErr)
	if o != runstate.OutcomeSucceeded {
		a.OutputTail = logs.outputTail()
	}
	return o, res, saved
}

// start starts the processor for attempt a in the sandbox, its progress
// pipe's write end pipeW (closed here). The returned function removes the
// attempt's input and batch lists; call it once the processor has ended.
func (se *stageExec) start(actx context.Context, a *runstate.Attempt, pipeW *os.File) (sandbox.Process, *attemptLog, func(), error) {
	r, st := se.r, se.st
	var drops []func()
	cleanup := func() {
		for _, d := range drops {
			d()
		}
	}
	inputs := make([]string, len(se.files))
	for i, f := range se.files {
		inputs[i] = f.Abs
	}
	inputsJSON, _ := json.Marshal(inputs)
	var drop func()
	var err error
	if se.inputsFile, drop, err = se.writeInputsFile(string(inputsJSON)); err != nil {
		_ = pipeW.Close()
		return nil, nil, cleanup, err
	}
	drops = append(drops, drop)
	if se.batch != nil {
		if se.batchFile, drop, err = se.writeBatchFile(); err != nil {
			_ = pipeW.Close()
			return nil, nil, cleanup, err
		}
		drops = append(drops, drop)
	}
	logs := se.startLog()
	cmd := &sandbox.Cmd{
		ID:         fmt.Sprintf("%s-%s-%d", r.runID, se.job, a.Attempt),
		Path:       se.pr.Path,
		Args:       se.pr.Args,
		Env:        se.env(a, inputs, progressFD(pipeW)),
		Dir:        r.p.Workspace,
		Stdout:     logs.out(),
		Stderr:     logs.out(),
		ExtraFiles: []*os.File{pipeW},
		Limits: sandbox.Limits{CPUs: st.Resources.CPUs, MemoryBytes: st.Resources.MemoryMB << 20, Pids: st.Resources.Pids,
			ReadBps: st.Resources.IO.ReadBps, WriteBps: st.Resources.IO.WriteBps},
		Writable: []string{se.staging},
		Visible:  se.visible(inputs),
	}
	p, err := r.sandbox.Start(actx, cmd) // created by run() before any attempt
	_ = pipeW.Close()
	logs.started()
	if err != nil {
		logs.finish(0)
		msg := fmt.Sprintf("starting processor: %v", err)
		if errors.Is(err, sandbox.ErrUnenforceable) {
			msg += " (--best-effort runs anyway and records what was not enforced)"
		}
		return nil, nil, cleanup, errors.New(msg)
	}
	return p, logs, cleanup, nil
}

// classify records in a how the attempt's process ended and returns the
// outcome. timedOut says the attempt's deadline killed it; protoErr is a
// progress protocol error that ended it, or the "failed" report of an item
// run alone.
func (se *stageExec) classify(ctx context.Context, a *runstate.Attempt, res sandbox.Result, werr error, timedOut bool, protoErr error) string {
	st := se.st
	setOutcome := func(o string, code int, msg string) string {
		a.Outcome, a.ExitCode, a.Error = o, code, msg
		return o
	}
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
		return setOutcome(runstate.OutcomeFailed, res.ExitCode, werr.Error())
	case ctx.Err() != nil:
		return setOutcome(runstate.OutcomeInterrupted, res.ExitCode, "interrupted")
	case timedOut:
		return setOutcome(runstate.OutcomeTimeout, res.ExitCode, fmt.Sprintf("killed: timeout after %ds", st.TimeoutSeconds))
	case res.OOMKilled:
		return setOutcome(runstate.OutcomeOOMKill, res.ExitCode, fmt.Sprintf("killed: memory limit %d MiB exceeded", st.Resources.MemoryMB))
	case protoErr != nil:
		return setOutcome(runstate.OutcomeFailed, res.ExitCode, protoErr.Error())
	case res.Signal != "":
		return setOutcome(runstate.OutcomeFailed, res.ExitCode, "killed by signal: "+res.Signal)
	case res.ExitCode == 0:
		return setOutcome(runstate.OutcomeSucceeded, 0, "")
	}
	for _, c := range st.Retry.RetryableExitCodes {
		if c == res.ExitCode {
			return setOutcome(runstate.OutcomeTransient, res.ExitCode, fmt.Sprintf("exit code %d (transient)", res.ExitCode))
		}
	}
	return setOutcome(runstate.OutcomeFailed, res.ExitCode, fmt.Sprintf("exit code %d", res.ExitCode))
}

// visible lists what the processor must see outside its working dir:
// the program, the "#!" interpreters the kernel runs for it, absolute paths
// in its argv (scripts) and the inputs. The sandbox keeps those visible
// when they lie under the private /tmp.
func (se *stageExec) visible(inputs []string) []string {
	v := []string{se.pr.Path}
	for _, it := range se.pr.Interpreters {
		v = append(v, it.Path, it.Real)
	}
	for _, a := range se.pr.Args[1:] {
		if filepath.IsAbs(a) {
			v = append(v, a)
		}
	}
	if se.inputsFile != "" {
		v = append(v, se.inputsFile)
	}
	if se.batchFile != "" {
		v = append(v, se.batchFile)
	}
	if se.batchRun != nil {
		for _, pi := range se.batch {
			for _, f := range pi.files {
				v = append(v, f.Abs)
			}
		}
	}
	return append(v, inputs...)
}

// openLog opens where the processor's stdout and stderr go (through a
// pipe and a cap, logcap.go): stateDir/logs/<stage>.log, appended per
// attempt, opened beneath the workspace without following symlinks. The
// caller closes it when the attempt has ended.
func (se *stageExec) openLog() io.WriteCloser {
	if se.isItem {
		return &itemLog{se: se}
	}
	return se.openStageLog()
}

// itemLog holds an item's attempt output (capped at itemLogCap) and
// appends it to the stage log in one piece when the attempt ends, so the
// items running at the same time do not interleave their lines.
type itemLog struct {
	se  *stageExec
	buf []byte
}

// itemLogCap is the per-attempt log cap of an item's job (at most the
// stage's own).
const itemLogCap = 1 << 20

func (l *itemLog) Write(p []byte) (int, error) { l.buf = append(l.buf, p...); return len(p), nil }

func (l *itemLog) Close() error {
	if len(l.buf) == 0 {
		return nil
	}
	r := l.se.r
	r.itemLogMu.Lock()
	defer r.itemLogMu.Unlock()
	f := l.se.openStageLog()
	defer f.Close()
	if l.se.batchRun != nil {
		fmt.Fprintf(f, "--- batch %s: %d items, %s to %s\n", l.se.job, len(l.se.batch), l.se.batch[0].j.item, l.se.batch[len(l.se.batch)-1].j.item)
	} else {
		fmt.Fprintf(f, "--- item %s\n", l.se.item)
	}
	_, err := f.Write(l.buf)
	return err
}

func (se *stageExec) openStageLog() io.WriteCloser {
	l := se.r.layout
	dir, err := se.r.openBeneath(l.LogDir(), true)
	if err != nil {
		se.log.Warn("processor output not logged", logKeyErr, err)
		return nopCloser{io.Discard}
	}
	defer dir.Close()
	f, err := dir.OpenFile(se.st.Name+".log", os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		se.log.Warn("processor output not logged", logKeyErr, err)
		return nopCloser{io.Discard}
	}
	fmt.Fprintf(f, "--- run %s stage %s at %s\n", se.r.runID, se.st.Name, se.r.now().Format(time.RFC3339))
	return f
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// env is the processor's minimal environment (DESIGN §5).
func (se *stageExec) env(a *runstate.Attempt, inputs []string, progressFD string) []string {
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
		se.inputsVar(js(inputs)),
		"PIPELINE_OUTPUT_DIR="+se.staging,
		"PIPELINE_OUTPUTS="+js(outs),
		"PIPELINE_PARAMS="+params,
		"PIPELINE_LINE_OFFSET="+strconv.FormatInt(a.StartLineOffset, 10),
		"PIPELINE_BYTE_OFFSET="+strconv.FormatInt(a.StartByteOffset, 10),
		"PIPELINE_PROGRESS_FD="+progressFD,
		"PIPELINE_CHECKPOINT_LINES="+cpLines,
		"PIPELINE_CHECKPOINT_SECONDS="+cpSecs,
	)
	if se.isItem && se.batchRun == nil {
		env = append(env, "PIPELINE_ITEM="+se.item)
	}
	if se.batchFile != "" {
		env = append(env, "PIPELINE_BATCH_FILE="+se.batchFile)
	}
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

// maxInputsEnv is the longest PIPELINE_INPUTS guardrun puts in the
// environment: Linux refuses a single variable over 128 KiB (E2BIG), and
// thousands of inputs (a fan-in over a fan-out's outputs) pass it.
const maxInputsEnv = 64 << 10

// inputsVar is PIPELINE_INPUTS=<list>, or for a long list
// PIPELINE_INPUTS_FILE=<a file holding it> (inputsFile).
func (se *stageExec) inputsVar(list string) string {
	if len(list) <= maxInputsEnv || se.inputsFile == "" {
		return "PIPELINE_INPUTS=" + list
	}
	return "PIPELINE_INPUTS_FILE=" + se.inputsFile
}

// writeInputsFile writes a long input list into stateDir/inputs/<job>.json
// (readable by the processor: the state dir is visible read-only in its
// sandbox) and returns its path and a function removing it; a short list
// needs none.
func (se *stageExec) writeInputsFile(list string) (string, func(), error) {
	if len(list) <= maxInputsEnv {
		return "", func() {}, nil
	}
	l := se.r.layout
	d, err := se.r.openBeneath(l.InputsDir(), true)
	if err != nil {
		return "", nil, fmt.Errorf("writing the input list: %w", err)
	}
	_ = d.Close()
	path := l.InputsFile(se.job)
	if err := atomicfile.WriteFile(path, []byte(list), 0o644); err != nil {
		return "", nil, fmt.Errorf("writing the input list: %w", err)
	}
	return path, func() { _ = os.Remove(path) }, nil
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
