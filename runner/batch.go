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
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/guardrun/guardrun/internal/atomicfile"
	"github.com/guardrun/guardrun/internal/hashcache"
	"github.com/guardrun/guardrun/internal/runstate"
	"github.com/guardrun/guardrun/internal/safefs"
	"github.com/guardrun/guardrun/pipeline"
	"github.com/guardrun/guardrun/sandbox"
)

// This file runs a batched fan-out stage ("batch": {"maxItems": N};
// docs/PROCESSORS.md, "Batches"): one process takes many of its pending
// items. It reads their list from PIPELINE_BATCH_FILE and reports each
// item done on the progress pipe once the item's outputs are flushed;
// guardrun commits every reported item at once (outputs moved into
// outputDir and fsynced, then its journal line, synced), while the
// process goes on. So a crash or a kill -9 loses only the items not yet
// reported. An item the process reports failed, or whose outputs cannot
// be committed, runs alone afterwards, with its own attempts, backoff
// and exit codes (a batch of one). When the process fails (an exit code,
// a signal, the memory limit, its deadline), the first item it had not
// reported is the suspect and runs alone; the others go into another
// batch. Each failed batch thus sets at least one item apart, and a
// reported item is never redone.

// batchReport is one line a batch process writes on the progress pipe.
type batchReport struct {
	Item   string `json:"item"`
	Status string `json:"status"` // "done" | "failed"
	Error  string `json:"error"`
}

// batchEntry is one item of the list in PIPELINE_BATCH_FILE.
type batchEntry struct {
	Item    string   `json:"item"`
	Inputs  []string `json:"inputs"`
	Outputs []string `json:"outputs"`
}

// writeBatchFile writes the process's item list into
// stateDir/inputs/<job>.items.json and returns its path and a function
// removing it.
func (se *stageExec) writeBatchFile() (string, func(), error) {
	l := se.r.layout
	d, err := se.r.openBeneath(l.InputsDir(), true)
	if err != nil {
		return "", nil, fmt.Errorf("writing the item list: %w", err)
	}
	_ = d.Close()
	list := make([]batchEntry, len(se.batch))
	for i, pi := range se.batch {
		ins := make([]string, len(pi.files))
		for k, f := range pi.files {
			ins[k] = f.Abs
		}
		list[i] = batchEntry{Item: pi.j.item, Inputs: ins, Outputs: pi.j.outputs}
	}
	b, err := json.Marshal(list)
	if err != nil {
		return "", nil, fmt.Errorf("writing the item list: %w", err)
	}
	path := l.BatchFile(se.job)
	if err := atomicfile.WriteFile(path, b, 0o644); err != nil {
		return "", nil, fmt.Errorf("writing the item list: %w", err)
	}
	return path, func() { _ = os.Remove(path) }, nil
}

// batchQueue hands a batched stage's pending items to its workers: items
// to run alone first, then batches of the rest.
type batchQueue struct {
	mu     sync.Mutex
	cond   *sync.Cond
	alone  []*pendingItem
	rest   []*pendingItem // in item order
	active int
	// size is the batch size: the pending items in as few batches as
	// maxItems allows, and at least one per worker.
	size int
}

// batchSize spreads pending items over batches of at most maxItems, at
// least one batch per worker.
func batchSize(pending, maxItems, workers int) int {
	n := max(workers, (pending+maxItems-1)/maxItems, 1)
	return max(1, (pending+n-1)/n)
}

// take returns the next work: one item to run alone, or a batch; nil
// when there is none left (or the run is interrupted).
func (q *batchQueue) take(ctx context.Context) (items []*pendingItem, alone bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for {
		switch {
		case ctx.Err() != nil:
			return nil, false
		case len(q.alone) > 0:
			pi := q.alone[0]
			q.alone = q.alone[1:]
			q.active++
			return []*pendingItem{pi}, true
		case len(q.rest) > 0:
			size := min(q.size, len(q.rest))
			items, q.rest = q.rest[:size:size], q.rest[size:]
			q.active++
			return items, false
		case q.active == 0:
			return nil, false
		}
		q.cond.Wait()
	}
}

// done returns a worker's work: items to run alone, items for another
// batch (in item order, ahead of the rest).
func (q *batchQueue) done(alone, rest []*pendingItem) {
	q.mu.Lock()
	q.alone = append(q.alone, alone...)
	q.rest = append(rest, q.rest...)
	q.active--
	q.mu.Unlock()
	q.cond.Broadcast()
}

