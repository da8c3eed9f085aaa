package audit

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/guardrun/guardrun/internal/atomicfile"
)

// ErrKeyMismatch is wrapped by Open when the log's last record was written
// with a key and none is given, or without one and a key is given, or does
// not verify with the given key.
var ErrKeyMismatch = errors.New("audit key does not match the log")

// ErrClosed is returned by Append after Close.
var ErrClosed = errors.New("audit log is closed")

// ErrLogChanged is what a *LogChangedError is (errors.Is): the file at the
// log's path is no longer the file guardrun has been appending to, or it
// was truncated or written behind guardrun's back.
var ErrLogChanged = errors.New("audit log changed behind guardrun's back")

// LogChangedError is the check before an append that failed: the open
// file's identity (device and inode) differs from the path's, or its size
// differs from what guardrun last wrote. The log refuses every later
// append: guardrun never keeps appending to a file that is not the log.
type LogChangedError struct {
	Path   string
	Reason string
}

func (e *LogChangedError) Error() string {
	return fmt.Sprintf("audit log %s: %s", e.Path, e.Reason)
}

// Is makes errors.Is(err, ErrLogChanged) true.
func (e *LogChangedError) Is(target error) bool { return target == ErrLogChanged }

// Code is a stable machine-readable name of the error.
func (e *LogChangedError) Code() string { return "audit_log_changed" }

// ErrRecordTooLarge is what a *RecordTooLargeError is (errors.Is).
var ErrRecordTooLarge = errors.New("audit record too large")

// RecordTooLargeError is an append refused because its line would exceed
// MaxLineBytes. Nothing is written; the caller must fail loudly (or record
// the bulk elsewhere by digest), never go on as if it were recorded.
type RecordTooLargeError struct {
	Event string
	Bytes int
}

func (e *RecordTooLargeError) Error() string {
	return fmt.Sprintf("appending audit record %s: %d bytes exceeds the limit of %d", e.Event, e.Bytes, MaxLineBytes)
}

// Is makes errors.Is(err, ErrRecordTooLarge) true.
func (e *RecordTooLargeError) Is(target error) bool { return target == ErrRecordTooLarge }

// Code is a stable machine-readable name of the error.
func (e *RecordTooLargeError) Code() string { return "audit_record_too_large" }

// repairPrefixBytes is how many of the dropped bytes a repair record keeps.
const repairPrefixBytes = 128

// tailChunk is the read size when scanning backwards for a newline.
const tailChunk = 16 << 10

// Log is an open audit log. Its methods are safe for concurrent use.
type Log struct {
	mu       sync.Mutex
	f        *os.File
	path     string
	key      []byte
	seq      int64
	hash     string
	size     int64
	dirty    bool
	err      error // sticky: the file's state is unknown after this
	now      func() time.Time
	repaired *Record
	last     *Record // the last record found at Open, nil for an empty log
	// syncedSeq and syncedHash are the head as of the last fsync that
	// succeeded: a head that survives a power cut.
	syncedSeq  int64
	syncedHash string
}

// Open opens or creates the log at path for appending. key (nil or empty for
// none) must match how the existing records were written. Open reads only
// the last record (cost independent of the log's size) to continue the
// chain. When the file ends in a torn line (no trailing newline, or a last
// line that is not a valid record), Open truncates it and appends an
// "audit.repaired" record with the number of bytes dropped and their first
// bytes in hex. Open takes no lock; the caller must be the only writer.
func Open(path string, key []byte) (*Log, error) {
	return open(path, key, time.Now)
}

func open(path string, key []byte, now func() time.Time) (_ *Log, err error) {
	pfi, statErr := os.Lstat(path)
	if statErr == nil && !pfi.Mode().IsRegular() {
		return nil, fmt.Errorf("opening audit log: %s is not a regular file (%s)", path, pfi.Mode().Type())
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening audit log: %w", err)
	}
	defer func() {
		if err != nil {
			_ = f.Close()
		}
	}()
	if errors.Is(statErr, os.ErrNotExist) {
		if err := atomicfile.SyncDir(filepath.Dir(path)); err != nil {
			return nil, err
		}
	}
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("opening audit log: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("opening audit log: %s is not a regular file", path)
	}
	if statErr == nil && !os.SameFile(fi, pfi) {
		return nil, fmt.Errorf("opening audit log: %s was replaced while it was being opened", path)
	}
	t, err := readTail(f, fi.Size())
	if err != nil {
		return nil, fmt.Errorf("opening audit log %s: %w", path, err)
	}
	l := &Log{f: f, path: path, key: append([]byte(nil), key...), seq: 0, hash: ZeroHash, size: t.end, now: now, syncedHash: ZeroHash}
	if t.head != nil {
		reason, err := checkHash(t.head, t.headRaw, key)
		if err != nil {
			return nil, err
		}
		if reason != "" {
			return nil, fmt.Errorf("opening audit log %s: last record (seq %d): %s: %w", path, t.head.Seq, reason, ErrKeyMismatch)
		}
		l.seq, l.hash = t.head.Seq, t.head.Hash
		l.syncedSeq, l.syncedHash = l.seq, l.hash
		last := *t.head
		l.last = &last
	}
	if t.dropped > 0 {
		if err := truncateFile(path, t.end); err != nil {
			return nil, fmt.Errorf("repairing audit log %s: %w", path, err)
		}
		rec, err := l.Append(Event{Type: EventRepaired, Data: map[string]any{
			"reason":           t.reason,
			"offset":           t.end,
			"droppedBytes":     t.dropped,
			"droppedPrefixHex": hex.EncodeToString(t.prefix),
		}})
		if err != nil {
			return nil, fmt.Errorf("repairing audit log %s: %w", path, err)
		}
		l.repaired = &rec
	}
	return l, nil
}

