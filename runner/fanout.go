package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/guardrun/guardrun/internal/flock"
	"github.com/guardrun/guardrun/internal/hashcache"
	"github.com/guardrun/guardrun/internal/runstate"
	"github.com/guardrun/guardrun/pipeline"
	"github.com/guardrun/guardrun/sandbox"
)

// This file runs fan-out stages (docs/SPEC.md, "Fan-out"). A chain — a
// fan-out stage and the stages chained to it through foreach.stage — runs
// as one unit of the scheduler: its items are listed once, each stage's
// templates expanded per item, the outputs of items no longer listed
// removed, and then workers take items one at a time and carry each
// through every stage of the chain (no barrier between the stages). Each
// item's job decides on its own whether it is up to date (its key against
// the stage's item journal), runs its attempts like a plain stage's
// (attempt.go, checkpoint.go, promote.go), and is committed by a line in
// the journal once its outputs are durable.

// fanStage is one stage of a chain in this run.
type fanStage struct {
	idx    int
	st     *pipeline.Stage
	parent int // position of the upstream stage in the chain; -1 at the root
	outDir string
	log    *slog.Logger
	pr     *proc
	base   *baseKey
	jn     *runstate.Journal
	// summary is the item summary (itemsum.go) being read under the
	// stage's lock, from beginFan until prepareFan takes it: nil when it
	// cannot decide for this run, and the journal is then being read
	// (opening) too.
	summary chan *runstate.Summary
	// opening is the journal being read, until prepareFan takes it
	// (execChain's cleanup, if not).
	opening chan openedJournal
	fast    *fastPass // what the summary settled; nil: nothing
	// noop is set when the summary settled every item: the stage has no
	// journal open and no jobs expanded (jobsOf expands them).
	noop   bool
	jobs   []*job // by item position
	lock   *flock.Lock
	forced bool
	// entries are the summary entries of items up to date (by position;
	// "" for none) and outcome their outcome in this run, for the summary
	// written when the stage ends (nil: none is written).
	entries []string
	outcome []int8

	// err is why the stage could not start: each of its items then counts
	// as failed with it, and the same items downstream as blocked.
	err     error
	blocked bool // an upstream did not succeed
	// blockedBy names the upstream in the chain that blocked it ("" when
	// the scheduler blocked it, and recorded so).
	blockedBy string

	mu        sync.Mutex
	counts    runstate.ItemCounts
	metrics   StageMetrics
	outs      []runstate.OutputRecord
	reasons   []string // the first reasons items ran for
	started   bool
	startedAt time.Time
	attempts  int // over all its items
	retries   int
}

// maxItemReasons is how many item reasons a stage's records keep.
const maxItemReasons = 10

// item outcomes, per stage and item
const (
	itemPending int8 = iota
	itemOK           // succeeded or skipped: its chain may continue
	itemFailed
	itemBlocked
	itemInterrupted
)