// wake wakes idle workers (the run was interrupted).
func (q *batchQueue) wake() { q.cond.Broadcast() }

// runBatched runs the batched stage fs[k]: every item decided (in
// parallel), then the pending ones in batches.
func (r *Runner) runBatched(ctx context.Context, fs []*fanStage, k int, outcome [][]int8, workers int) {
	f := fs[k]
	n := len(outcome[k])
	pend := make([]*pendingItem, n)
	forEachItem(ctx, n, max(workers, runtime.NumCPU()), func(i int) {
		outcome[k][i], pend[i] = r.prepItem(ctx, fs, k, i, outcome)
	})
	q := &batchQueue{}
	q.cond = sync.NewCond(&q.mu)
	for _, pi := range pend {
		if pi != nil {
			q.rest = append(q.rest, pi)
		}
	}
	if len(q.rest) == 0 {
		return
	}
	q.size = batchSize(len(q.rest), f.st.BatchMaxItems, workers)
	err := r.sweepBatches(f.st)
	if _, serr := r.getSandbox(); serr != nil && err == nil {
		err = fmt.Errorf("sandbox: %w", serr)
		if errors.Is(serr, sandbox.ErrUnenforceable) {
			err = fmt.Errorf("%w (guardrun check shows what this host enforces; --best-effort runs anyway and records what was not enforced)", err)
		}
	}
	if err != nil {
		for _, pi := range q.rest {
			outcome[k][pi.n] = f.fail(pi.j.item, err, 0)
		}
		return
	}
	stopWake := context.AfterFunc(ctx, q.wake)
	defer stopWake()
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(slot int) {
			defer wg.Done()
			for {
				items, alone := q.take(ctx)
				switch {
				case items == nil:
					return
				case alone:
					outcome[k][items[0].n] = r.execItem(ctx, f, items[0], true)
					q.done(nil, nil)
				default:
					a, rest := r.runBatch(ctx, f, items, slot, outcome[k])
					q.done(a, rest)
				}
			}
		}(w)
	}
	wg.Wait()
	for _, pi := range append(q.alone, q.rest...) { // left by an interrupt
		outcome[k][pi.n] = f.settle(itemInterrupted)
	}
}

// batchName is the name of worker slot's batch process of stage: its
// staging dir, item list and process id.
func batchName(stage string, slot int) string { return fmt.Sprintf("%s.batch%d", stage, slot) }

