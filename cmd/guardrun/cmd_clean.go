package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/guardrun/guardrun/audit"
	"github.com/guardrun/guardrun/internal/atomicfile"
	"github.com/guardrun/guardrun/internal/flock"
	"github.com/guardrun/guardrun/internal/runstate"
	"github.com/guardrun/guardrun/internal/safefs"
	"github.com/guardrun/guardrun/internal/toolenv"
	"github.com/guardrun/guardrun/pipeline"
	"github.com/guardrun/guardrun/runner"
)

// cleanOutput is the --json document of `guardrun clean`.
type cleanOutput struct {
	DryRun bool `json:"dryRun"`
	// Keep is how many runs keep their files.
	Keep int `json:"keep"`
	// RunsCompacted are the runs whose files were deleted; each left a
	// run.compacted summary in the audit chain.
	RunsCompacted []string `json:"runsCompacted"`
	// Removed is every file or directory deleted (or, with --dry-run, that
	// would be), relative to the spec's directory, with why.
	Removed []cleanItem `json:"removed"`
	Bytes   int64       `json:"bytes"`
}

type cleanItem struct {
	Path   string `json:"path"`
	Why    string `json:"why"`
	Bytes  int64  `json:"bytes"`
	Exists bool   `json:"-"`
}

// cleanError is a state clean refuses to touch (exit 2).
type cleanError struct{ msg string }

func (e *cleanError) Error() string { return e.msg }

// Code is a stable machine-readable name of the error.
func (e *cleanError) Code() string { return "clean_refused" }

func cmdClean(ctx context.Context, args []string, stdout, _ io.Writer) error {
	fs := newFlags("clean", stdout)
	var c commonFlags
	c.register(fs)
	keep := fs.Int("keep", -1, "runs whose files are kept (default: the spec's retention.runs, 50 unless set)")
	dryRun := fs.Bool("dry-run", false, "list what would be deleted; delete nothing")
	wait := fs.Bool("wait", false, "wait for the pipeline lock instead of exiting with code 4")
	logKeep := fs.Int64("log-keep-mib", 8, "MiB of guardrun.log kept (its last lines); 0: keep it whole")
	keepGoCache := fs.Bool("keep-go-cache", false, "keep the Go build cache under stateDir (it only speeds up rebuilding Go processors)")
	var kf auditKeyFlags
	kf.register(fs, "key file the audit chain is written with (needed to append to an HMAC chain)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *keep < -1 || *logKeep < 0 {
		return &usageError{msg: "--keep and --log-keep-mib must be >= 0"}
	}
	key, _, err := kf.load(fs)
	if err != nil {
		return err
	}
	p, err := loadSpec(c.pipeline)
	if err != nil {
		return err
	}
	if *keep < 0 {
		*keep = p.Retention.Runs
	}
	layout := runner.Layout(p)
	unlock, err := lockForClean(ctx, layout, *wait)
	if err != nil {
		return err
	}
	defer unlock()
	for _, ri := range layout.Runs() {
		if ri.Err == nil && ri.Status == runstate.RunRunning {
			return &cleanError{msg: fmt.Sprintf("run %s says running but holds no lock: it died; 'guardrun run' recovers it, then clean", ri.ID)}
		}
	}

	out := cleanOutput{DryRun: *dryRun, Keep: *keep, RunsCompacted: []string{}, Removed: []cleanItem{}}
	cl := &cleaner{p: p, layout: layout, dry: *dryRun, out: &out}

	// 1. Runs beyond --keep: their summaries go into the chain (durably)
	// before their files go, exactly as a run's retention does.
	retired := runner.RetiredRuns(p, *keep)
	if len(retired) > 0 && !*dryRun {
		if err := appendCompacted(layout, key, retired); err != nil {
			return err
		}
	}
	for _, r := range retired {
		out.RunsCompacted = append(out.RunsCompacted, r.RunID)
		for _, f := range layout.RunFiles(r.RunID) {
			cl.removeStateFile(f, "run "+r.RunID+" beyond --keep "+fmt.Sprint(*keep))
		}
	}

	// 2. What stages no longer in the spec left: outputs, marker, state,
	// journal, checkpoint, log, lock.
	if err := cl.goneStages(); err != nil {
		return err
	}

	// 3. Items of fan-out stages whose input is gone: what the next run
	// would delete (plan's "remove" items).
	if err := cl.goneItems(ctx); err != nil {
		return err
	}

	// 4. Go processors built from sources no current stage uses.
	if err := cl.staleBuilds(); err != nil {
		return err
	}
	if !*keepGoCache {
		cl.goBuildCache()
	}

	// 5. guardrun.log: its last --log-keep-mib MiB.
	if *logKeep > 0 {
		if err := cl.trimLog(*logKeep << 20); err != nil {
			return err
		}
	}

	if c.json {
		writeJSON(stdout, out)
		return nil
	}
	verb := "deleted"
	if *dryRun {
		verb = "would delete"
	}
	for _, it := range out.Removed {
		fmt.Fprintf(stdout, "%s %s (%s)\n", verb, it.Path, it.Why)
	}
	fmt.Fprintf(stdout, "clean: %s %d files and directories, %s; %d runs compacted into the audit chain, %d runs kept\n",
		verb, len(out.Removed), humanBytes(out.Bytes), len(out.RunsCompacted), len(layout.Runs())-len(retiredIfDry(out)))
	return nil
}