// execChain runs the fan-out chain of stages members (in chain order, root
// first) with up to workers jobs at a time. blocked[k] is set when an
// upstream of members[k] outside the chain did not succeed.
func (r *Runner) execChain(ctx context.Context, members []int, blocked []bool, workers int) []stageResult {
	start := time.Now()
	fs := make([]*fanStage, len(members))
	pos := map[string]int{}
	for k, i := range members {
		st := &r.p.Stages[i]
		f := &fanStage{idx: i, st: st, parent: -1, outDir: r.p.Abs(st.OutputDir), blocked: blocked[k], forced: r.forced[st.Name], log: r.log.With(logKeyStage, st.Name)}
		if st.Foreach.Stage != "" {
			if p, ok := pos[st.Foreach.Stage]; ok {
				f.parent = p
			}
		}
		pos[st.Name] = k
		fs[k] = f
	}
	defer func() {
		for _, f := range fs {
			if f.summary != nil { // begun, never prepared
				f.takeSummary()
			}
			if f.opening != nil {
				if o := f.takeJournal(); o.jn != nil {
					_ = o.jn.Close()
				}
			}
			if f.lock != nil {
				f.lock.Release()
			}
		}
	}()

	// The root's summary (or journal) is read while its items are listed.
	if f := fs[0]; !f.blocked {
		f.err = r.beginFan(ctx, f)
	}
	items, err := listItems(r.p, fs[0].st)
	if err != nil && fs[0].err == nil {
		fs[0].err = err
	}
	for _, f := range fs {
		f.counts.Total = len(items)
		if f.err == nil && !f.blocked && (f.parent < 0 || fs[f.parent].ready()) {
			f.err = r.prepareFan(ctx, f, items, fs)
		} else if f.parent >= 0 && !fs[f.parent].ready() && !f.blocked {
			f.blocked, f.blockedBy = true, fs[f.parent].st.Name
		}
	}
	// Outputs of items no longer listed go first: a fan-in must not read
	// them, even if an item fails below. (A stage its summary settled has
	// none: its journal holds exactly the items listed.)
	var keep map[string]bool
	noop := true
	for _, f := range fs {
		if f.ready() && !f.noop {
			if keep == nil {
				keep = make(map[string]bool, len(items))
				for _, it := range items {
					keep[it.id] = true
				}
			}
			if err := r.removeGone(f, keep); err != nil {
				f.err = err
			}
		}
		noop = noop && f.ready() && f.noop
	}

	if ctx.Err() == nil && len(items) > 0 && !noop {
		r.runItems(ctx, fs, items, workers)
	}
	results := make([]stageResult, len(fs))
	for k, f := range fs {
		results[k] = r.endFan(ctx, f, items, fs, start)
	}
	return results
}

// ready reports whether the stage's items can run.
func (f *fanStage) ready() bool { return f.err == nil && !f.blocked && (f.jn != nil || f.noop) }

// openedJournal is the result of reading a stage's item journal.
type openedJournal struct {
	jn  *runstate.Journal
	err error
}

// beginFan resolves the stage's processor and key base, takes its lock
// and starts reading its item summary and, when that cannot decide, its
// journal, which prepareFan takes: at 10,000 items reading the journal
// is a few tens of milliseconds, done while the items are listed
// (execChain, for the root of a chain) and the jobs expanded
// (prepareFan).
func (r *Runner) beginFan(ctx context.Context, f *fanStage) error {
	st := f.st
	pr, err := r.procs.resolve(ctx, st)
	if err != nil {
		var ve *VetError
		if errors.As(err, &ve) {
			return err
		}
		return fmt.Errorf("resolving processor: %w", err)
	}
	f.pr = pr
	code, err := r.procs.code(st, pr)
	if err != nil {
		return err
	}
	parts, err := baseParts(st, pr.Version, code)
	if err != nil {
		return err
	}
	if f.base, err = newBaseKey(parts); err != nil {
		return err
	}
	if err := r.checkStateDir(); err != nil {
		return err
	}
	se := &stageExec{r: r, st: st, log: f.log, outDir: f.outDir}
	if f.lock, err = r.lockStage(ctx, se); err != nil {
		return err
	}
	f.summary, f.opening = make(chan *runstate.Summary, 1), make(chan openedJournal, 1)
	go func(sc chan<- *runstate.Summary, jc chan<- openedJournal) {
		s := loadSummary(r.layout, r.p, st, f.base.hash, f.forced)
		sc <- s
		if s == nil {
			jn, err := openJournal(r.layout, st.Name)
			jc <- openedJournal{jn, err}
		}
	}(f.summary, f.opening)
	return nil
}

// takeSummary waits for the summary beginFan started reading; when there
// is none, the journal is being read.
func (f *fanStage) takeSummary() *runstate.Summary {
	s := <-f.summary
	f.summary = nil
	if s != nil {
		f.opening = nil // not being read
	}
	return s
}

// journalOpens counts the item journals runs and plans have opened
// (tests read it: a no-op settled by summaries opens none).
var journalOpens atomic.Int64

func openJournal(l runstate.Layout, stage string) (*runstate.Journal, error) {
	journalOpens.Add(1)
	return runstate.OpenJournal(l.ItemJournal(stage))
}

// takeJournal waits for the journal beginFan started reading.
func (f *fanStage) takeJournal() openedJournal {
	o := <-f.opening
	f.opening = nil
	return o
}

