package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"

	"github.com/guardrun/guardrun/internal/runstate"
	"github.com/guardrun/guardrun/pipeline"
	"github.com/guardrun/guardrun/policy"
	"github.com/guardrun/guardrun/preflight"
	"github.com/guardrun/guardrun/runner"
)

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
	Run        *runstate.RunState `json:"run,omitempty"`
	Metrics    any                `json:"metrics,omitempty"`
}

func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("run", stdout)
	var c commonFlags
	c.register(fs)
	runID := fs.String("run-id", "", "run id (default: time-based); refused when a recorded run has it, unless --replace-run")
	replaceRun := fs.Bool("replace-run", false, "let --run-id name a recorded run: its run record, metrics and report are replaced")
	jobs := fs.Int("jobs", 0, "max stages running at once (default: as the resource budget allows)")
	var force multiFlag
	fs.Var(&force, "force", "rerun this stage even if up to date (repeatable)")
	wait := fs.Bool("wait", false, "wait for the pipeline lock instead of exiting with code 4")
	quiet := fs.Bool("quiet", false, "print only errors and the one-line summary")
	silent := fs.Bool("silent", false, "print only errors (no summary line)")
	var verbose bool
	fs.BoolVar(&verbose, "verbose", false, "list every skipped stage (by default a long run of skips is folded into one line)")
	fs.BoolVar(&verbose, "v", false, "short for --verbose")
	logCap := fs.Int64("log-cap-mib", runner.DefaultLogCap>>20, "MiB of stdout and stderr one attempt keeps in stateDir/logs (first part and last MiB; 0: unlimited)")
	maxStaged := fs.Int("max-staged-files", runner.DefaultMaxStagedFiles, "the most files and directories one attempt may stage; 0: no limit")
	var pf preflightFlags
	pf.register(fs)
	var kf auditKeyFlags
	kf.register(fs, "key file: make the audit chain an HMAC chain")
	if err := parse(fs, args); err != nil {
		return err
	}
	*quiet = *quiet || *silent
	fail := func(err error) error {
		if c.json {
			writeJSON(stdout, runOutput{ExitCode: exitCode(err), Error: err.Error(), Violations: preflight.ViolationRecords(err)})
		}
		return err
	}
	if *runID != "" && !validRunID(*runID) {
		return fail(&usageError{msg: fmt.Sprintf("--run-id %q: use letters, digits, '.', '_' and '-' (at most 128)", *runID)})
	}
	if *jobs < 0 {
		return fail(&usageError{msg: "--jobs must be >= 0"})
	}
	key, keyPath, err := kf.load(fs)
	if err != nil {
		return fail(err)
	}
	p, err := loadSpec(c.pipeline)
	if err != nil {
		return fail(err)
	}
	var warnTo io.Writer = stderr
	if *quiet {
		warnTo = nil
	}
	layout := runner.Layout(p)
	guards, err := preflight.Run(ctx, p, pf.options(p, warnTo, false))
	if err != nil {
		return fail(err)
	}
	if err := guards.Save(); err != nil {
		return fail(fmt.Errorf("recording preflight verdict: %w", err))
	}
	logger, closeLog := openLog(layout)
	defer closeLog()
	pr := newPrinter(stderr, printMode{quiet: *quiet, silent: *silent, verbose: verbose, noLive: c.json || !isTerminal(stdout), stages: len(p.Stages)})
	opts := runner.Options{RunID: *runID, ReplaceRun: *replaceRun, Jobs: *jobs, Force: force, Wait: *wait, SandboxOptions: guards.Sandbox, Vet: guards.Vet, GoSources: guards.GoSources,
		OnEvent: pr.event, Logger: logger, BestEffort: pf.bestEffort, AuditKey: key, AuditKeyPath: keyPath, Preflight: &guards.Verdict}
	opts.MaxStagedFiles = *maxStaged
	if *maxStaged <= 0 {
		opts.MaxStagedFiles = -1
	}
	opts.LogCapBytes = *logCap << 20
	if *logCap <= 0 {
		opts.LogCapBytes = -1
	}
	res, err := runner.Run(ctx, p, opts)
	pr.close()
	if res != nil && res.State != nil && !*silent {
		printFailures(stderr, res.State)
	}
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
func openLog(l runstate.Layout) (*slog.Logger, func()) {
	if err := os.MkdirAll(l.StateDir, 0o755); err != nil {
		return slog.New(slog.DiscardHandler), func() {}
	}
	f, err := os.OpenFile(l.GuardrunLog(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return slog.New(slog.DiscardHandler), func() {}
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

// printFailures shows, for each failed stage, the last lines its
// processor wrote and where the whole output is.
func printFailures(w io.Writer, rs *runstate.RunState) {
	for _, s := range rs.Stages {
		if s.Status != runstate.StageFailed || (len(s.OutputTail) == 0 && s.Log == "") {
			continue
		}
		fmt.Fprintf(w, "%s failed", s.Name)
		if s.Items != nil && len(s.Items.FailedItems) > 0 {
			fmt.Fprintf(w, " (item %s)", s.Items.FailedItems[0].Item)
		}
		if len(s.OutputTail) > 0 {
			fmt.Fprintf(w, "; its last output lines:\n")
			for _, l := range s.OutputTail {
				fmt.Fprintf(w, "  | %s\n", l)
			}
		} else {
			fmt.Fprintf(w, "; it wrote no output\n")
		}
		if s.Log != "" {
			fmt.Fprintf(w, "  log: %s\n", s.Log)
		}
	}
}