func retiredIfDry(out cleanOutput) []string {
	if out.DryRun {
		return out.RunsCompacted
	}
	return nil
}

// lockForClean takes the pipeline lock as a run does (exit 4 when held,
// or wait). A lock file still naming a run means that run died: the next
// run must recover it from what the file says, so clean leaves it alone.
func lockForClean(ctx context.Context, layout runstate.Layout, wait bool) (func(), error) {
	if err := os.MkdirAll(layout.LocksDir, 0o755); err != nil {
		return nil, err
	}
	path := layout.PipelineLock()
	l, holder, err := flock.TryAcquire(path, flock.Holder{})
	if errors.Is(err, flock.ErrLocked) {
		if !wait {
			return nil, &runner.LockedError{Path: path, Holder: holder}
		}
		l, err = flock.Acquire(ctx, path, flock.Holder{}, 100*time.Millisecond, nil)
		if err != nil && ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	if err != nil {
		return nil, err
	}
	if prev := flock.ReadHolder(path); prev.RunID != "" {
		_ = l.Release()
		return nil, &cleanError{msg: fmt.Sprintf("run %s died holding the pipeline lock; 'guardrun run' recovers it, then clean", prev.RunID)}
	}
	host, _ := os.Hostname()
	_ = l.SetHolder(flock.Holder{PID: os.Getpid(), Host: host, Since: time.Now().UTC(), What: "clean"})
	return func() { _ = l.Release() }, nil // Release empties the file
}

// appendCompacted appends a run.compacted summary per retired run to the
// audit chain and makes them durable.
func appendCompacted(layout runstate.Layout, key []byte, retired []runstate.RunCompacted) error {
	if err := os.MkdirAll(layout.StateDir, 0o755); err != nil {
		return err
	}
	al, err := audit.Open(layout.AuditLog(), key)
	if err != nil {
		return fmt.Errorf("opening the audit chain: %w", err)
	}
	defer al.Close()
	for _, r := range retired {
		if _, err := al.AppendNoSync(audit.Event{Type: runstate.EvRunCompacted, Data: r}); err != nil {
			return fmt.Errorf("recording run.compacted of run %s: %w", r.RunID, err)
		}
	}
	if err := al.Sync(); err != nil {
		return fmt.Errorf("writing the audit chain: %w", err)
	}
	return nil
}

type cleaner struct {
	p      *pipeline.Pipeline
	layout runstate.Layout
	dry    bool
	out    *cleanOutput
}

func (cl *cleaner) rel(path string) string {
	if r, err := filepath.Rel(cl.p.Workspace, path); err == nil && !strings.HasPrefix(r, "..") {
		return filepath.ToSlash(r)
	}
	return path
}

func (cl *cleaner) note(path, why string, n int64) {
	cl.out.Removed = append(cl.out.Removed, cleanItem{Path: cl.rel(path), Why: why, Bytes: n})
	cl.out.Bytes += n
}

// removeStateFile deletes a file of guardrun's own under stateDir or
// locksDir (never a symlink's target: os.Remove removes the link).
func (cl *cleaner) removeStateFile(path, why string) {
	fi, err := os.Lstat(path)
	if err != nil {
		return
	}
	cl.note(path, why, fi.Size())
	if !cl.dry {
		_ = runstate.RemoveIfExists(path)
	}
}

// removeTree deletes a directory of guardrun's own under stateDir.
func (cl *cleaner) removeTree(path, why string) {
	var n int64
	_ = filepath.WalkDir(path, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	cl.note(path, why, n)
	if !cl.dry {
		_ = os.RemoveAll(path)
	}
}

// goneStages deletes what stages no longer in the spec left behind. Their
// outputs are deleted beneath the workspace without following symlinks
// (safefs), and only the files their records name.
func (cl *cleaner) goneStages() error {
	inSpec := map[string]bool{}
	for _, st := range cl.p.Stages {
		inSpec[st.Name] = true
	}
	gone := map[string]bool{}
	collect := func(dir, prefix, suffix string) {
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			name, ok := strings.CutPrefix(e.Name(), prefix)
			if !ok {
				continue
			}
			if name, ok = strings.CutSuffix(name, suffix); ok && validStageName(name) && !inSpec[name] {
				gone[name] = true
			}
		}
	}
	collect(cl.layout.StateDir, "stage_", ".json")
	collect(cl.layout.StateDir, "items_", ".jsonl")
	collect(cl.layout.StateDir, "items_", ".sum")
	collect(cl.layout.StateDir, "progress_", ".json")
	collect(cl.layout.LogDir(), "", ".log")
	collect(cl.layout.LocksDir, "stage_", ".lock")
	names := make([]string, 0, len(gone))
	for n := range gone {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		why := "stage " + name + " is no longer in the spec"
		var outputs []string
		if ss, err := cl.layout.ReadStage(name); err == nil {
			for _, o := range ss.Outputs {
				outputs = append(outputs, o.Path)
			}
		}
		jpath := cl.layout.ItemJournal(name)
		if j, err := runstate.OpenJournal(jpath); err == nil {
			for _, rec := range j.Missing(nil) {
				for _, o := range rec.Outputs {
					outputs = append(outputs, o.Path)
				}
			}
			_ = j.Close()
		}
		if err := cl.removeOutputs(name, outputs, why); err != nil {
			return err
		}
		for _, f := range []string{cl.layout.StageFile(name), jpath, cl.layout.ItemSummary(name), cl.layout.ProgressFile(name), cl.layout.StageLog(name), cl.layout.StageLock(name)} {
			cl.removeStateFile(f, why)
		}
		// Its items' checkpoints and logs: <stage>.<item hash>.
		for _, pat := range []string{filepath.Join(cl.layout.StateDir, "progress_"+name+".*.json"), filepath.Join(cl.layout.LogDir(), name+".*.log")} {
			m, _ := filepath.Glob(pat)
			for _, f := range m {
				cl.removeStateFile(f, why)
			}
		}
	}
	return nil
}

// validStageName is the spec's rule for stage names,
// ^[a-z][a-z0-9_-]{0,63}$: a file name that is not one is not a stage's.
func validStageName(s string) bool {
	if s == "" || len(s) > 64 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// removeOutputs deletes the outputs a gone stage or item recorded and,
// for a stage, its marker (.<stage>.done in their directory or one above),
// beneath the workspace, no symlink followed.
func (cl *cleaner) removeOutputs(stage string, outputs []string, why string) error {
	if len(outputs) == 0 {
		return nil
	}
	ws, err := safefs.OpenDir(cl.p.Workspace)
	if err != nil {
		return err
	}
	defer ws.Close()
	seen := map[string]bool{}
	var files []string
	for _, o := range outputs {
		o = filepath.ToSlash(filepath.Clean(filepath.FromSlash(o)))
		if filepath.IsAbs(o) || o == "." || strings.HasPrefix(o, "../") || seen[o] {
			continue // recorded outputs are workspace-relative; anything else is not ours
		}
		seen[o] = true
		files = append(files, o)
		for d := filepath.ToSlash(filepath.Dir(o)); stage != "" && d != "." && d != "/"; d = filepath.ToSlash(filepath.Dir(d)) {
			m := d + "/." + stage + ".done"
			if !seen[m] {
				seen[m] = true
				files = append(files, m)
			}
		}
	}
	for _, f := range files {
		fi, err := ws.Stat(f)
		if err != nil || !fi.Mode().IsRegular() {
			continue // gone already, or not a regular file: never ours to delete
		}
		cl.note(filepath.Join(cl.p.Workspace, filepath.FromSlash(f)), why, fi.Size())
		if !cl.dry {
			if err := ws.Remove(f); err != nil {
				return fmt.Errorf("removing %s: %w", f, err)
			}
		}
	}
	return nil
}

// goneItems deletes the outputs of the items of fan-out stages whose input
// no longer exists — the items plan says a run would remove — and records
// them removed in the stage's item journal, as a run does.
func (cl *cleaner) goneItems(ctx context.Context) error {
	plans, err := runner.Plan(ctx, cl.p, runner.PlanOptions{})
	if err != nil {
		return err
	}
	for _, sp := range plans {
		if sp.Items == nil || sp.Items.Remove == 0 {
			continue
		}
		jn, err := runstate.OpenJournal(cl.layout.ItemJournal(sp.Name))
		if err != nil {
			return err
		}
		var removed []*runstate.ItemRecord
		for _, it := range sp.Items.Items {
			if it.Action != "remove" {
				continue
			}
			rec := jn.Get(it.Item)
			if rec == nil {
				continue
			}
			var outputs []string
			for _, o := range rec.Outputs {
				outputs = append(outputs, o.Path)
			}
			if err := cl.removeOutputs("", outputs, "item "+it.Item+" of stage "+sp.Name+" is gone (its input no longer exists)"); err != nil {
				_ = jn.Close()
				return err
			}
			removed = append(removed, &runstate.ItemRecord{Item: it.Item, Removed: true})
		}
		if !cl.dry && len(removed) > 0 {
			if err := jn.Append(removed...); err != nil {
				_ = jn.Close()
				return err
			}
			if err := jn.Sync(); err != nil {
				_ = jn.Close()
				return err
			}
		}
		if err := jn.Close(); err != nil {
			return err
		}
	}
	return nil
}

// staleBuilds deletes built Go processors (stateDir/bin/<hash>) whose
// source hash no Go processor of the spec has now.
func (cl *cleaner) staleBuilds() error {
	dir := filepath.Join(cl.layout.StateDir, "bin")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	hashes, err := runner.GoSourceHashes(cl.p)
	if err != nil {
		return err
	}
	current := map[string]bool{}
	for _, h := range hashes {
		current[filepath.Base(cl.layout.BinDir(h))] = true
	}
	for _, e := range ents {
		if !current[e.Name()] {
			cl.removeTree(filepath.Join(dir, e.Name()), "a build of Go processor source no stage uses now")
		}
	}
	return nil
}

// goBuildCache empties the go command's build cache when it lies under
// stateDir (guardrun builds Go processors with HOME under stateDir); a
// cache elsewhere (GOCACHE set by the user) is the user's, left alone.
func (cl *cleaner) goBuildCache() {
	// The cache the go command builds with is the one toolenv passes it,
	// resolved when guardrun started: no need to run `go env`.
	cache := toolenv.GoCache()
	rel, err := filepath.Rel(cl.layout.StateDir, cache)
	if cache == "" || err != nil || rel == "." || strings.HasPrefix(rel, "..") {
		return
	}
	if _, err := os.Lstat(cache); err != nil {
		return
	}
	cl.removeTree(cache, "the Go build cache under stateDir (--keep-go-cache keeps it)")
}

// trimLog keeps the last max bytes of guardrun.log, from a line start,
// written atomically.
func (cl *cleaner) trimLog(max int64) error {
	path := cl.layout.GuardrunLog()
	fi, err := os.Lstat(path)
	if err != nil || !fi.Mode().IsRegular() || fi.Size() <= max {
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	buf := make([]byte, max)
	n, err := f.ReadAt(buf, fi.Size()-max)
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	buf = buf[:n]
	if i := bytes.IndexByte(buf, '\n'); i >= 0 {
		buf = buf[i+1:]
	}
	cl.out.Removed = append(cl.out.Removed, cleanItem{Path: cl.rel(path) + " (head)", Why: fmt.Sprintf("guardrun.log keeps its last %s (--log-keep-mib)", humanBytes(max)), Bytes: fi.Size() - int64(len(buf))})
	cl.out.Bytes += fi.Size() - int64(len(buf))
	if cl.dry {
		return nil
	}
	return atomicfile.WriteFile(path, buf, 0o644)
}