// prepareFan settles what it can of the stage's items from its summary
// (beginFan, called here unless execChain did); unless that was all of
// them, it expands the stage's jobs and checks them, then takes its
// journal and its output dir.
func (r *Runner) prepareFan(ctx context.Context, f *fanStage, items []item, fs []*fanStage) error {
	st := f.st
	if f.summary == nil {
		if err := r.beginFan(ctx, f); err != nil {
			return err
		}
	}
	if s := f.takeSummary(); s != nil {
		var parentOK []bool
		if f.parent >= 0 && fs[f.parent].fast != nil {
			parentOK = fs[f.parent].fast.ok
		}
		f.fast = fastItems(r.p, s, items, f.parent >= 0, parentOK, &r.verified, &r.stat)
		if f.fast.noop {
			f.noop = true
			f.skipFast()
			return nil
		}
		f.opening = make(chan openedJournal, 1)
		go func(c chan<- openedJournal) {
			jn, err := openJournal(r.layout, st.Name)
			c <- openedJournal{jn, err}
		}(f.opening)
	}
	var err error
	var up []*job
	if f.parent >= 0 {
		up, err = jobsOf(fs, f.parent, items)
	}
	if err == nil {
		f.jobs, err = expandJobs(st, items, up)
	}
	if err == nil {
		err = checkCollisions(st, f.jobs)
	}
	o := f.takeJournal()
	if err == nil {
		err = o.err
	}
	if err != nil {
		if o.jn != nil {
			_ = o.jn.Close()
		}
		return err
	}
	jn := o.jn
	se := &stageExec{r: r, st: st, outDir: f.outDir}
	od, err := se.openOutDir(true)
	if err != nil {
		_ = jn.Close()
		return err
	}
	_ = od.Close()
	if !jn.HasBase(f.base.hash) {
		if err := jn.Append(&runstate.ItemRecord{Base: f.base.hash, Parts: f.base.enc}); err != nil {
			_ = jn.Close()
			return err
		}
	}
	f.jn = jn
	if st.Idempotent {
		f.entries = make([]string, len(items))
	}
	if f.fast != nil {
		for n, ok := range f.fast.ok {
			if ok && f.entries != nil {
				f.entries[n] = f.fast.sum.Raw(int(f.fast.pos[n]))
			}
		}
		f.skipFast()
	}
	return nil
}

// skipFast counts the items the summary settled as skipped, with the
// metrics their last run recorded.
func (f *fanStage) skipFast() {
	f.mu.Lock()
	f.counts.Skipped += f.fast.n
	mergeMetrics(&f.metrics, &f.fast.metrics)
	f.metrics.BytesIn += f.fast.metrics.BytesIn
	f.mu.Unlock()
}

// jobsOf returns the jobs of stage fs[k], expanding them (and its
// upstream's) now if the stage was settled without them.
func jobsOf(fs []*fanStage, k int, items []item) ([]*job, error) {
	f := fs[k]
	if f.jobs != nil || len(items) == 0 {
		return f.jobs, nil
	}
	var up []*job
	if f.parent >= 0 {
		var err error
		if up, err = jobsOf(fs, f.parent, items); err != nil {
			return nil, err
		}
	}
	jobs, err := expandJobs(f.st, items, up)
	if err != nil {
		return nil, err
	}
	f.jobs = jobs
	return jobs, nil
}

// expandJobs expands st's templates for every item, on every CPU; up are
// the upstream stage's jobs of a chained stage (nil at the root of a
// chain). An error is the first failing item's in list order.
func expandJobs(st *pipeline.Stage, items []item, up []*job) ([]*job, error) {
	jobs := make([]*job, len(items))
	var mu sync.Mutex
	first, firstErr := len(items), error(nil)
	forEachItem(context.Background(), len(items), runtime.NumCPU(), func(n int) {
		var u *job
		if up != nil {
			u = up[n]
		}
		j, err := expandJob(st, items[n].id, u)
		if err != nil {
			mu.Lock()
			if n < first {
				first, firstErr = n, err
			}
			mu.Unlock()
			return
		}
		jobs[n] = j
	})
	return jobs, firstErr
}

