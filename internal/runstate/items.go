package runstate

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"

	"github.com/guardrun/guardrun/internal/atomicfile"
	"github.com/guardrun/guardrun/internal/hashcache"
)

// The item journal of a fan-out stage, stateDir/items_<stage>.jsonl, is
// what the markers are to plain stages: for every item whose job
// succeeded, the key it succeeded under and the outputs it wrote. It is
// append-only between compactions: one JSON line per committed item, per
// removed item, and per new set of stage-wide key parts. Replaying it
// gives the live state: the last line of an item wins. A line is appended
// only after the item's outputs are durable in outputDir; a torn last
// line (guardrun killed while appending) is ignored and cut off before
// the next append, so the item reruns.

// ItemRecord is one line of an item journal.
type ItemRecord struct {
	// Item is the item id; "" on a line that records stage-wide parts.
	Item string `json:"item,omitempty"`
	// Key is the item's idempotency key.
	Key string `json:"key,omitempty"`
	// Base names the stage-wide key parts (processor, code, params, ...)
	// the key was made with: the Base of an earlier line with Parts.
	Base string `json:"base,omitempty"`
	// Parts, on a stage-wide line, are those parts (as the runner encodes
	// them), so that a changed key can be explained.
	Parts json.RawMessage `json:"parts,omitempty"`
	// Inputs are the item's own input files, as hashed.
	Inputs []InputRecord `json:"inputs,omitempty"`
	// Outputs are the files the item's job wrote, with their identity.
	Outputs []MarkerOutput `json:"outputs,omitempty"`
	// Removed marks an item that is gone: its outputs were deleted.
	Removed bool   `json:"removed,omitempty"`
	RunID   string `json:"runId,omitempty"`
	// Lines is how many lines its job reported reading (counters).
	LinesIn  int64 `json:"linesIn,omitempty"`
	LinesOut int64 `json:"linesOut,omitempty"`
}

// InputRecord is an item's input file as hashed. ID, when present, is the
// file's identity when it was hashed, recorded only when that hash can be
// trusted for that identity (the file was not modified within the stat
// cache's racy window of the hash): a later run that stats the same
// identity takes the hash from here, without the stat cache.
type InputRecord struct {
	Path   string            `json:"path"` // workspace-relative
	Size   int64             `json:"size"`
	SHA256 string            `json:"sha256"`
	ID     *hashcache.FileID `json:"id,omitempty"`
}

// ItemJournal is jsonl: stateDir/items_<stage>.jsonl.
func (l Layout) ItemJournal(stage string) string {
	return filepath.Join(l.StateDir, "items_"+stage+".jsonl")
}

// Journal is an item journal replayed into memory, open for appends.
type Journal struct {
	path string
	// Items are the live items (not removed), by id.
	Items map[string]*ItemRecord
	// Bases are the stage-wide parts recorded, by Base.
	Bases map[string]json.RawMessage

	mu    sync.Mutex
	f     *os.File
	good  int64 // length of the file up to its last complete line
	lines int   // lines in the file
	w     *bufio.Writer
	dirty bool
}

