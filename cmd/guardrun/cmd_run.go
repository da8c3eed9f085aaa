package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"time"

	"github.com/guardrun/guardrun/audit"
	"github.com/guardrun/guardrun/internal/tty"
	"github.com/guardrun/guardrun/pipeline"
	"github.com/guardrun/guardrun/policy"
	"github.com/guardrun/guardrun/runner"
)

var runIDRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// commonFlags are shared by the commands that read a spec.
type commonFlags struct {
	pipeline string
	json     bool
}

func (c *commonFlags) register(fs interface {
	StringVar(*string, string, string, string)
	BoolVar(*bool, string, bool, string)
}) {
	fs.StringVar(&c.pipeline, "pipeline", "pipeline.json", "path of the pipeline spec")
	fs.BoolVar(&c.json, "json", false, "write machine-readable JSON to stdout")
}

func loadSpec(path string) (*pipeline.Pipeline, error) {
	return pipeline.Load(path, pipeline.LoadOptions{})
}

// runOutput is the --json document of `guardrun run` (a documented contract).
type runOutput struct {
	ExitCode   int                `json:"exitCode"`
	Error      string             `json:"error,omitempty"`
	Violations []policy.Violation `json:"violations,omitempty"`
	Run        *runner.RunState   `json:"run,omitempty"`
	Metrics    any                `json:"metrics,omitempty"`
}

func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("run", stderr)
	var c commonFlags
	c.register(fs)
	runID := fs.String("run-id", "", "run id (default: time-based)")
	jobs := fs.Int("jobs", 0, "max stages running at once (default: as the resource budget allows)")
	var force multiFlag
	fs.Var(&force, "force", "rerun this stage even if up to date (repeatable)")
	wait := fs.Bool("wait", false, "wait for the pipeline lock instead of exiting with code 4")
	bestEffort := fs.Bool("best-effort", false, "run even where this host cannot enforce isolation or limits (recorded)")
	quiet := fs.Bool("quiet", false, "print only errors")
	var policyDirs multiFlag
	fs.Var(&policyDirs, "policy", "directory of extra .rego policy modules (repeatable)")
	strict := fs.Bool("strict", false, "policy warnings fail the run")
	auditKey := fs.String("audit-key", os.Getenv("GUARDRUN_AUDIT_KEY_FILE"), "key file: make the audit chain an HMAC chain (env GUARDRUN_AUDIT_KEY_FILE)")
	if err := parse(fs, args); err != nil {
		return err
	}
	fail := func(err error) error {
		if c.json {
			writeJSON(stdout, runOutput{ExitCode: exitCode(err), Error: err.Error(), Violations: violationRecords(err)})
		}
		return err
	}
	if *runID != "" && !runIDRe.MatchString(*runID) {
		return fail(&usageError{msg: fmt.Sprintf("--run-id %q: use letters, digits, '.', '_' and '-' (at most 128)", *runID)})
	}
	if *jobs < 0 {
		return fail(&usageError{msg: "--jobs must be >= 0"})
	}
	var key []byte
	if *auditKey != "" {
		k, err := audit.LoadKey(*auditKey)
		if err != nil {
			return fail(err)
		}
		key = k
	}
	p, err := loadSpec(c.pipeline)
	if err != nil {
		return fail(err)
	}
	var warnTo io.Writer = stderr
	if *quiet {
		warnTo = nil
	}
	guards, err := preflight(ctx, p, preflightOptions{bestEffort: *bestEffort, policyDirs: policyDirs, strict: *strict, warnings: warnTo})
	if err != nil {
		return fail(err)
	}
	if err := guards.save(); err != nil {
		return fail(fmt.Errorf("recording preflight verdict: %w", err))
	}
	logger, closeLog := openLog(p.StateDir)
	defer closeLog()
	pr := newPrinter(stderr, *quiet)
	opts := runner.Options{RunID: *runID, Jobs: *jobs, Force: force, Wait: *wait, SandboxOptions: guards.sandbox, Vet: guards.vet,
		OnEvent: pr.event, Logger: logger, BestEffort: *bestEffort, AuditKey: key, Preflight: guards.verdict}
	res, err := runner.Run(ctx, p, opts)
	if c.json {
		out := runOutput{ExitCode: exitCode(err)}
		if err != nil {
			out.Error = err.Error()
		}
		if res != nil {
			out.Run, out.Metrics = res.State, res.Metrics
		}
		writeJSON(stdout, out)
	}
	return err
}