// truncateFile cuts path to size and fsyncs it through a handle of its own:
// on Windows a handle opened with O_APPEND lacks the right to truncate.
func truncateFile(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	err = f.Truncate(size)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// tail is what readTail found at the end of the file.
type tail struct {
	head    *Record // last complete record, nil when there is none
	headRaw []byte  // its line without the newline
	end     int64   // the file's size once the torn part is cut off
	dropped int64   // length of the torn part, 0 when the file is intact
	prefix  []byte  // the torn part's first bytes
	reason  string
}

// readTail finds the last record of f by reading backwards from its end,
// never more than two lines' worth (each bounded by MaxLineBytes).
func readTail(f *os.File, size int64) (tail, error) {
	t := tail{end: size}
	if size == 0 {
		return t, nil
	}
	last := make([]byte, 1)
	if _, err := f.ReadAt(last, size-1); err != nil {
		return t, err
	}
	if last[0] != '\n' {
		nl, err := lastNewline(f, size)
		if err != nil {
			return t, err
		}
		t.end = nl + 1
		t.reason = "last line has no trailing newline (append interrupted)"
	}
	for t.end > 0 {
		start, err := lastNewline(f, t.end-1)
		if err != nil {
			return t, err
		}
		start++
		raw := make([]byte, t.end-1-start)
		if _, err := f.ReadAt(raw, start); err != nil {
			return t, err
		}
		r, perr := parse(raw)
		if perr == nil {
			t.head, t.headRaw = r, raw
			break
		}
		if t.reason != "" {
			// The torn part is already cut off and the line before it is
			// bad too: that is corruption, not an interrupted append.
			return t, fmt.Errorf("line ending at byte %d: %v (not a torn append; run guardrun verify)", t.end, perr)
		}
		t.reason = fmt.Sprintf("last line is %v", perr)
		t.end = start
	}
	t.dropped = size - t.end
	if t.dropped > 0 {
		n := min(t.dropped, repairPrefixBytes)
		t.prefix = make([]byte, n)
		if _, err := f.ReadAt(t.prefix, t.end); err != nil {
			return t, err
		}
	}
	return t, nil
}

// lastNewline returns the offset of the last '\n' in f before offset end, or
// -1 when there is none. It reads backwards at most MaxLineBytes.
func lastNewline(f *os.File, end int64) (int64, error) {
	buf := make([]byte, tailChunk)
	floor := max(0, end-MaxLineBytes)
	for pos := end; pos > floor; {
		n := min(int64(len(buf)), pos-floor)
		pos -= n
		if _, err := f.ReadAt(buf[:n], pos); err != nil {
			return 0, err
		}
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			return pos + int64(i), nil
		}
	}
	if floor > 0 {
		return 0, fmt.Errorf("no line break in the last %d bytes before byte %d (line too long; not a torn append)", MaxLineBytes, end)
	}
	return -1, nil
}

// Append records ev and fsyncs the log before returning, so a returned
// record survives a crash or power cut.
func (l *Log) Append(ev Event) (Record, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	rec, err := l.appendLocked(ev)
	if err != nil {
		return Record{}, err
	}
	return rec, l.syncLocked()
}

// AppendNoSync records ev with one write(2) but does not fsync: the record
// is in the file (visible to readers, kept if guardrun is killed) but may be
// lost on a power cut until Sync. Use it to batch several records.
func (l *Log) AppendNoSync(ev Event) (Record, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.appendLocked(ev)
}

