package runner

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/guardrun/guardrun/internal/hashcache"
	"github.com/guardrun/guardrun/internal/runstate"
)

// This file is checkpoints and resume: the staging dir made to match a
// checkpoint before an attempt, and progress reports turned into
// progress_<stage>.json while it runs.

// prepareStaging makes the staging dir match the checkpoint: staged outputs
// truncated to their checkpointed sizes, everything else empty. Without a
// usable checkpoint it starts clean (and deletes the checkpoint). It
// returns the offsets to resume at and whether the checkpoint was used.
func (se *stageExec) prepareStaging(p *runstate.Progress) (line, byteOff int64, resumed bool, err error) {
	if p != nil && se.resumable(p) {
		err := filepath.WalkDir(se.staging, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(se.staging, path)
			size := p.Outputs[filepath.ToSlash(rel)] // 0 when not checkpointed
			if err := os.Truncate(path, size); err != nil {
				return err
			}
			if h := se.hashers[filepath.ToSlash(rel)]; h != nil && h.Offset() > size {
				delete(se.hashers, filepath.ToSlash(rel))
			}
			return nil
		})
		if err == nil {
			se.linesIn = p.LineOffset
			return p.LineOffset, p.ByteOffset, true, nil
		}
		se.log.Warn("checkpoint unusable, starting over", logKeyErr, err)
	}
	se.hashers = map[string]*hashcache.Incremental{}
	se.linesIn = 0
	if err := os.RemoveAll(se.staging); err != nil {
		return 0, 0, false, fmt.Errorf("clearing staging dir: %w", err)
	}
	if err := se.r.layout.RemoveProgress(se.st.Name); err != nil {
		return 0, 0, false, err
	}
	if err := os.MkdirAll(se.staging, 0o755); err != nil {
		return 0, 0, false, fmt.Errorf("creating staging dir: %w", err)
	}
	for _, o := range se.st.Outputs {
		path := filepath.Join(se.staging, filepath.FromSlash(o))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return 0, 0, false, fmt.Errorf("creating output %s: %w", o, err)
		}
		f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
		if err != nil {
			return 0, 0, false, fmt.Errorf("creating output %s: %w", o, err)
		}
		_ = f.Close()
	}
	return 0, 0, false, nil
}

// resumable: every checkpointed output is still staged at least as large as
// checkpointed (a crash during promotion moves files away).
func (se *stageExec) resumable(p *runstate.Progress) bool {
	for name, size := range p.Outputs {
		fi, err := os.Stat(filepath.Join(se.staging, filepath.FromSlash(name)))
		if err != nil || fi.Size() < size {
			return false
		}
	}
	if _, err := os.Stat(se.staging); err != nil {
		return false
	}
	return true
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
	last report
	err  error
	// saved is the last checkpoint persisted by this attempt.
	saved *runstate.Progress

	mu       sync.Mutex
	pending  map[string]int64
	notify   chan struct{}
	hashDone chan struct{}

	lastAudit time.Time
	audited   int64 // byte offset of the last audited checkpoint
}

func newCheckpointer(se *stageExec, a *runstate.Attempt) *checkpointer {
	cp := &checkpointer{se: se, a: a, last: report{LineOffset: a.StartLineOffset, ByteOffset: a.StartByteOffset},
		notify: make(chan struct{}, 1), hashDone: make(chan struct{})}
	go cp.hashLoop()
	return cp
}

// minPersistInterval coalesces reports from a chatty processor.
const minPersistInterval = 20 * time.Millisecond

// auditCheckpointEvery throttles checkpoint records in the audit chain.
const auditCheckpointEvery = 5 * time.Second

func (cp *checkpointer) read(rd io.Reader) {
	se := cp.se
	sc := bufio.NewScanner(rd)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var lastPersist time.Time
	var unsaved *report
	for sc.Scan() {
		line := sc.Bytes()
		if len(strings.TrimSpace(string(line))) == 0 {
			continue
		}
		var rep report
		if err := json.Unmarshal(line, &rep); err != nil {
			se.log.Warn("ignoring malformed progress report", logKeyErr, err)
			continue
		}
		if err := cp.validate(&rep); err != nil {
			se.log.Warn("ignoring invalid progress report", logKeyErr, err)
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
	if unsaved != nil {
		cp.persist(unsaved)
	}
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
		fi, err := os.Stat(filepath.Join(cp.se.staging, filepath.FromSlash(name)))
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
	p := &runstate.Progress{Stage: se.st.Name, RunID: se.r.runID, Attempt: cp.a.Attempt, IdempotencyKey: key,
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

// hashLoop hashes checkpointed output bytes while the processor runs.
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
			if err := h.Advance(size); err != nil {
				delete(cp.se.hashers, name)
			}
		}
	}
}

// stop ends the attempt's checkpointing: the hashers catch up, and the last
// checkpoint gets its audit record if the throttle held it back.
func (cp *checkpointer) stop() {
	close(cp.notify)
	<-cp.hashDone
	if cp.saved != nil && cp.saved.ByteOffset > cp.audited {
		cp.se.record(runstate.StageCheckpoint{Attempt: cp.a.Attempt, LineOffset: cp.saved.LineOffset, ByteOffset: cp.saved.ByteOffset})
	}
}
