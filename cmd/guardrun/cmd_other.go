package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/guardrun/guardrun/audit"
	"github.com/guardrun/guardrun/internal/flock"
	"github.com/guardrun/guardrun/internal/runstate"
	"github.com/guardrun/guardrun/pipeline"
	"github.com/guardrun/guardrun/policy"
	"github.com/guardrun/guardrun/preflight"
	"github.com/guardrun/guardrun/report"
	"github.com/guardrun/guardrun/runner"
	"github.com/guardrun/guardrun/sandbox"
)

func cmdPlan(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("plan", stdout)
	var c commonFlags
	c.register(fs)
	var force multiFlag
	fs.Var(&force, "force", "plan as if this stage were forced (repeatable)")
	var pf preflightFlags
	pf.register(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	// The --json document: {pipeline, stages} as always, plus the exit code
	// and, when the plan is refused or incomplete, why.
	type planOutput struct {
		Pipeline   string             `json:"pipeline"`
		Stages     []runner.StagePlan `json:"stages"`
		ExitCode   int                `json:"exitCode"`
		Error      string             `json:"error,omitempty"`
		Violations []policy.Violation `json:"violations,omitempty"`
	}
	out := planOutput{Stages: []runner.StagePlan{}}
	fail := func(err error) error {
		if c.json {
			out.ExitCode, out.Error, out.Violations = exitCode(err), err.Error(), preflight.ViolationRecords(err)
			writeJSON(stdout, out)
		}
		return err
	}
	p, err := loadSpec(c.pipeline)
	if err != nil {
		return fail(err)
	}
	out.Pipeline = p.Name
	// The same preflight as run: a plan never promises what run refuses. It
	// reads cached verdicts but records none (planning writes nothing).
	if _, err := preflight.Run(ctx, p, pf.options(p, stderr, false)); err != nil {
		return fail(err)
	}
	plans, err := runner.Plan(ctx, p, runner.PlanOptions{Force: force})
	if err != nil {
		return fail(err)
	}
	var cannot []string
	for _, sp := range plans {
		if sp.Action == "error" {
			cannot = append(cannot, sp.Name)
		}
	}
	var planErr error
	if len(cannot) > 0 {
		planErr = &planError{stages: cannot}
	}
	if c.json {
		out.Stages = plans
		if planErr != nil {
			out.ExitCode, out.Error = exitCode(planErr), planErr.Error()
		}
		writeJSON(stdout, out)
		return planErr
	}
	for _, sp := range plans {
		switch sp.Action {
		case "skip":
			fmt.Fprintf(stdout, "%-20s skip   up to date\n", sp.Name)
		case "error":
			fmt.Fprintf(stdout, "%-20s error  %s\n", sp.Name, sp.Error)
		default:
			fmt.Fprintf(stdout, "%-20s run    %s\n", sp.Name, strings.Join(sp.Why, "; "))
		}
	}
	return planErr
}

func cmdCheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("check", stdout)
	var c commonFlags
	c.register(fs)
	var pf preflightFlags
	pf.register(fs)
	printInput := fs.Bool("policy-input", false, "print the policy's input document (JSON) for this spec and host, and judge nothing (for conftest: guardrun check --policy-input > input.json; conftest test --namespace guardrun.conftest --policy policy/ input.json, see docs/POLICY.md)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *printInput {
		p, err := loadSpec(c.pipeline)
		if err != nil {
			return err
		}
		b, err := policy.InputJSON(p, policy.DetectHost())
		if err != nil {
			return err
		}
		var buf bytes.Buffer
		if err := json.Indent(&buf, b, "", "  "); err != nil {
			return err
		}
		buf.WriteByte('\n')
		_, err = stdout.Write(buf.Bytes())
		return err
	}
	type checkOutput struct {
		OK          bool               `json:"ok"`
		ExitCode    int                `json:"exitCode"`
		Error       string             `json:"error,omitempty"`
		Pipeline    string             `json:"pipeline,omitempty"`
		Stages      int                `json:"stages,omitempty"`
		Violations  []policy.Violation `json:"violations"`
		Enforcement *sandbox.Report    `json:"enforcement,omitempty"`
	}
	out := checkOutput{Violations: []policy.Violation{}}
	fail := func(err error) error {
		if c.json {
			out.ExitCode, out.Error = exitCode(err), err.Error()
			if v := preflight.ViolationRecords(err); v != nil {
				out.Violations = v
			}
			writeJSON(stdout, out)
		}
		return err
	}
	p, err := loadSpec(c.pipeline)
	if err != nil {
		return fail(err)
	}
	out.Pipeline, out.Stages = p.Name, len(p.Stages)
	var warn io.Writer = stdout
	if c.json {
		warn = nil
	}
	g, err := preflight.Run(ctx, p, pf.options(p, warn, true))
	if err != nil {
		return fail(err)
	}
	if g.Policy != nil {
		out.Violations = append(out.Violations, g.Policy.Violations...)
	}
	// What this host can enforce, probed without starting anything.
	rep := sandbox.Probe()
	rep.BestEffort = pf.bestEffort
	out.OK, out.Enforcement = true, &rep
	if c.json {
		writeJSON(stdout, out)
		return nil
	}
	fmt.Fprintf(stdout, "spec      ok (%s, %d stages)\n", p.Name, len(p.Stages))
	fmt.Fprintf(stdout, "policy    ok (%d warnings)\n", len(g.Policy.Warnings()))
	fmt.Fprintf(stdout, "netlint   %s\n", g.Verdict.Netlint)
	printEnforcement(stdout, rep)
	return nil
}