func (l *Log) appendLocked(ev Event) (Record, error) {
	if l.f == nil {
		return Record{}, ErrClosed
	}
	if l.err != nil {
		return Record{}, l.err
	}
	if ev.Type == "" {
		return Record{}, errors.New("appending audit record: event type is empty")
	}
	if err := l.checkIdentityLocked(); err != nil {
		l.err = err
		return Record{}, err
	}
	data, err := normalize(ev.Data)
	if err != nil {
		return Record{}, fmt.Errorf("appending audit record %s: %w", ev.Type, err)
	}
	rec := Record{
		Seq:   l.seq + 1,
		Time:  l.now().UTC().Format(time.RFC3339Nano),
		RunID: ev.RunID,
		Event: ev.Type,
		Stage: ev.Stage,
		Data:  data,
		Keyed: len(l.key) > 0,
		Prev:  l.hash,
	}
	canon, err := Canonical(&rec)
	if err != nil {
		return Record{}, err
	}
	rec.Hash = sum(l.key, canon)
	b := line(canon, rec.Hash)
	if len(b) > MaxLineBytes {
		return Record{}, &RecordTooLargeError{Event: ev.Type, Bytes: len(b)}
	}
	n, err := l.f.Write(b)
	if err != nil {
		// A partial line (disk full) must not stay in front of the next
		// record: cut the file back to where this append started.
		if n > 0 {
			if terr := truncateFile(l.path, l.size); terr != nil {
				l.err = fmt.Errorf("audit log %s left with a partial record: %w", l.path, terr)
			}
		}
		return Record{}, fmt.Errorf("appending to audit log %s: %w", l.path, err)
	}
	l.size += int64(n)
	l.seq, l.hash, l.dirty = rec.Seq, rec.Hash, true
	return rec, nil
}

// checkIdentityLocked makes sure the next write goes to the end of the log
// and nowhere else: the open file must still be the one at the path (same
// device and inode: not renamed away, deleted or replaced) and hold exactly
// the bytes guardrun wrote (not truncated, not appended to by another
// writer). O_APPEND would otherwise write to an old inode, or after bytes
// guardrun never wrote, without any error.
func (l *Log) checkIdentityLocked() error {
	fi, err := l.f.Stat()
	if err != nil {
		return fmt.Errorf("checking audit log %s: %w", l.path, err)
	}
	pfi, err := os.Lstat(l.path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return &LogChangedError{Path: l.path, Reason: "was removed or renamed away while guardrun was appending to it"}
	case err != nil:
		return fmt.Errorf("checking audit log %s: %w", l.path, err)
	case !os.SameFile(fi, pfi):
		return &LogChangedError{Path: l.path, Reason: "was replaced (the path now names another file) while guardrun was appending to it"}
	case fi.Size() < l.size:
		return &LogChangedError{Path: l.path, Reason: fmt.Sprintf("was truncated to %d bytes; guardrun had written %d", fi.Size(), l.size)}
	case fi.Size() > l.size:
		return &LogChangedError{Path: l.path, Reason: fmt.Sprintf("holds %d bytes; guardrun had written %d (written by someone else)", fi.Size(), l.size)}
	}
	return nil
}

// Sync fsyncs records written by AppendNoSync. After a failed fsync the
// kernel may have dropped the unwritten pages, so the log refuses further
// appends.
func (l *Log) Sync() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return ErrClosed
	}
	return l.syncLocked()
}

func (l *Log) syncLocked() error {
	if l.err != nil {
		return l.err
	}
	if !l.dirty {
		l.syncedSeq, l.syncedHash = l.seq, l.hash
		return nil
	}
	if err := l.f.Sync(); err != nil {
		l.err = fmt.Errorf("syncing audit log %s: %w", l.path, err)
		return l.err
	}
	l.dirty = false
	l.syncedSeq, l.syncedHash = l.seq, l.hash
	return nil
}

// Head returns the seq and hash of the last record (0 and ZeroHash for an
// empty log): the value to store in run_<id>.json for VerifyHead.
func (l *Log) Head() (seq int64, hash string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.seq, l.hash
}

// SyncedHead is Head as of the last successful fsync (Append, Sync): a
// head that a power cut cannot take back, for a state file written while
// records may still be unsynced.
func (l *Log) SyncedHead() (seq int64, hash string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.syncedSeq, l.syncedHash
}

// Last returns the last record the log held when Open read it (before any
// repair record Open appended): how the previous writer left the chain.
func (l *Log) Last() (Record, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.last == nil {
		return Record{}, false
	}
	return *l.last, true
}

// Repaired returns the "audit.repaired" record Open appended, if it cut off
// a torn last line.
func (l *Log) Repaired() (Record, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.repaired == nil {
		return Record{}, false
	}
	return *l.repaired, true
}

// Close syncs and closes the log. Closing twice is a no-op.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	serr := l.syncLocked()
	cerr := l.f.Close()
	l.f = nil
	if serr != nil {
		return serr
	}
	if cerr != nil {
		return fmt.Errorf("closing audit log %s: %w", l.path, cerr)
	}
	return nil
}