// OpenJournal replays the journal at path (none yet is an empty journal).
// A line that does not parse ends the replay there: it is the torn tail of
// an append, cut off before the next one.
func OpenJournal(path string) (*Journal, error) {
	j := &Journal{path: path, Items: map[string]*ItemRecord{}, Bases: map[string]json.RawMessage{}}
	f, err := os.OpenFile(path, os.O_RDONLY|noFollow, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return j, nil
	}
	if err != nil {
		return nil, fmt.Errorf("opening item journal: %w", err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("item journal %s is not a regular file", path)
	}
	// Lines are read a batch at a time (the journal of 100,000 items is
	// tens of MB: never all of it in memory at once), decoded in parallel,
	// then applied in order.
	br := bufio.NewReaderSize(f, 1<<20)
	const batchLines = 8192
	workers := runtime.NumCPU()
	decs := make([]itemDecoder, workers)
	for {
		var lines [][]byte
		eof := false
		for len(lines) < batchLines {
			line, err := br.ReadBytes('\n')
			if err == io.EOF {
				eof = true // a last line without '\n' is torn: dropped
				break
			}
			if err != nil {
				return nil, fmt.Errorf("reading item journal: %w", err)
			}
			lines = append(lines, line[:len(line)-1])
		}
		recs := make([]ItemRecord, len(lines))
		bad := make([]bool, len(lines))
		var wg sync.WaitGroup
		for w := 0; w < min(workers, 1+len(lines)/256); w++ {
			wg.Add(1)
			go func(w, step int) {
				defer wg.Done()
				d := &decs[w]
				for i := w; i < len(lines); i += step {
					bad[i] = !d.decode(lines[i], &recs[i])
				}
			}(w, min(workers, 1+len(lines)/256))
		}
		wg.Wait()
		for i := range recs {
			if bad[i] {
				return j, nil // a torn line: what follows it was never acknowledged
			}
			j.apply(&recs[i])
			j.good += int64(len(lines[i]) + 1)
			j.lines++
		}
		if eof {
			return j, nil
		}
	}
}

func (j *Journal) apply(rec *ItemRecord) {
	switch {
	case rec.Item == "" && rec.Base != "":
		j.Bases[rec.Base] = rec.Parts
	case rec.Item == "":
	case rec.Removed:
		delete(j.Items, rec.Item)
	default:
		j.Items[rec.Item] = rec
	}
}

// Append records recs (buffered; Sync makes them durable) and applies them.
func (j *Journal) Append(recs ...*ItemRecord) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		f, err := os.OpenFile(j.path, os.O_RDWR|os.O_CREATE|noFollow, 0o644)
		if err != nil {
			return fmt.Errorf("opening item journal: %w", err)
		}
		// Cut a torn tail, then append after the last complete line.
		if err := f.Truncate(j.good); err != nil {
			_ = f.Close()
			return fmt.Errorf("repairing item journal: %w", err)
		}
		if _, err := f.Seek(j.good, io.SeekStart); err != nil {
			_ = f.Close()
			return fmt.Errorf("repairing item journal: %w", err)
		}
		j.f, j.w = f, bufio.NewWriterSize(f, 64<<10)
	}
	for _, rec := range recs {
		b, err := json.Marshal(rec)
		if err != nil {
			return fmt.Errorf("encoding item record: %w", err)
		}
		_, _ = j.w.Write(b)
		if err := j.w.WriteByte('\n'); err != nil {
			return fmt.Errorf("appending to item journal: %w", err)
		}
		j.lines++
		j.apply(rec)
	}
	j.dirty = true
	return nil
}

// Sync writes buffered lines and makes them durable.
func (j *Journal) Sync() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.syncLocked()
}

func (j *Journal) syncLocked() error {
	if j.f == nil || !j.dirty {
		return nil
	}
	if err := j.w.Flush(); err != nil {
		return fmt.Errorf("appending to item journal: %w", err)
	}
	if err := j.f.Sync(); err != nil {
		return fmt.Errorf("syncing item journal: %w", err)
	}
	j.dirty = false
	if off, err := j.f.Seek(0, io.SeekCurrent); err == nil {
		j.good = off
	}
	return nil
}

// Close syncs and closes the journal; when it holds many superseded lines
// it is first rewritten (atomically) with only the live state.
func (j *Journal) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	err := j.syncLocked()
	if j.f != nil {
		err = errors.Join(err, j.f.Close())
		j.f, j.w = nil, nil
	}
	if live := len(j.Items) + len(j.Bases); err == nil && j.lines > live+live/4+64 {
		err = j.compactLocked()
	}
	return err
}

// compactLocked rewrites the journal with the live items and the parts
// they use, in item order.
func (j *Journal) compactLocked() error {
	used := map[string]bool{}
	ids := make([]string, 0, len(j.Items))
	for id, rec := range j.Items {
		ids = append(ids, id)
		used[rec.Base] = true
	}
	sort.Strings(ids)
	var buf bytes.Buffer
	lines := 0
	bases := make([]string, 0, len(used))
	for b := range used {
		if _, ok := j.Bases[b]; ok {
			bases = append(bases, b)
		}
	}
	sort.Strings(bases)
	keep := map[string]json.RawMessage{}
	for _, b := range bases {
		line, _ := json.Marshal(&ItemRecord{Base: b, Parts: j.Bases[b]})
		buf.Write(line)
		buf.WriteByte('\n')
		keep[b] = j.Bases[b]
		lines++
	}
	for _, id := range ids {
		line, err := json.Marshal(j.Items[id])
		if err != nil {
			return err
		}
		buf.Write(line)
		buf.WriteByte('\n')
		lines++
	}
	if err := atomicfile.WriteFile(j.path, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("compacting item journal: %w", err)
	}
	j.Bases, j.lines, j.good = keep, lines, int64(buf.Len())
	return nil
}

// Get returns the live record of item id (nil when none), safe to call
// while other goroutines append.
func (j *Journal) Get(id string) *ItemRecord {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.Items[id]
}

// Missing returns the live items that are not in keep, sorted.
func (j *Journal) Missing(keep map[string]bool) []*ItemRecord {
	j.mu.Lock()
	defer j.mu.Unlock()
	var out []*ItemRecord
	for id, rec := range j.Items {
		if !keep[id] {
			out = append(out, rec)
		}
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Item < out[b].Item })
	return out
}

// HasBase reports whether stage-wide parts base are recorded.
func (j *Journal) HasBase(base string) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	_, ok := j.Bases[base]
	return ok
}