// removeGone deletes the outputs of the items the journal has and the
// listing no longer does, then records them removed.
func (r *Runner) removeGone(f *fanStage, keep map[string]bool) error {
	gone := f.jn.Missing(keep)
	if len(gone) == 0 {
		return nil
	}
	r.startFan(f)
	for _, rec := range gone {
		if err := r.removeItemOutputs(f.st.OutputDir, rec.Outputs); err != nil {
			return fmt.Errorf("removing the outputs of item %s, which is gone: %w", rec.Item, err)
		}
		name := jobName(f.st.Name, rec.Item)
		se := &stageExec{r: r, st: f.st, job: name, outDir: f.outDir, staging: runstate.StagingDir(f.outDir, name)}
		if err := se.removeStaging(); err != nil {
			return fmt.Errorf("removing the staging dir of item %s, which is gone: %w", rec.Item, err)
		}
		if err := r.layout.RemoveProgress(name); err != nil {
			return err
		}
		if err := f.jn.Append(&runstate.ItemRecord{Item: rec.Item, Removed: true, RunID: r.runID}); err != nil {
			return err
		}
		f.counts.Removed++
		f.addReason(rec.Item + ": gone, outputs removed")
	}
	return f.jn.Sync()
}

// startFan records, once, that a fan-out stage does work in this run.
func (r *Runner) startFan(f *fanStage) {
	f.mu.Lock()
	if f.started {
		f.mu.Unlock()
		return
	}
	f.started, f.startedAt = true, r.now()
	f.mu.Unlock()
	st := f.st
	r.rec.set(st.Index, runstate.RunStage{Name: st.Name, Status: runstate.StageRunning})
	if err := r.markRunning(); err != nil {
		f.log.Warn("recording the run", logKeyErr, err)
	}
	proc, version := "", ""
	if f.pr != nil {
		proc, version = f.pr.Path, f.pr.Version
	}
	r.events.record(st.Name, runstate.StageStart{Reasons: []string{fmt.Sprintf("fan-out over %d items", f.counts.Total)}, Processor: proc, Version: version, Items: f.counts.Total})
	_ = r.layout.WriteStage(&runstate.StageState{Name: st.Name, RunID: r.runID, Status: runstate.StageRunning, StartedAt: f.startedAt, Attempts: []runstate.Attempt{}, Outputs: []runstate.OutputRecord{},
		Limits: &runstate.AppliedLimits{CPUs: st.Resources.CPUs, MemoryMB: st.Resources.MemoryMB, Pids: st.Resources.Pids, TimeoutSeconds: st.TimeoutSeconds}})
}

func (f *fanStage) addReason(s string) {
	f.mu.Lock()
	if len(f.reasons) < maxItemReasons {
		f.reasons = append(f.reasons, s)
	}
	f.mu.Unlock()
}

// runItems runs the chain's items: its stages in phases, each phase a run
// of consecutive per-item stages (workers carry each item through all of
// them, no barrier) or one batched stage (batch.go), whose items are
// handed out in batches once every item has reached it.
func (r *Runner) runItems(ctx context.Context, fs []*fanStage, items []item, workers int) {
	if workers < 1 {
		workers = 1
	}
	outcome := make([][]int8, len(fs))
	for k := range outcome {
		outcome[k] = make([]int8, len(items))
		fs[k].outcome = outcome[k]
	}
	stop := r.syncJournals(fs)
	stopItems := r.reportItems(fs)
	for k0 := 0; k0 < len(fs); {
		k1 := k0 + 1
		if fs[k0].st.BatchMaxItems > 0 {
			r.runBatched(ctx, fs, k0, outcome, workers)
		} else {
			for k1 < len(fs) && fs[k1].st.BatchMaxItems == 0 {
				k1++
			}
			r.runPerItem(ctx, fs, k0, k1, outcome, workers)
		}
		k0 = k1
	}
	stopItems()
	stop()
	// Items never reached because the run was interrupted.
	if ctx.Err() != nil {
		for _, f := range fs {
			f.mu.Lock()
			done := f.counts.Ran + f.counts.Skipped + f.counts.Failed + f.counts.Blocked + f.counts.Interrupted
			f.counts.Interrupted += f.counts.Total - done
			f.mu.Unlock()
		}
	}
}

