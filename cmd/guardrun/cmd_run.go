package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/guardrun/guardrun/audit"
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
	guards, err := preflight(ctx, p, preflightOptions{bestEffort: *bestEffort, policyDirs: policyDirs, strict: *strict, warnings: stderr})
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
	return slog.New(slog.NewJSONHandler(f, nil)), func() { _ = f.Close() }
}

// printer turns runner events into human lines on stderr.
type printer struct {
	w     io.Writer
	quiet bool
	start time.Time
}

func newPrinter(w io.Writer, quiet bool) *printer {
	return &printer{w: w, quiet: quiet, start: time.Now()}
}

func (p *printer) event(ev runner.Event) {
	if p.quiet && ev.Type != runner.EvStageEnd {
		return
	}
	switch ev.Type {
	case runner.EvLockWait:
		fmt.Fprintf(p.w, "waiting for the pipeline lock held by %s\n", ev.Detail)
	case runner.EvStageSkip:
		fmt.Fprintf(p.w, "%-20s skipped (up to date)\n", ev.Stage)
	case runner.EvStageResume:
		fmt.Fprintf(p.w, "%-20s resuming from checkpoint at %s\n", ev.Stage, ev.Detail)
	case runner.EvStageAttempt:
		if ev.Attempt == 1 {
			fmt.Fprintf(p.w, "%-20s running\n", ev.Stage)
		} else {
			fmt.Fprintf(p.w, "%-20s running (attempt %d)\n", ev.Stage, ev.Attempt)
		}
	case runner.EvStageRetry:
		fmt.Fprintf(p.w, "%-20s retrying in %s (attempt %d)\n", ev.Stage, ev.Delay, ev.Attempt)
	case runner.EvStageBlocked:
		fmt.Fprintf(p.w, "%-20s not run: upstream %s did not succeed\n", ev.Stage, ev.Detail)
	case runner.EvStageEnd:
		if p.quiet && ev.Err == nil {
			return
		}
		if ev.Err != nil {
			fmt.Fprintf(p.w, "%-20s %s: %v\n", ev.Stage, ev.Status, ev.Err)
		} else {
			fmt.Fprintf(p.w, "%-20s %s\n", ev.Stage, ev.Status)
		}
	case runner.EvRunEnd:
		fmt.Fprintf(p.w, "run %s %s in %s\n", ev.Detail, ev.Status, time.Since(p.start).Round(time.Millisecond))
	}
}
