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
//
// It holds where each live item's last line is, not the decoded records:
// at 100,000 items the records were most of guardrun's memory, and each
// is needed once (the item's decision). Get reads and decodes the line
// then, through a small cache of file chunks, so that the items of a
// compacted journal (sorted, as items are decided) cost one read per
// chunk, not one per item.
type Journal struct {
	path string
	// Bases are the stage-wide parts recorded, by Base.
	Bases map[string]json.RawMessage

	mu     sync.Mutex
	at     map[string]lineRef // live items (not removed): their last line
	rd     *os.File           // read handle from OpenJournal (nil: no file then)
	f      *os.File           // append handle, opened on the first Append
	w      *bufio.Writer
	good   int64 // length of the file up to its last complete line
	end    int64 // where the next appended line starts (buffered included)
	lines  int   // lines in the file
	dirty  bool
	chunks chunkCache
	closed int // live items when closed
}

// lineRef is where a line is: its offset and length (without '\n').
type lineRef struct {
	off int64
	n   int32
}

// OpenJournal replays the journal at path (none yet is an empty journal).
// A line that does not parse ends the replay there: it is the torn tail of
// an append, cut off before the next one. Replay checks every line whole
// but keeps only its item id and place; Get decodes a line again when its
// item is decided.
func OpenJournal(path string) (*Journal, error) {
	j := &Journal{path: path, at: map[string]lineRef{}, Bases: map[string]json.RawMessage{}}
	f, err := os.OpenFile(path, os.O_RDONLY|noFollow, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return j, nil
	}
	if err != nil {
		return nil, fmt.Errorf("opening item journal: %w", err)
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		_ = f.Close()
		return nil, fmt.Errorf("item journal %s is not a regular file", path)
	}
	j.rd = f
	br := bufio.NewReaderSize(io.NewSectionReader(f, 0, 1<<62), 1<<20)
	var d itemDecoder
	for {
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull { // a line over 1 MiB: read it whole
			head := append([]byte(nil), line...)
			var rest []byte
			rest, err = br.ReadBytes('\n')
			line = append(head, rest...)
		}
		if err == io.EOF {
			break // a last line without '\n' is torn: dropped
		}
		if err != nil {
			_ = f.Close()
			return nil, fmt.Errorf("reading item journal: %w", err)
		}
		line = line[:len(line)-1]
		if !j.replay(&d, line) {
			break // a torn line: what follows it was never acknowledged
		}
		j.good += int64(len(line) + 1)
		j.lines++
	}
	j.end = j.good
	return j, nil
}

// replay applies one line at offset j.good; false when it is not a line
// of the journal.
func (j *Journal) replay(d *itemDecoder, line []byte) bool {
	id, removed, ok := d.scan(line)
	if !ok {
		var rec ItemRecord
		if json.Unmarshal(line, &rec) != nil {
			return false
		}
		if rec.Item == "" {
			if rec.Base != "" {
				j.Bases[rec.Base] = rec.Parts
			}
			return true
		}
		id, removed = rec.Item, rec.Removed
	}
	if removed {
		delete(j.at, id)
	} else {
		j.at[id] = lineRef{off: j.good, n: int32(len(line))}
	}
	return true
}

// Append records recs (buffered; Sync makes them durable) and applies them.
func (j *Journal) Append(recs ...*ItemRecord) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.at == nil { // appended to after Close
		j.at, j.Bases = map[string]lineRef{}, map[string]json.RawMessage{}
	}
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
		j.end = j.good
		j.chunks.reset() // what was read past good is gone
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
		switch {
		case rec.Item == "" && rec.Base != "":
			j.Bases[rec.Base] = rec.Parts
		case rec.Item == "":
		case rec.Removed:
			delete(j.at, rec.Item)
		default:
			j.at[rec.Item] = lineRef{off: j.end, n: int32(len(b))}
		}
		j.end += int64(len(b) + 1)
		j.lines++
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
	j.good = j.end
	return nil
}

// Close syncs and closes the journal; when it holds many superseded lines
// it is first rewritten (atomically) with only the live state.
func (j *Journal) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	err := j.syncLocked()
	if live := len(j.at) + len(j.Bases); err == nil && j.lines > live+live/4+64 {
		err = j.compactLocked()
	}
	for _, f := range []*os.File{j.f, j.rd} {
		if f != nil {
			err = errors.Join(err, f.Close())
		}
	}
	// A closed journal is not read again; what it held is released for
	// the stages that follow (a fan-in).
	j.f, j.w, j.rd = nil, nil, nil
	j.closed = len(j.at)
	j.at, j.Bases = nil, nil
	j.chunks.reset()
	return err
}

// Discard closes a journal that was only read (plan's): nothing buffered
// is written and it is never compacted.
func (j *Journal) Discard() {
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, f := range []*os.File{j.f, j.rd} {
		if f != nil {
			_ = f.Close()
		}
	}
	j.f, j.w, j.rd = nil, nil, nil
	j.chunks.reset()
}