func printEnforcement(w io.Writer, rep sandbox.Report) {
	fmt.Fprintf(w, "network   %s\nmemory    %s\ncpu       %s\npids      %s\nio        %s\ntree kill %s\n", rep.Network, rep.Memory, rep.CPU, rep.Pids, rep.IO, rep.Tree)
	fmt.Fprintf(w, "files     %s\nuser      %s\nlandlock  %s\nsyscalls  %s\n", rep.Filesystem, rep.User, rep.Landlock, rep.Syscalls)
	for _, n := range rep.Notes {
		fmt.Fprintf(w, "note      %s\n", n)
	}
}

func cmdStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("status", stdout)
	var c commonFlags
	c.register(fs)
	runID := fs.String("run-id", "", "run to show (default: the latest)")
	if err := parse(fs, args); err != nil {
		return err
	}
	p, err := loadSpec(c.pipeline)
	if err != nil {
		return err
	}
	layout := runner.Layout(p)
	id := *runID
	if id == "" {
		id = layout.LatestRun()
	} else if !validRunID(id) {
		return &usageError{msg: fmt.Sprintf("--run-id %q is not a valid run id", id)}
	}
	var rs *runstate.RunState
	if id != "" {
		rs, err = layout.ReadRun(id)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return &usageError{msg: fmt.Sprintf("no run %q in %s", id, p.StateDir)}
			}
			return err
		}
	}
	// While a run is going on, its run file is a snapshot of up to a
	// quarter of a second ago: each stage's own record says what it is
	// doing now.
	if rs != nil && rs.Status == runstate.RunRunning {
		for i := range rs.Stages {
			ss, err := layout.ReadStage(rs.Stages[i].Name)
			if err == nil && ss.RunID == rs.RunID {
				rs.Stages[i].Status, rs.Stages[i].Attempts, rs.Stages[i].Error = ss.Status, len(ss.Attempts), ss.Error
			}
		}
	}
	if rs != nil {
		rs.Recount() // with what the stages' own records say; older records have no counts
	}
	lockPath := layout.PipelineLock()
	var holder *flock.Holder
	if _, err := os.Stat(lockPath); err == nil {
		if l, h, err := flock.TryAcquire(lockPath, flock.Holder{}); err == nil {
			_ = l.Release()
		} else if errors.Is(err, flock.ErrLocked) {
			holder = &h
		}
	}
	progress := map[string]*runstate.Progress{}
	for _, st := range p.Stages {
		if pr, _ := layout.ReadProgress(st.Name); pr != nil {
			progress[st.Name] = pr
		}
	}
	if c.json {
		out := map[string]any{"pipeline": p.Name, "run": rs, "lockedBy": holder, "progress": progress}
		writeJSON(stdout, out)
		return nil
	}
	if holder != nil {
		fmt.Fprintf(stdout, "locked by %s\n", holder)
	}
	if rs == nil {
		fmt.Fprintln(stdout, "no runs yet")
		return nil
	}
	end := "-"
	if rs.EndedAt != nil {
		end = rs.EndedAt.Format("2006-01-02T15:04:05Z07:00")
	}
	fmt.Fprintf(stdout, "run %s: %s (started %s, ended %s): %s\n", rs.RunID, rs.Status, rs.StartedAt.Format("2006-01-02T15:04:05Z07:00"), end, rs.Counts)
	skips, folded := 0, 0
	endSkips := func() {
		if folded > 0 {
			fmt.Fprintf(stdout, "  ... %d more stages skipped (up to date; --json lists them)\n", folded)
		}
		skips, folded = 0, 0
	}
	for _, s := range inSpecOrder(p, rs.AllStages()) {
		if s.Status == runstate.StageSkipped {
			if skips++; skips > foldSkipsAfter {
				folded++
				continue
			}
		} else {
			endSkips()
		}
		line := fmt.Sprintf("  %-20s %-11s attempts=%d", s.Name, s.Status, s.Attempts)
		if s.Items != nil {
			line += " items: " + s.Items.Text()
		}
		if pr := progress[s.Name]; pr != nil {
			line += fmt.Sprintf(" checkpoint=line %d", pr.LineOffset)
		}
		if s.Error != "" {
			line += "  " + s.Error
		}
		fmt.Fprintln(stdout, line)
	}
	endSkips()
	return nil
}