// sweepBatches removes the staging dirs batches of stage st left behind
// (a crash, or more workers in an earlier run).
func (r *Runner) sweepBatches(st *pipeline.Stage) error {
	outDir := r.p.Abs(st.OutputDir)
	// Listed without os.ReadDir's sorted DirEntry per name: the output
	// dir holds one file per item (13 ms of a 10,000-item rerun).
	prefix := "." + st.Name + ".batch"
	var jobs []string
	err := eachDirent(outDir, func(name string, _ fs.FileMode) error {
		if strings.HasPrefix(name, prefix) && strings.HasSuffix(name, ".staging") {
			jobs = append(jobs, strings.Clone(strings.TrimSuffix(strings.TrimPrefix(name, "."), ".staging")))
		}
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	for _, job := range jobs {
		se := &stageExec{r: r, st: st, job: job, outDir: outDir, staging: runstate.StagingDir(outDir, job)}
		if err := se.removeStaging(); err != nil {
			return fmt.Errorf("removing the staging dir of an earlier batch: %w", err)
		}
	}
	return nil
}

// batchRun is one process of a batched stage and what it reported.
type batchRun struct {
	r     *Runner
	f     *fanStage
	se    *stageExec
	items map[string]*pendingItem
	wd    *watchdog
	reps  chan string // items reported done, to commit

	mu        sync.Mutex
	reported  map[string]bool
	failed    map[string]string // reported failed, with the processor's error
	committed map[string][]runstate.MarkerOutput
	uncommit  map[string]error // reported done but not committable
	protoErr  error
	metrics   StageMetrics
}

// runBatch runs one batch process over items in worker slot's staging
// dir, commits what it reports, and returns the items to run alone and
// the items for another batch; it sets the outcome of the others.
func (r *Runner) runBatch(ctx context.Context, f *fanStage, items []*pendingItem, slot int, outcome []int8) (alone, rest []*pendingItem) {
	name := batchName(f.st.Name, slot)
	st := *f.st
	st.Inputs, st.Outputs, st.Checkpoint.Enabled = nil, nil, false
	se := &stageExec{r: r, st: &st, job: name, isItem: true, log: f.log.With(logKeyJob, name), outDir: f.outDir,
		staging: runstate.StagingDir(f.outDir, name), pr: f.pr, batch: items, hashers: map[string]*hashcache.Incremental{}}
	b := &batchRun{r: r, f: f, se: se, items: make(map[string]*pendingItem, len(items)), reps: make(chan string, len(items)),
		reported: map[string]bool{}, failed: map[string]string{}, committed: map[string][]runstate.MarkerOutput{}, uncommit: map[string]error{}}
	se.batchRun = b
	defer func() {
		if err := se.removeStaging(); err != nil {
			se.log.Warn("removing a batch's staging dir", logKeyErr, err)
		}
	}()
	for _, pi := range items {
		b.items[pi.j.item] = pi
	}
	a := runstate.Attempt{Attempt: 1}
	o := b.attempt(ctx, &a)
	f.mu.Lock()
	f.attempts++
	mergeMetrics(&f.metrics, &b.metrics)
	f.mu.Unlock()
	se.log.Debug("batch ended", logKeyCount, len(items), logKeyDetail, a.Outcome+" "+a.Error)

	// A committed item's outputs must still be what was committed: the
	// process ran on after reporting it. Anything else is undone and the
	// item run alone.
	for id, outs := range b.committed {
		if err := b.verify(outs); err != nil {
			se.log.Warn("an output changed after its item was committed; running the item alone", logKeyItem, id, logKeyErr, err)
			if f.entries != nil {
				f.entries[b.items[id].n] = ""
			}
			if err := b.undo(id, outs); err != nil {
				outcome[b.items[id].n] = f.fail(id, err, 1)
				continue
			}
			b.uncommit[id] = err
			continue
		}
		b.r.verifyOutputs(outs)
	}
	if o == runstate.OutcomeSucceeded {
		// Exit 0 says every item is done: the unreported ones are
		// committed now (the process has ended).
		var ids []string
		for _, pi := range items {
			if !b.reported[pi.j.item] {
				ids = append(ids, pi.j.item)
				b.reported[pi.j.item] = true
			}
		}
		b.commit(ids)
		for _, id := range ids {
			if outs, ok := b.committed[id]; ok {
				b.r.verifyOutputs(outs)
			}
		}
	}
	if o == runstate.OutcomeStartFailed && ctx.Err() != nil {
		o = runstate.OutcomeInterrupted
	}
	if o == runstate.OutcomeStartFailed {
		// Nothing item-specific: the process never ran.
		for _, pi := range items {
			outcome[pi.n] = f.fail(pi.j.item, errors.New(a.Error), 1)
		}
		return nil, nil
	}
	suspect := true
	for _, pi := range items {
		id := pi.j.item
		_, ok := b.committed[id]
		switch {
		case ok && b.uncommit[id] == nil:
			outcome[pi.n] = itemOK
		case b.failed[id] != "" || b.uncommit[id] != nil:
			if b.failed[id] != "" {
				se.log.Info("item reported failed in its batch; running it alone", logKeyItem, id, logKeyErr, b.failed[id])
			} else {
				se.log.Info("item of a batch not committed; running it alone", logKeyItem, id, logKeyErr, b.uncommit[id])
			}
			alone = append(alone, pi)
		case o == runstate.OutcomeInterrupted:
			outcome[pi.n] = f.settle(itemInterrupted)
		case suspect:
			se.log.Info("batch ended before this item was reported; running it alone", logKeyItem, id, logKeyErr, a.Error)
			alone, suspect = append(alone, pi), false
		default:
			rest = append(rest, pi)
		}
	}
	return alone, rest
}

// attempt runs the batch's process once and returns its outcome.
func (b *batchRun) attempt(ctx context.Context, a *runstate.Attempt) string {
	se := b.se
	a.StartedAt = se.r.now()
	defer func() { a.EndedAt = se.r.now() }()
	fail := func(err error) string {
		a.Outcome, a.ExitCode, a.Error = runstate.OutcomeStartFailed, -1, err.Error()
		return a.Outcome
	}
	if err := b.prepareStaging(); err != nil {
		return fail(fmt.Errorf("creating staging dir: %w", err))
	}
	pipeR, pipeW, err := os.Pipe()
	if err != nil {
		return fail(fmt.Errorf("creating progress pipe: %w", err))
	}
	defer pipeR.Close()
	// The deadline is timeoutSeconds after the start or the last report:
	// a batch gets the stage's timeout per item.
	actx, cancel := context.WithCancel(ctx)
	defer cancel()
	b.wd = newWatchdog(time.Duration(se.st.TimeoutSeconds)*time.Second, cancel)
	defer b.wd.stop()
	p, logs, cleanup, err := se.start(actx, a, pipeW)
	defer cleanup()
	if err != nil {
		return fail(err)
	}
	committed := make(chan struct{})
	go func() { b.commitLoop(); close(committed) }()
	readDone := make(chan struct{})
	go func() { b.read(pipeR, cancel); close(readDone) }()
	res, werr := p.Wait()
	_ = pipeR.SetReadDeadline(time.Now().Add(2 * time.Second))
	<-readDone
	close(b.reps)
	<-committed
	logs.finish(2 * time.Second)
	addUsage(&b.metrics, res)
	o := se.classify(ctx, a, res, werr, b.wd.fired.Load(), b.protoErr)
	if o != runstate.OutcomeSucceeded {
		a.OutputTail = logs.outputTail()
	}
	return o
}

// prepareStaging makes the batch's staging dir empty, with the
// directories of its items' outputs (the files are the processor's to
// create: exit 0 commits the unreported items whose outputs exist).
func (b *batchRun) prepareStaging() error {
	se := b.se
	if err := se.removeStaging(); err != nil {
		return err
	}
	stg, err := se.openStaging(true)
	if err != nil {
		return err
	}
	defer stg.Close()
	made := map[string]bool{}
	for _, pi := range se.batch {
		for _, o := range pi.j.outputs {
			if dir := path.Dir(o); dir != "." && !made[dir] {
				made[dir] = true
				sub, err := stg.Sub(dir, true)
				if err != nil {
					return fmt.Errorf("creating the dir of output %s: %w", o, err)
				}
				_ = sub.Close()
			}
		}
	}
	return nil
}

// maxBatchWarnings bounds the warnings logged per batch for lines that
// are ignored.
const maxBatchWarnings = 5

// read reads the process's reports: a done item goes to the committer, a
// failed one is noted; a report naming an item not in the batch, or a
// line over MaxProgressLine, is a protocol error that ends the process.
// Other lines (progress reports) are ignored.
func (b *batchRun) read(rd io.Reader, kill func()) {
	se := b.se
	br := bufio.NewReaderSize(rd, MaxProgressLine+1)
	warned := 0
	protocol := func(err error) {
		b.mu.Lock()
		if b.protoErr == nil {
			b.protoErr = fmt.Errorf("batch protocol error: %w", err)
			se.log.Warn("batch protocol error, ending the process", logKeyErr, err)
			kill()
		}
		b.mu.Unlock()
	}
	for {
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			protocol(fmt.Errorf("a report line is longer than %d bytes", MaxProgressLine))
			_, _ = io.Copy(io.Discard, br)
			return
		}
		if len(line) == 0 && err != nil {
			return
		}
		if b.protoErr != nil || !strings.Contains(string(line), `"item"`) {
			continue
		}
		var rep batchReport
		if jerr := json.Unmarshal(line, &rep); jerr != nil || (rep.Status != "done" && rep.Status != "failed") {
			if warned++; warned <= maxBatchWarnings {
				se.log.Warn("ignoring a malformed batch report", logKeyDetail, strings.TrimSpace(string(line)))
			}
			continue
		}
		if _, ok := b.items[rep.Item]; !ok {
			protocol(fmt.Errorf("report for item %q, which is not in the batch", rep.Item))
			continue
		}
		b.mu.Lock()
		dup := b.reported[rep.Item]
		b.reported[rep.Item] = true
		if !dup && rep.Status == "failed" {
			msg := rep.Error
			if msg == "" {
				msg = "reported failed"
			}
			b.failed[rep.Item] = msg
		}
		b.mu.Unlock()
		if dup {
			if warned++; warned <= maxBatchWarnings {
				se.log.Warn("ignoring a second report for an item", logKeyItem, rep.Item)
			}
			continue
		}
		b.wd.reset()
		if rep.Status == "done" {
			b.reps <- rep.Item
		}
	}
}

// commitLoop commits reported items as they come, all those reported
// while the previous group was committed in one group.
func (b *batchRun) commitLoop() {
	for id := range b.reps {
		group := []string{id}
	drain:
		for {
			select {
			case id, ok := <-b.reps:
				if !ok {
					break drain
				}
				group = append(group, id)
			default:
				break drain
			}
		}
		b.commit(group)
	}
}

// commit moves the outputs of items ids into outputDir (fsynced), then
// appends their journal lines and syncs the journal. An item whose
// outputs cannot be committed is noted in uncommit.
func (b *batchRun) commit(ids []string) {
	if len(ids) == 0 {
		return
	}
	se, f := b.se, b.f
	type done struct {
		pi   *pendingItem
		outs []runstate.MarkerOutput
		m    StageMetrics
	}
	var ok []done
	dirs := map[string]bool{}
	failAll := func(err error) {
		b.mu.Lock()
		for _, id := range ids {
			b.uncommit[id] = err
		}
		b.mu.Unlock()
	}
	out, err := se.openOutDir(true)
	if err != nil {
		failAll(err)
		return
	}
	defer out.Close()
	stg, err := out.Sub(filepath.Base(se.staging), false)
	if err != nil {
		failAll(err)
		return
	}
	defer stg.Close()
	for _, id := range ids {
		pi := b.items[id]
		var m StageMetrics
		outs, ds, err := se.commitFiles(stg, out, pi.j.outputs, &m)
		if err != nil {
			b.mu.Lock()
			b.uncommit[id] = err
			b.mu.Unlock()
			continue
		}
		for d := range ds {
			dirs[d] = true
		}
		ok = append(ok, done{pi, outs, m})
	}
	if err := syncDirs(dirs); err != nil {
		for _, d := range ok {
			b.mu.Lock()
			b.uncommit[d.pi.j.item] = err
			b.mu.Unlock()
		}
		return
	}
	for _, d := range ok {
		if err := b.r.commitItem(f, d.pi, d.outs, 0, d.m.LinesOut); err != nil {
			b.mu.Lock()
			b.uncommit[d.pi.j.item] = err
			b.mu.Unlock()
			continue
		}
		b.mu.Lock()
		b.committed[d.pi.j.item] = d.outs
		b.metrics.BytesOut += d.m.BytesOut
		b.metrics.LinesOut += d.m.LinesOut
		b.mu.Unlock()
	}
	if err := f.jn.Sync(); err != nil {
		se.log.Warn("syncing the item journal", logKeyErr, err)
	}
}

// verify checks that committed outputs are unchanged since they were
// committed: same file, size, times, one link.
func (b *batchRun) verify(outs []runstate.MarkerOutput) error {
	for _, o := range outs {
		fi, err := os.Lstat(b.r.p.Abs(o.Path))
		if err != nil {
			return err
		}
		if !fi.Mode().IsRegular() || hashcache.ID(fi) != o.ID || safefs.Links(fi) != 1 {
			return fmt.Errorf("%s changed after it was committed", o.Path)
		}
	}
	return nil
}

// undo takes back item id's commit: its outputs removed, a journal line
// saying so, and its count and outputs dropped from the stage's.
func (b *batchRun) undo(id string, outs []runstate.MarkerOutput) error {
	f := b.f
	if err := b.r.removeItemOutputs(f.st.OutputDir, outs); err != nil {
		return fmt.Errorf("removing outputs that changed after their commit: %w", err)
	}
	if err := f.jn.Append(&runstate.ItemRecord{Item: id, Removed: true, RunID: b.r.runID}); err != nil {
		return err
	}
	if err := f.jn.Sync(); err != nil {
		return err
	}
	drop := map[string]bool{}
	for _, o := range outs {
		drop[o.Path] = true
	}
	f.mu.Lock()
	f.counts.Ran--
	kept := f.outs[:0]
	for _, o := range f.outs {
		if !drop[o.Path] {
			kept = append(kept, o)
		}
	}
	f.outs = kept
	f.mu.Unlock()
	b.items[id].rec = nil
	return nil
}

// watchdog cancels a batch when no item has been reported for its
// timeout.
type watchdog struct {
	d     time.Duration
	t     *time.Timer
	fired atomic.Bool
}

func newWatchdog(d time.Duration, cancel func()) *watchdog {
	w := &watchdog{d: d}
	w.t = time.AfterFunc(d, func() { w.fired.Store(true); cancel() })
	return w
}

func (w *watchdog) reset() {
	if !w.fired.Load() {
		w.t.Reset(w.d)
	}
}

func (w *watchdog) stop() { w.t.Stop() }