// compactLocked rewrites the journal with the live items (their lines as
// they are) and the parts they use, in item order.
func (j *Journal) compactLocked() error {
	d := &itemDecoder{}
	ids := make([]string, 0, len(j.at))
	for id := range j.at {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var items bytes.Buffer
	used := map[string]bool{}
	at := make(map[string]lineRef, len(ids))
	for _, id := range ids {
		line, err := j.readLocked(j.at[id], nil)
		if err != nil {
			return fmt.Errorf("compacting item journal: %w", err)
		}
		var rec ItemRecord
		if !d.decode(line, &rec) {
			continue // damaged: not live, its item runs again
		}
		used[rec.Base] = true
		at[id] = lineRef{off: int64(items.Len()), n: int32(len(line))}
		items.Write(line)
		items.WriteByte('\n')
	}
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
	head := int64(buf.Len())
	buf.Write(items.Bytes())
	lines += len(at)
	if err := atomicfile.WriteFile(j.path, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("compacting item journal: %w", err)
	}
	for id, ref := range at {
		ref.off += head
		at[id] = ref
	}
	j.Bases, j.at, j.lines, j.good, j.end = keep, at, lines, int64(buf.Len()), int64(buf.Len())
	return nil
}

// readLocked returns a copy of the line at ref, from the file (flushing
// appends still buffered first).
func (j *Journal) readLocked(ref lineRef, buf []byte) ([]byte, error) {
	if j.w != nil && j.w.Buffered() > 0 && ref.off+int64(ref.n) > j.end-int64(j.w.Buffered()) {
		if err := j.w.Flush(); err != nil {
			return nil, err
		}
	}
	f := j.f
	if f == nil {
		f = j.rd
	}
	if f == nil {
		return nil, errors.New("item journal has no file")
	}
	return j.chunks.read(f, ref.off, int(ref.n), buf[:0])
}

// lineBufs are Get's line buffers: the decoder copies what it keeps, so a
// line's bytes are garbage once decoded (at 100,000 items, 68 MB of it).
var lineBufs = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// Get returns the live record of item id (nil when none, or when its line
// cannot be read or decoded: the item then runs again), safe to call while
// other goroutines append.
func (j *Journal) Get(id string) *ItemRecord {
	bp := lineBufs.Get().(*[]byte)
	defer lineBufs.Put(bp)
	j.mu.Lock()
	ref, ok := j.at[id]
	var line []byte
	var err error
	if ok {
		line, err = j.readLocked(ref, *bp)
	}
	j.mu.Unlock()
	if !ok || err != nil {
		return nil
	}
	*bp = line
	var d itemDecoder
	rec := d.decodeOnceNew(line)
	if rec == nil || rec.Item != id || rec.Removed {
		return nil
	}
	return rec
}

// Len is the number of live items (once closed, when it was closed).
func (j *Journal) Len() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.at == nil {
		return j.closed
	}
	return len(j.at)
}

// Missing returns the live items that are not in keep, sorted.
func (j *Journal) Missing(keep map[string]bool) []*ItemRecord {
	j.mu.Lock()
	var ids []string
	for id := range j.at {
		if !keep[id] {
			ids = append(ids, id)
		}
	}
	j.mu.Unlock()
	sort.Strings(ids)
	out := make([]*ItemRecord, 0, len(ids))
	for _, id := range ids {
		if rec := j.Get(id); rec != nil {
			out = append(out, rec)
		} else {
			// Unreadable: what it named is unknown, so only the id is left.
			out = append(out, &ItemRecord{Item: id})
		}
	}
	return out
}

// HasBase reports whether stage-wide parts base are recorded.
func (j *Journal) HasBase(base string) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	_, ok := j.Bases[base]
	return ok
}

// chunkCache keeps the last few chunks of the journal file read by Get:
// items are decided in order, and a compacted journal lists them in order,
// so consecutive Gets read consecutive lines.
type chunkCache struct {
	chunks [4]chunk
	next   int
}

type chunk struct {
	off  int64
	data []byte // what the file held at [off, off+len(data)) when read
}

const chunkSize = 256 << 10

func (c *chunkCache) reset() { *c = chunkCache{} }

// read appends a copy of n bytes at off of f to out.
func (c *chunkCache) read(f *os.File, off int64, n int, out []byte) ([]byte, error) {
	n += len(out)
	off -= int64(len(out))
	for len(out) < n {
		at := off + int64(len(out))
		ch, err := c.get(f, at-at%chunkSize, at)
		if err != nil {
			return nil, err
		}
		part := ch.data[at-ch.off:]
		out = append(out, part[:min(len(part), n-len(out))]...)
	}
	return out, nil
}

// get returns the chunk at start, holding the byte at need.
func (c *chunkCache) get(f *os.File, start, need int64) (*chunk, error) {
	for i := range c.chunks {
		ch := &c.chunks[i]
		if ch.data != nil && ch.off == start && need < ch.off+int64(len(ch.data)) {
			return ch, nil
		}
	}
	ch := &c.chunks[c.next]
	c.next = (c.next + 1) % len(c.chunks)
	if cap(ch.data) < chunkSize {
		ch.data = make([]byte, chunkSize)
	}
	n, err := f.ReadAt(ch.data[:chunkSize], start)
	if err != nil && !errors.Is(err, io.EOF) {
		ch.data = nil
		return nil, err
	}
	ch.off, ch.data = start, ch.data[:n]
	if need >= start+int64(n) {
		ch.data = nil
		return nil, io.ErrUnexpectedEOF
	}
	return ch, nil
}