// inSpecOrder orders a run's stage lines (a record lists the skipped stages
// apart, by name) as the spec lists the stages; stages the spec no longer
// has come last, in the record's order.
func inSpecOrder(p *pipeline.Pipeline, lines []runstate.RunStage) []runstate.RunStage {
	pos := make(map[string]int, len(p.Stages))
	for i, st := range p.Stages {
		pos[st.Name] = i
	}
	at := func(s runstate.RunStage) int {
		if i, ok := pos[s.Name]; ok {
			return i
		}
		return len(p.Stages)
	}
	out := append([]runstate.RunStage(nil), lines...)
	sort.SliceStable(out, func(i, j int) bool { return at(out[i]) < at(out[j]) })
	return out
}

func cmdVerify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("verify", stdout)
	var c commonFlags
	c.register(fs)
	var kf auditKeyFlags
	kf.register(fs, "key file the chain was written with")
	if err := parse(fs, args); err != nil {
		return err
	}
	key, _, err := kf.load(fs)
	if err != nil {
		return err
	}
	p, err := loadSpec(c.pipeline)
	if err != nil {
		return err
	}
	layout := runner.Layout(p)
	path := layout.AuditLog()
	if _, err := os.Stat(path); err != nil {
		return &usageError{msg: fmt.Sprintf("no audit log at %s", path)}
	}
	runs, err := runAnchors(layout)
	if err != nil {
		return err
	}
	// One pass over the log checks it against the head every run record
	// anchors: a log cut short, rewritten, or a planted run record is
	// caught whichever run record shows it.
	res, err := audit.VerifyWith(path, key, audit.VerifyOptions{Anchors: runs.anchors, Check: checkSideFiles(layout)})
	if err != nil {
		return err
	}
	if c.json {
		writeJSON(stdout, map[string]any{"ok": true, "records": res.Records, "headSeq": res.HeadSeq, "headHash": res.HeadHash,
			"runsChecked": len(runs.anchors), "runsUnchecked": nonNil(runs.unchecked), "runsRunning": nonNil(runs.running)})
		return nil
	}
	fmt.Fprintf(stdout, "audit chain ok: %d records, head seq %d hash %s; %s\n", res.Records, res.HeadSeq, short(res.HeadHash), runs.summary())
	for _, id := range runs.unchecked {
		fmt.Fprintf(stdout, "run %s: no audit head recorded (written by an older guardrun): cannot check it against the chain\n", id)
	}
	for _, id := range runs.running {
		fmt.Fprintf(stdout, "run %s: still says running: in progress, or it ended without recording its end (the next run recovers it)\n", id)
	}
	return nil
}

