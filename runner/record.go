package runner

import (
	"log/slog"
	"sync"
	"time"

	"github.com/guardrun/guardrun/internal/runstate"
)

// recordEvery is the most often run_<id>.json is rewritten while a run goes
// on: stage ends are coalesced into one write per interval.
const recordEvery = 250 * time.Millisecond

// runRecord keeps run_<id>.json current while the run goes on, so that a
// run killed at any instant leaves a record listing the stages that ended as
// they ended (and the ones running as running: the next run turns them into
// interrupted).
//
// Stages report their start and their end (set); nothing is written until
// the first stage actually runs (start), so a no-op run writes no record
// here at all and Run writes it once, at the end. From start on, a writer
// goroutine writes the current snapshot whenever it changed, at most once
// per recordEvery; close stops it and waits for a write in flight, so that
// the final record Run writes is the last one. Every write is atomic
// (runstate), so a kill -9 leaves either the previous or the new snapshot.
type runRecord struct {
	layout runstate.Layout
	log    *slog.Logger
	every  time.Duration
	// anchor, when set, is the audit chain head every write records in
	// the run's "audit" field, so that a log cut short (or a planted run
	// record) is caught by verify whenever the run was recorded, not only
	// at its end. It returns a head already fsynced (audit.Log.SyncedHead),
	// which a power cut cannot take back.
	anchor func() *runstate.AuditHead

	mu      sync.Mutex
	head    runstate.RunState   // header fields; stage lines are in lines
	lines   []runstate.RunStage // every stage, in pipeline order
	dirty   bool
	started bool
	writes  int // how many times the record was written (tests)

	startOnce sync.Once
	startErr  error
	kick      chan struct{}
	stop      chan struct{}
	done      chan struct{}
}

func newRunRecord(layout runstate.Layout, log *slog.Logger, head runstate.RunState, lines []runstate.RunStage) *runRecord {
	return &runRecord{layout: layout, log: log, every: recordEvery, head: head, lines: lines,
		kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
}

// set records stage i's line (its start or its end).
func (w *runRecord) set(i int, line runstate.RunStage) {
	w.mu.Lock()
	w.lines[i] = line
	w.dirty = true
	started := w.started
	w.mu.Unlock()
	if started {
		select {
		case w.kick <- struct{}{}:
		default: // a write is already due
		}
	}
}

// start writes the record (status running) before the first stage does
// any work, and starts the writer. Concurrent callers wait for that first
// write and share its result.
func (w *runRecord) start() error {
	w.startOnce.Do(func() {
		w.mu.Lock()
		w.started = true
		snap := w.snapshotLocked()
		w.mu.Unlock()
		if w.startErr = w.write(snap); w.startErr != nil {
			close(w.done)
			return
		}
		go w.loop()
	})
	return w.startErr
}

// loop writes the snapshot when it changed, at most once per w.every.
func (w *runRecord) loop() {
	defer close(w.done)
	for {
		select {
		case <-w.stop:
			return
		case <-w.kick:
		}
		w.mu.Lock()
		var snap *runstate.RunState
		if w.dirty {
			snap = w.snapshotLocked()
		}
		w.mu.Unlock()
		if snap != nil {
			if err := w.write(snap); err != nil {
				// The final write reports a failure that persists; a lost
				// intermediate snapshot only makes a crash less precise.
				w.log.Warn("updating the run record", logKeyErr, err)
			}
		}
		select {
		case <-w.stop:
			return
		case <-time.After(w.every):
		}
	}
}

// close stops the writer and waits for a write in flight. After it, only
// Run writes the record.
func (w *runRecord) close() {
	w.mu.Lock()
	started := w.started
	w.mu.Unlock()
	if !started {
		return
	}
	_ = w.start() // waits for the first write if it is still going on
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	<-w.done
}

// snapshotLocked is the record as it stands; w.mu is held.
func (w *runRecord) snapshotLocked() *runstate.RunState {
	rs := w.head
	rs.SetStages(w.lines)
	w.dirty = false
	return &rs
}

func (w *runRecord) write(rs *runstate.RunState) error {
	if w.anchor != nil {
		rs.Audit = w.anchor()
	}
	err := w.layout.WriteRun(rs)
	if err == nil {
		w.mu.Lock()
		w.writes++
		w.mu.Unlock()
	}
	return err
}

// writeCount is how many snapshots were written (tests).
func (w *runRecord) writeCount() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.writes
}
