package runner

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/guardrun/guardrun/internal/hashcache"
	"github.com/guardrun/guardrun/internal/runstate"
	"github.com/guardrun/guardrun/internal/safefs"
)

// This file is checkpoints and resume: the staging dir made to match a
// checkpoint before an attempt, and progress reports turned into
// progress_<stage>.json while it runs.

// prepareStaging makes the staging dir match the checkpoint: staged outputs
// truncated to their checkpointed sizes, everything else empty. Without a
// usable checkpoint it starts clean (and deletes the checkpoint). It
// returns the offsets to resume at and whether the checkpoint was used.
// Staged files are opened beneath the staging dir without following
// symlinks, and only when regular with one link (internal/safefs): a
// symlink, hardlink, FIFO or device a processor planted fails the stage,
// and nothing outside the staging dir is truncated.
func (se *stageExec) prepareStaging(p *runstate.Progress) (line, byteOff int64, resumed bool, err error) {
	if p != nil {
		err := se.truncateStaged(p)
		if err == nil {
			se.linesIn = p.LineOffset
			return p.LineOffset, p.ByteOffset, true, nil
		}
		if errors.Is(err, safefs.ErrUnsafe) {
			return 0, 0, false, fmt.Errorf("resuming from the checkpoint: %w", err)
		}
		se.log.Warn("checkpoint unusable, starting over", logKeyErr, err)
	}
	se.hashers = map[string]*hashcache.Incremental{}
	se.linesIn = 0
	if err := se.removeStaging(); err != nil {
		return 0, 0, false, fmt.Errorf("clearing staging dir: %w", err)
	}
	if err := se.r.layout.RemoveProgress(se.job); err != nil {
		return 0, 0, false, err
	}
	stg, err := se.openStaging(true)
	if err != nil {
		return 0, 0, false, fmt.Errorf("creating staging dir: %w", err)
	}
	defer stg.Close()
	for _, o := range se.st.Outputs {
		if dir := path.Dir(o); dir != "." {
			sub, err := stg.Sub(dir, true)
			if err != nil {
				return 0, 0, false, fmt.Errorf("creating output %s: %w", o, err)
			}
			_ = sub.Close()
		}
		f, err := stg.OpenFile(o, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		if err != nil {
			return 0, 0, false, fmt.Errorf("creating output %s: %w", o, err)
		}
		_ = f.Close()
	}
	return 0, 0, false, nil
}

// truncateStaged makes the staging dir match checkpoint p, or says why it
// cannot (an error matching safefs.ErrUnsafe when a processor planted
// something guardrun refuses to touch).
func (se *stageExec) truncateStaged(p *runstate.Progress) error {
	stg, err := se.openStaging(false)
	if err != nil {
		return err
	}
	defer stg.Close()
	// Every checkpointed output is still staged at least as large as
	// checkpointed (a crash during promotion moves files away).
	for name, size := range p.Outputs {
		fi, err := stg.Stat(name)
		if err != nil {
			return err
		}
		if fi.Size() < size {
			return fmt.Errorf("staged output %s holds %d bytes, checkpointed %d", name, fi.Size(), size)
		}
	}
	files, err := stg.Files()
	if err != nil {
		return err
	}
	for _, rel := range files {
		size := p.Outputs[rel] // 0 when not checkpointed
		f, err := stg.OpenFile(rel, os.O_WRONLY, 0)
		if err != nil {
			return err
		}
		err = f.Truncate(size)
		_ = f.Close()
		if err != nil {
			return err
		}
		if h := se.hashers[rel]; h != nil && h.Offset() > size {
			delete(se.hashers, rel)
		}
	}
	return nil
}

// report is one progress line from a processor.
type report struct {
	LineOffset int64            `json:"lineOffset"`
	ByteOffset int64            `json:"byteOffset"`
	Outputs    map[string]int64 `json:"outputs"`
	TotalBytes int64            `json:"totalBytes"`
}

// checkpointer turns progress reports into progress_<stage>.json and keeps
// the incremental output hashers moving behind them.
type checkpointer struct {
	se   *stageExec
	a    *runstate.Attempt
	dir  *safefs.Dir // the staging dir, opened once per attempt
	kill func()      // ends the attempt (a protocol error)
	last report
	err  error
	// itemFailed is the error of a batch-protocol "failed" report of an
	// item run alone (a batch of one): the attempt fails with it whatever
	// the exit code.
	itemFailed string
	// saved is the last checkpoint persisted by this attempt.
	saved *runstate.Progress

	inputBytes int64 // total size of the inputs; -1 until known

	// superseded counts reports skipped because a newer one was already
	// buffered; malformed, reports ignored as malformed or invalid.
	superseded, malformed int

	mu       sync.Mutex
	pending  map[string]int64
	notify   chan struct{}
	hashDone chan struct{}

	lastAudit time.Time
	audited   int64 // byte offset of the last audited checkpoint
}

// newCheckpointer starts checkpointing an attempt whose staging dir is
// dir (closed by stop); kill ends the attempt on a protocol error.
func newCheckpointer(se *stageExec, a *runstate.Attempt, dir *safefs.Dir, kill func()) *checkpointer {
	cp := &checkpointer{se: se, a: a, dir: dir, kill: kill, last: report{LineOffset: a.StartLineOffset, ByteOffset: a.StartByteOffset},
		inputBytes: -1, notify: make(chan struct{}, 1), hashDone: make(chan struct{})}
	go cp.hashLoop()
	return cp
}

// minPersistInterval coalesces reports from a chatty processor.
const minPersistInterval = 20 * time.Millisecond

// auditCheckpointEvery throttles checkpoint records in the audit chain.
const auditCheckpointEvery = 5 * time.Second

// MaxProgressLine is the longest progress report line accepted: a longer
// one is a protocol error that fails the attempt.
const MaxProgressLine = 64 << 10

// readItemReport notes a "failed" report of the item run alone.
func (cp *checkpointer) readItemReport(line []byte) {
	if cp.itemFailed != "" || !bytes.Contains(line, []byte(`"item"`)) {
		return
	}
	var rep batchReport
	if json.Unmarshal(line, &rep) != nil || rep.Status != "failed" || rep.Item != cp.se.item {
		return
	}
	cp.itemFailed = "item reported failed"
	if rep.Error != "" {
		cp.itemFailed += ": " + rep.Error
	}
}

// fail ends the attempt with a protocol error (the first one is kept).
func (cp *checkpointer) fail(err error) {
	if cp.err == nil {
		cp.err = fmt.Errorf("progress protocol error: %w", err)
		cp.se.log.Warn("progress protocol error, ending the attempt", logKeyErr, err)
		if cp.kill != nil {
			cp.kill()
		}
	}
}

func (cp *checkpointer) read(rd io.Reader) {
	se := cp.se
	br := bufio.NewReaderSize(rd, MaxProgressLine+1)
	var lastPersist time.Time
	var unsaved *report
	for {
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			cp.fail(fmt.Errorf("a progress line is longer than %d bytes", MaxProgressLine))
			// Drain the rest so the processor never blocks on the pipe.
			_, _ = io.Copy(io.Discard, br)
			break
		}
		if len(line) == 0 && err != nil {
			break
		}
		if cp.err != nil {
			continue // draining after a protocol error
		}
		if se.batch != nil {
			// An item run alone is not checkpointed, but the batch
			// protocol still holds: a "failed" report fails it, even when
			// the process then exits 0 (as a batch processor that reports
			// a bad item and goes on does).
			cp.readItemReport(line)
			continue
		}
		if len(strings.TrimSpace(string(line))) == 0 {
			continue
		}
		if err == nil && bytes.IndexByte(peekBuffered(br), '\n') >= 0 {
			// A newer complete report is already waiting: reports are
			// cumulative, so this one is superseded. A flood of reports
			// costs guardrun one parse per buffer, not one per line.
			cp.superseded++
			continue
		}
		var rep report
		if err := json.Unmarshal(line, &rep); err != nil {
			cp.malformed++
			if cp.malformed <= maxProgressWarnings {
				se.log.Warn("ignoring malformed progress report", logKeyErr, err)
			}
			continue
		}
		if err := cp.checkOffsets(&rep); err != nil {
			cp.fail(err)
			continue
		}
		if err := cp.validate(&rep); err != nil {
			cp.malformed++
			if cp.malformed <= maxProgressWarnings {
				se.log.Warn("ignoring invalid progress report", logKeyErr, err)
			}
			continue
		}
		cp.last = rep
		se.linesIn = rep.LineOffset
		se.record(runstate.ProgressReport{Lines: rep.LineOffset, Bytes: rep.ByteOffset, TotalBytes: rep.TotalBytes})
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
	if unsaved != nil && cp.err == nil {
		cp.persist(unsaved)
	}
	if cp.malformed > maxProgressWarnings {
		se.log.Warn("ignored more malformed or invalid progress reports", logKeyCount, cp.malformed-maxProgressWarnings)
	}
}

// maxProgressWarnings bounds the warnings logged per attempt for reports
// that are ignored, so a processor cannot flood guardrun's log.
const maxProgressWarnings = 5

// peekBuffered returns what br holds unread, without reading more.
func peekBuffered(br *bufio.Reader) []byte {
	b, _ := br.Peek(br.Buffered())
	return b
}

// checkOffsets refuses offsets that cannot be true: negative, or past the
// end of the concatenated inputs.
func (cp *checkpointer) checkOffsets(rep *report) error {
	if rep.LineOffset < 0 || rep.ByteOffset < 0 {
		return fmt.Errorf("negative offsets (%d,%d)", rep.LineOffset, rep.ByteOffset)
	}
	if rep.ByteOffset == 0 {
		return nil
	}
	if total := cp.inputSize(); total >= 0 && rep.ByteOffset > total {
		return fmt.Errorf("byteOffset %d is past the end of the inputs (%d bytes)", rep.ByteOffset, total)
	}
	return nil
}

// inputSize is the total size of the stage's inputs: from their hashing
// when done, else from stat (once per attempt); -1 when unknown.
func (cp *checkpointer) inputSize() int64 {
	if cp.inputBytes >= 0 {
		return cp.inputBytes
	}
	if _, total, ok := cp.se.inputs.Ready(); ok {
		cp.inputBytes = total
		return total
	}
	var total int64
	for _, f := range cp.se.files {
		fi, err := os.Stat(f.Abs)
		if err != nil {
			return -1
		}
		total += fi.Size()
	}
	cp.inputBytes = total
	return total
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
		if cp.dir == nil {
			return fmt.Errorf("output %s: no staging dir", name)
		}
		fi, err := cp.dir.Stat(name)
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
	key, err := se.key()
	if err != nil {
		return
	}
	outs := rep.Outputs
	if outs == nil {
		outs = map[string]int64{}
	}
	p := &runstate.Progress{Stage: se.job, RunID: se.r.runID, Attempt: cp.a.Attempt, IdempotencyKey: key,
		LineOffset: rep.LineOffset, ByteOffset: rep.ByteOffset, Outputs: outs, TotalBytes: rep.TotalBytes, UpdatedAt: se.r.now()}
	if err := se.r.layout.WriteProgress(p); err != nil {
		se.log.Warn("checkpoint not persisted", logKeyErr, err)
		return
	}
	// The audit chain gets a checkpoint record at most every
	// auditCheckpointEvery per stage (and the last one of each attempt, in
	// stop): enough to reconstruct progress without flooding the log.
	if now := time.Now(); now.Sub(cp.lastAudit) >= auditCheckpointEvery {
		cp.lastAudit = now
		cp.audited = p.ByteOffset
		se.record(runstate.StageCheckpoint{Attempt: cp.a.Attempt, LineOffset: p.LineOffset, ByteOffset: p.ByteOffset})
	}
	cp.saved = p
	cp.mu.Lock()
	cp.pending = outs
	cp.mu.Unlock()
	select {
	case cp.notify <- struct{}{}:
	default:
	}
}

// hashLoop hashes checkpointed output bytes while the processor runs,
// each file opened beneath the staging dir (internal/safefs).
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
			if err := cp.advance(h, name, size); err != nil {
				delete(cp.se.hashers, name)
			}
		}
	}
}

func (cp *checkpointer) advance(h *hashcache.Incremental, name string, size int64) error {
	if size <= h.Offset() {
		return nil
	}
	if cp.dir == nil {
		return errors.New("no staging dir")
	}
	f, err := cp.dir.OpenFile(name, os.O_RDONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	return h.AdvanceAt(f, size)
}

// stop ends the attempt's checkpointing: the hashers catch up, and the last
// checkpoint gets its audit record if the throttle held it back.
func (cp *checkpointer) stop() {
	close(cp.notify)
	<-cp.hashDone
	_ = cp.dir.Close()
	if cp.saved != nil && cp.saved.ByteOffset > cp.audited {
		cp.se.record(runstate.StageCheckpoint{Attempt: cp.a.Attempt, LineOffset: cp.saved.LineOffset, ByteOffset: cp.saved.ByteOffset})
	}
}