// verifyRuns are the run records of a state dir as verify checks them.
type verifyRuns struct {
	anchors   []audit.Anchor // one per record with an audit head
	unchecked []string       // records written before heads were anchored
	running   []string       // records that still say running
}

func (v verifyRuns) summary() string {
	if len(v.anchors) == 0 {
		return "no run record anchors a head"
	}
	return fmt.Sprintf("every run record's head is in it (%d checked)", len(v.anchors))
}

// runAnchors reads every run_<id>.json of the state dir (not only the one
// with the latest self-declared start time, which anyone who can write
// there can plant). A record that does not parse is an error naming it.
func runAnchors(layout runstate.Layout) (verifyRuns, error) {
	var v verifyRuns
	for _, ri := range layout.Runs() {
		file := filepath.Base(layout.RunFile(ri.ID))
		rs, err := layout.ReadRun(ri.ID)
		if err != nil {
			return v, fmt.Errorf("checking %s against the audit chain: %w", file, err)
		}
		if rs.Status == runstate.RunRunning {
			v.running = append(v.running, ri.ID)
		}
		if rs.Audit == nil {
			v.unchecked = append(v.unchecked, ri.ID)
			continue
		}
		v.anchors = append(v.anchors, audit.Anchor{Seq: rs.Audit.Seq, Hash: rs.Audit.Hash, Source: file})
	}
	return v, nil
}

// checkSideFiles checks what records store by digest outside the chain:
// the outputs of a stage.end too large for one record.
func checkSideFiles(layout runstate.Layout) func(*audit.Record) error {
	return func(r *audit.Record) error {
		if r.Event != runstate.EvStageEnd || r.Data["outputsSha256"] == nil {
			return nil
		}
		d, err := runstate.DecodeData[runstate.StageEnd](r.Data)
		if err != nil {
			return err
		}
		return layout.CheckOutputsFile(d)
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func short(h string) string {
	if len(h) > 16 {
		return h[:16]
	}
	return h
}

func cmdReport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("report", stdout)
	var c commonFlags
	c.register(fs)
	runID := fs.String("run-id", "", "run to report (default: the latest)")
	out := fs.String("out", "", "output file (default: <stateDir>/report_<id>.html)")
	if err := parse(fs, args); err != nil {
		return err
	}
	p, err := loadSpec(c.pipeline)
	if err != nil {
		return err
	}
	layout := runner.Layout(p)
	id := *runID
	if id == "" {
		if id = layout.LatestRun(); id == "" {
			return &usageError{msg: fmt.Sprintf("no runs in %s yet", p.StateDir)}
		}
	} else if !validRunID(id) {
		return &usageError{msg: fmt.Sprintf("--run-id %q is not a valid run id", id)}
	}
	path := *out
	if path == "" {
		path = layout.ReportFile(id)
	}
	if err := report.Write(p.StateDir, id, path); err != nil {
		return err
	}
	if c.json {
		writeJSON(stdout, map[string]any{"runId": id, "report": path})
		return nil
	}
	fmt.Fprintln(stdout, path)
	return nil
}