// runPerItem carries every item through the per-item stages fs[k0:k1].
// Deciding an item (stat, hash, key) is guardrun's own work and runs on
// every CPU; running one takes one of the workers slots the scheduler
// gave the chain.
func (r *Runner) runPerItem(ctx context.Context, fs []*fanStage, k0, k1 int, outcome [][]int8, workers int) {
	n := len(outcome[k0])
	slots := make(chan struct{}, workers)
	forEachItem(ctx, n, max(workers, runtime.NumCPU()), func(n int) {
		for k := k0; k < k1; k++ {
			o, pi := r.prepItem(ctx, fs, k, n, outcome)
			if pi != nil {
				slots <- struct{}{}
				o = r.execItem(ctx, fs[k], pi, false)
				<-slots
			}
			outcome[k][n] = o
		}
	})
}

// forEachItem calls fn(i) for i from 0 to n-1 on up to goroutines
// goroutines, handing out no more once ctx is done, and waits for them.
func forEachItem(ctx context.Context, n, goroutines int, fn func(i int)) {
	// Items are handed out by an atomic counter, in order: a channel send
	// per item cost a goroutine handoff (futex wake-ups) per item.
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < min(goroutines, n); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				fn(i)
			}
		}()
	}
	wg.Wait()
}

// syncJournals makes the chain's journals durable every 100 ms until the
// returned function is called (which syncs them a last time): jobs that
// finish in the same window share one fsync.
func (r *Runner) syncJournals(fs []*fanStage) func() {
	done := make(chan struct{})
	var wg sync.WaitGroup
	sync := func() {
		for _, f := range fs {
			if f.jn != nil {
				if err := f.jn.Sync(); err != nil {
					f.log.Warn("syncing the item journal", logKeyErr, err)
				}
			}
		}
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				sync()
				return
			case <-t.C:
				sync()
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// pendingItem is an item whose job must run in a stage: what deciding
// found out about it.
type pendingItem struct {
	n     int // the item's position
	j     *job
	files []inputFile
	ids   []InputID
	total int64
	key   string
	rec   *runstate.ItemRecord // its journal record; nil: never completed
}

// settle counts an item's outcome in the stage (itemOK is counted by
// whoever knows whether it ran or was skipped).
func (f *fanStage) settle(o int8) int8 {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch o {
	case itemFailed:
		f.counts.Failed++
	case itemBlocked:
		f.counts.Blocked++
	case itemInterrupted:
		f.counts.Interrupted++
	}
	return o
}

// fail counts item id failed with err after attempts attempts.
func (f *fanStage) fail(id string, err error, attempts int) int8 {
	return f.failTail(id, err, attempts, nil)
}

// failTail is fail with the last output lines of the item's last attempt.
func (f *fanStage) failTail(id string, err error, attempts int, tail []string) int8 {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.counts.Failed++
	if len(f.counts.FailedItems) < runstate.MaxFailedItems {
		f.counts.FailedItems = append(f.counts.FailedItems, runstate.ItemFailure{Item: id, Error: err.Error(), Attempts: attempts, OutputTail: tail})
	}
	return itemFailed
}

// prepItem decides what stage fs[k] does with item n: it returns the
// item's outcome when that is settled now (skipped, blocked, failed,
// interrupted), or the item to run.
func (r *Runner) prepItem(ctx context.Context, fs []*fanStage, k, n int, outcome [][]int8) (int8, *pendingItem) {
	f := fs[k]
	switch {
	case f.fast != nil && f.fast.ok[n]:
		// Counted skipped by skipFast, before the run could be
		// interrupted; its upstream item was settled the same way.
		return itemOK, nil
	case f.parent >= 0 && outcome[f.parent][n] != itemOK:
		if outcome[f.parent][n] == itemInterrupted || ctx.Err() != nil {
			return f.settle(itemInterrupted), nil
		}
		return f.settle(itemBlocked), nil
	case f.blocked:
		return f.settle(itemBlocked), nil
	case f.err != nil:
		return f.settle(itemFailed), nil
	case ctx.Err() != nil:
		return f.settle(itemInterrupted), nil
	}
	j := f.jobs[n]
	files, err := expandPaths(r.p, j.inputs, &r.verified, &r.stat)
	if err != nil {
		return f.fail(j.item, err, 0), nil
	}
	rec := f.jn.Get(j.item)
	ids, total, ok := journalInputs(rec, files)
	if !ok {
		hctx, cancel := context.WithTimeout(ctx, time.Duration(f.st.TimeoutSeconds)*time.Second)
		defer cancel()
		if ids, total, err = hashInputs(hctx, r.cache, files); err != nil {
			if ctx.Err() != nil {
				return f.settle(itemInterrupted), nil
			}
			return f.fail(j.item, err, 0), nil
		}
	}
	key := itemKey(f.base.hash, j, ids)
	exact := true
	var now []hashcache.FileID
	if rec != nil {
		now = make([]hashcache.FileID, len(rec.Outputs))
	}
	reasons := decideItem(r.p, f.st, f.jn, rec, f.base, key, ids, r.cache, &r.stat, f.forced, &exact, now)
	if len(reasons) == 0 {
		outs, moved := rec.Outputs, false
		if !exact && known(now) {
			// The outputs are the recorded ones under new identities (a
			// copied or restored workspace): record those, so the next
			// run needs only stats again.
			outs, moved, exact = make([]runstate.MarkerOutput, len(now)), true, true
			for i, o := range rec.Outputs {
				outs[i] = o
				outs[i].ID = now[i]
			}
		}
		if exact {
			for _, o := range outs {
				r.verified.add(r.p.Abs(o.Path), o.ID, o.SHA256)
			}
			if f.entries != nil {
				f.entries[n] = itemEntry(j, files, ids, outs, rec.LinesIn, rec.LinesOut)
			}
		}
		if (!ok && trusted(ids)) || moved {
			// Recorded before inputs had identities (or within the racy
			// window), or under other identities: record them, so the
			// next run needs only stats.
			nrec := *rec
			if !ok && trusted(ids) {
				nrec.Inputs = inputRecords(ids)
			}
			nrec.Outputs = outs
			if err := f.jn.Append(&nrec); err != nil {
				f.log.Warn("recording the identities of an item's files", logKeyItem, j.item, logKeyErr, err)
			}
		}
		f.mu.Lock()
		f.counts.Skipped++
		f.metrics.BytesIn += total
		f.metrics.LinesIn += rec.LinesIn
		f.metrics.LinesOut += rec.LinesOut
		for _, o := range rec.Outputs {
			f.metrics.BytesOut += o.Size
		}
		f.mu.Unlock()
		return itemOK, nil
	}
	r.startFan(f)
	f.addReason(itemReason(j.item, reasons[0]))
	return itemPending, &pendingItem{n: n, j: j, files: files, ids: ids, total: total, key: key, rec: rec}
}

// verifyOutputs records committed outputs verified.
// Their hashes are the promotion's own strings, kept as they are.
func (r *Runner) verifyOutputs(outs []runstate.MarkerOutput) {
	vs := make([]verifiedOutput, len(outs))
	for i, o := range outs {
		vs[i] = verifiedOutput{wsPath(r.p, o.Path), verified{id: o.ID, sum: o.SHA256}}
	}
	r.verified.addAll(vs)
}

// known reports whether every identity in ids is set.
func known(ids []hashcache.FileID) bool {
	for _, id := range ids {
		if id == (hashcache.FileID{}) {
			return false
		}
	}
	return true
}

// execItem runs an item's job on its own: its attempts, retries, backoff
// and timeout as a plain stage's, then commits it. alone marks an item of
// a batched stage run by itself (batch.go): it gets the batch protocol
// with a list of one item, and no checkpoints.
func (r *Runner) execItem(ctx context.Context, f *fanStage, pi *pendingItem, alone bool) int8 {
	j := pi.j
	if _, err := r.getSandbox(); err != nil {
		if errors.Is(err, sandbox.ErrUnenforceable) {
			err = fmt.Errorf("%w (guardrun check shows what this host enforces; --best-effort runs anyway and records what was not enforced)", err)
		}
		return f.fail(j.item, fmt.Errorf("sandbox: %w", err), 0)
	}
	st := j.stage(f.st)
	var progress *runstate.Progress
	if alone {
		st.Checkpoint.Enabled = false
	} else if p, _ := r.layout.ReadProgress(j.name); p != nil && p.IdempotencyKey == pi.key && st.Checkpoint.Enabled {
		progress = p
	}
	parts := f.base.parts
	parts.Inputs = pi.ids
	h := &inputHash{done: make(chan struct{}), parts: parts, key: pi.key, total: pi.total}
	close(h.done)
	se := &stageExec{r: r, st: st, job: j.name, isItem: true, item: j.item, log: f.log.With(logKeyItem, j.item),
		outDir: f.outDir, staging: runstate.StagingDir(f.outDir, j.name), pr: f.pr, files: pi.files, inputs: h}
	if alone {
		se.batch = []*pendingItem{pi}
	}
	var m StageMetrics
	status, err := se.attemptLoop(ctx, progress, &m)
	f.mu.Lock()
	f.attempts += len(se.state.Attempts)
	f.retries += max(len(se.state.Attempts)-1, 0)
	m.LinesIn = se.linesIn
	mergeMetrics(&f.metrics, &m)
	f.metrics.BytesIn += pi.total
	f.mu.Unlock()
	switch status {
	case runstate.StageInterrupted:
		return f.settle(itemInterrupted)
	case runstate.StageSucceeded:
	default:
		if err == nil {
			err = errors.New(status)
		}
		var tail []string
		if n := len(se.state.Attempts); n > 0 {
			tail = se.state.Attempts[n-1].OutputTail
		}
		return f.failTail(j.item, err, len(se.state.Attempts), tail)
	}
	if err := r.commitItem(f, pi, se.committed, se.linesIn, m.LinesOut); err != nil {
		return f.fail(j.item, err, len(se.state.Attempts))
	}
	// Its process is gone: the outputs are what was committed, and a
	// chained stage takes them as verified (batch.go does the same once a
	// batch's process has ended).
	r.verifyOutputs(se.committed)
	return itemOK
}

// commitItem records an item whose outputs are durable in outputDir: the
// outputs it had before and no longer declares are removed, then its line
// goes to the journal (the item reruns if guardrun dies before the
// journal is synced).
func (r *Runner) commitItem(f *fanStage, pi *pendingItem, committed []runstate.MarkerOutput, linesIn, linesOut int64) error {
	j := pi.j
	if pi.rec != nil {
		now := map[string]bool{}
		for _, o := range committed {
			now[o.Path] = true
		}
		var stale []runstate.MarkerOutput
		for _, o := range pi.rec.Outputs {
			if !now[o.Path] {
				stale = append(stale, o)
			}
		}
		if err := r.removeItemOutputs(f.st.OutputDir, stale); err != nil {
			return err
		}
	}
	nrec := &runstate.ItemRecord{Item: j.item, Key: pi.key, Base: f.base.hash, Inputs: inputRecords(pi.ids), Outputs: committed, RunID: r.runID, LinesIn: linesIn, LinesOut: linesOut}
	if err := f.jn.Append(nrec); err != nil {
		return err
	}
	if f.entries != nil {
		f.entries[pi.n] = itemEntry(j, pi.files, pi.ids, committed, linesIn, linesOut)
	}
	f.mu.Lock()
	f.counts.Ran++
	for _, o := range committed {
		f.outs = append(f.outs, o.OutputRecord)
	}
	f.mu.Unlock()
	return nil
}

func mergeMetrics(dst, src *StageMetrics) {
	if src.CPUSeconds != nil {
		v := *src.CPUSeconds
		if dst.CPUSeconds != nil {
			v += *dst.CPUSeconds
		}
		dst.CPUSeconds = &v
	}
	if src.PeakMemoryBytes != nil && (dst.PeakMemoryBytes == nil || *src.PeakMemoryBytes > *dst.PeakMemoryBytes) {
		v := *src.PeakMemoryBytes
		dst.PeakMemoryBytes = &v
	}
	dst.BytesOut += src.BytesOut
	dst.LinesIn += src.LinesIn
	dst.LinesOut += src.LinesOut
}

// endFan closes the stage's journal and records how it ended.
func (r *Runner) endFan(ctx context.Context, f *fanStage, items []item, fs []*fanStage, start time.Time) stageResult {
	st := f.st
	res := stageResult{idx: f.idx}
	if f.jn != nil {
		if err := f.jn.Close(); err != nil && f.err == nil {
			f.err = err
		}
		// Not when no item was decided (an interrupt before any): the
		// summary there may still be the journal's.
		if f.err == nil && f.entries != nil && f.outcome != nil {
			r.writeSummary(f, items)
		}
	}
	c := &f.counts
	if f.err != nil && !errors.Is(f.err, context.Canceled) {
		c.Failed = c.Total - c.Ran - c.Skipped - c.Blocked - c.Interrupted
		if c.Failed < 0 {
			c.Failed = 0
		}
	}
	var ve *VetError
	switch {
	case f.blocked:
		res.status = runstate.StageBlocked
		res.err = fmt.Errorf("not run: an upstream stage did not succeed")
		if f.blockedBy != "" {
			r.events.record(st.Name, runstate.BlockedByUpstream{Upstream: f.blockedBy})
			res.err = fmt.Errorf("not run: upstream %s did not succeed", f.blockedBy)
		}
		return res
	case errors.As(f.err, &ve):
		res.status, res.err = runstate.StageFailed, f.err
	case f.err != nil && ctx.Err() != nil && f.jn == nil:
		res.status = runstate.StageInterrupted
	case f.err != nil:
		res.status, res.err = runstate.StageFailed, f.err
	case c.Failed > 0:
		res.status = runstate.StageFailed
		res.err = failedItemsError(c)
	case c.Interrupted > 0:
		res.status = runstate.StageInterrupted
	case c.Blocked > 0:
		res.status = runstate.StageBlocked
		res.err = fmt.Errorf("%d of %d items not run: their upstream item did not succeed", c.Blocked, c.Total)
	case c.Ran > 0 || c.Removed > 0:
		res.status = runstate.StageSucceeded
	default:
		res.status = runstate.StageSkipped
	}
	res.metrics = f.metrics
	res.itemAttempts, res.itemRetries = f.attempts, f.retries
	res.metrics.WallSeconds = time.Since(start).Seconds()
	// A copy: a pointer into f would keep the whole stage (its jobs, its
	// summary: 40 MB at 100,000 items) alive for the rest of the run.
	counts := *c
	res.items = &counts
	res.reasons = make([]Reason, len(f.reasons))
	for i, s := range f.reasons {
		res.reasons[i] = Reason{Kind: ReasonItem, Detail: s}
	}
	if res.status == runstate.StageSkipped {
		r.events.record(st.Name, runstate.StageSkip{})
		return res
	}
	r.startFan(f)
	errText := ""
	if res.err != nil {
		errText = res.err.Error()
	}
	outs := f.outs
	if outs == nil {
		outs = []runstate.OutputRecord{}
	}
	sort.Slice(outs, func(a, b int) bool { return outs[a].Path < outs[b].Path })
	r.events.record(st.Name, runstate.StageEnd{Status: res.status, Attempts: f.attempts, Error: errText, Outputs: outs, Items: &counts})
	end := r.now()
	ss := &runstate.StageState{Name: st.Name, RunID: r.runID, Status: res.status, StartedAt: f.startedAt, EndedAt: &end, Attempts: []runstate.Attempt{}, Outputs: []runstate.OutputRecord{},
		Reasons: f.reasons, Error: errText, Items: &counts,
		Limits: &runstate.AppliedLimits{CPUs: st.Resources.CPUs, MemoryMB: st.Resources.MemoryMB, Pids: st.Resources.Pids, TimeoutSeconds: st.TimeoutSeconds}}
	if f.attempts > 0 { // the sandbox exists: getSandbox creates nothing
		if sb, err := r.getSandbox(); err == nil {
			rep := sb.Report()
			ss.Enforcement = &rep
		}
	}
	synced := make(chan struct{})
	go func() { r.events.sync(); close(synced) }()
	if err := r.layout.WriteStage(ss); err != nil && res.err == nil {
		res.status, res.err = runstate.StageFailed, fmt.Errorf("recording the stage state: %w", err)
	}
	<-synced
	return res
}

// failedItemsError names the first failed items and counts the rest.
func failedItemsError(c *runstate.ItemCounts) error {
	msg := fmt.Sprintf("%d of %d items failed", c.Failed, c.Total)
	for k, fi := range c.FailedItems {
		if k == 10 {
			break
		}
		sep := ", "
		if k == 0 {
			sep = ": "
		}
		msg += sep + fi.Item + " (" + fi.Error + ")"
	}
	if c.Failed > 10 {
		msg += fmt.Sprintf(", and %d more", c.Failed-10)
	}
	return errors.New(msg)
}