func writeJSON(w io.Writer, v any) {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// openLog opens stateDir/guardrun.log for JSON log lines (created only once
// the spec and policy passed).
func openLog(stateDir string) (*slog.Logger, func()) {
	if err := os.MkdirAll(stateDir, 0o755); err != nil {
		return slog.New(slog.NewTextHandler(io.Discard, nil)), func() {}
	}
	f, err := os.OpenFile(filepath.Join(stateDir, "guardrun.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return slog.New(slog.NewTextHandler(io.Discard, nil)), func() {}
	}
	// Buffered: the log is for people; the audit chain is the durable
	// record. A crash may lose the last few lines, never a state file.
	bw := &lockedWriter{w: bufio.NewWriterSize(f, 64<<10)}
	return slog.New(slog.NewJSONHandler(bw, nil)), func() { bw.flush(); _ = f.Close() }
}

// lockedWriter serialises writes to a buffered writer shared by goroutines.
type lockedWriter struct {
	mu sync.Mutex
	w  *bufio.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (l *lockedWriter) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	_ = l.w.Flush()
}

// printer turns runner events into human lines on stderr. On a terminal
// it keeps a live line per running stage (done/total, rate, ETA) below the
// permanent lines; elsewhere it prints a plain progress line per running
// stage at most every plainEvery.
type printer struct {
	w        io.Writer
	quiet    bool
	live     bool
	start    time.Time
	now      func() time.Time
	running  map[string]*stageProgress
	order    []string
	drawn    int // live lines currently on screen
	lastDraw time.Time
}

type stageProgress struct {
	since      time.Time
	startBytes int64
	lines      int64
	bytes      int64
	total      int64
	lastPlain  time.Time
}

const (
	plainEvery = 5 * time.Second
	drawEvery  = 100 * time.Millisecond
)

func newPrinter(w io.Writer, quiet bool) *printer {
	live := false
	if f, ok := w.(*os.File); ok && !quiet && os.Getenv("TERM") != "dumb" {
		live = tty.IsTerminal(f)
	}
	return &printer{w: w, quiet: quiet, live: live, start: time.Now(), now: time.Now, running: map[string]*stageProgress{}}
}

// line prints a permanent line (above the live block).
func (p *printer) line(format string, args ...any) {
	p.clear()
	fmt.Fprintf(p.w, format+"\n", args...)
	p.draw(true)
}

func (p *printer) event(ev runner.Event) {
	switch ev.Type {
	case runner.EvStageAttempt:
		sp := p.running[ev.Stage]
		if sp == nil {
			sp = &stageProgress{}
			p.running[ev.Stage] = sp
			p.order = append(p.order, ev.Stage)
		}
		sp.since, sp.startBytes, sp.lastPlain = p.now(), sp.bytes, p.now()
	case runner.EvProgress:
		if sp := p.running[ev.Stage]; sp != nil {
			sp.lines, sp.bytes, sp.total = ev.Lines, ev.Bytes, ev.TotalBytes
			if sp.startBytes > sp.bytes {
				sp.startBytes = 0
			}
		}
	case runner.EvStageEnd, runner.EvStageSkip:
		if _, ok := p.running[ev.Stage]; ok {
			delete(p.running, ev.Stage)
			for i, n := range p.order {
				if n == ev.Stage {
					p.order = append(p.order[:i], p.order[i+1:]...)
					break
				}
			}
		}
	}
	if p.quiet {
		if ev.Type == runner.EvStageEnd && ev.Err != nil {
			fmt.Fprintf(p.w, "%-20s %s: %v\n", ev.Stage, ev.Status, ev.Err)
		}
		return
	}
	switch ev.Type {
	case runner.EvLockWait:
		p.line("waiting for the pipeline lock held by %s", ev.Detail)
	case runner.EvStageSkip:
		p.line("%-20s skipped (up to date)", ev.Stage)
	case runner.EvStageResume:
		p.line("%-20s resuming from checkpoint at %s", ev.Stage, ev.Detail)
	case runner.EvStageAttempt:
		if ev.Attempt == 1 {
			p.line("%-20s running", ev.Stage)
		} else {
			p.line("%-20s running (attempt %d)", ev.Stage, ev.Attempt)
		}
	case runner.EvStageRetry:
		p.line("%-20s retrying in %s (attempt %d)", ev.Stage, ev.Delay, ev.Attempt)
	case runner.EvStageBlocked:
		p.line("%-20s not run: upstream %s did not succeed", ev.Stage, ev.Detail)
	case runner.EvStageEnd:
		if ev.Err != nil {
			p.line("%-20s %s: %v", ev.Stage, ev.Status, ev.Err)
		} else {
			p.line("%-20s %s", ev.Stage, ev.Status)
		}
	case runner.EvProgress:
		if p.live {
			p.draw(false)
			return
		}
		if sp := p.running[ev.Stage]; sp != nil && p.now().Sub(sp.lastPlain) >= plainEvery {
			sp.lastPlain = p.now()
			fmt.Fprintf(p.w, "%-20s %s\n", ev.Stage, sp.describe(p.now()))
		}
	case runner.EvRunEnd:
		p.clear()
		fmt.Fprintf(p.w, "run %s %s in %s\n", ev.Detail, ev.Status, time.Since(p.start).Round(time.Millisecond))
	}
}

// clear erases the live block.
func (p *printer) clear() {
	if !p.live || p.drawn == 0 {
		return
	}
	fmt.Fprintf(p.w, "\x1b[%dA\x1b[J", p.drawn)
	p.drawn = 0
}

// draw redraws the live block (throttled unless force).
func (p *printer) draw(force bool) {
	if !p.live {
		return
	}
	now := p.now()
	if !force && now.Sub(p.lastDraw) < drawEvery {
		return
	}
	p.clear()
	p.lastDraw = now
	for _, name := range p.order {
		fmt.Fprintf(p.w, "  > %-18s %s\n", name, p.running[name].describe(now))
		p.drawn++
	}
}

// describe renders done/total, rate and ETA.
func (sp *stageProgress) describe(now time.Time) string {
	el := now.Sub(sp.since).Seconds()
	if sp.bytes == 0 && sp.lines == 0 {
		return fmt.Sprintf("started %s ago", time.Duration(el*float64(time.Second)).Round(time.Second))
	}
	s := fmt.Sprintf("%s lines, %s", humanCount(sp.lines), humanBytes(sp.bytes))
	if sp.total > 0 {
		s = fmt.Sprintf("%3.0f%%  %s / %s, %s lines", 100*float64(sp.bytes)/float64(sp.total), humanBytes(sp.bytes), humanBytes(sp.total), humanCount(sp.lines))
	}
	if el > 0.2 && sp.bytes > sp.startBytes {
		rate := float64(sp.bytes-sp.startBytes) / el
		s += fmt.Sprintf("  %s/s", humanBytes(int64(rate)))
		if sp.total > sp.bytes && rate > 0 {
			eta := time.Duration(float64(sp.total-sp.bytes) / rate * float64(time.Second))
			s += fmt.Sprintf("  ETA %s", eta.Round(time.Second))
		}
	}
	return s
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}

func humanCount(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.1fG", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.1fM", float64(n)/1e6)
	case n >= 1e4:
		return fmt.Sprintf("%.1fk", float64(n)/1e3)
	}
	return fmt.Sprint(n)
}
