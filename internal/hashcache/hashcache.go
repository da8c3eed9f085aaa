package hashcache

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"sync"
	"time"

	"github.com/guardrun/guardrun/internal/atomicfile"
)

// RacyWindow is how far apart a file's mtime and the moment it was hashed
// must be for the entry to be trusted later.
const RacyWindow = 2 * time.Second

// FileID identifies one version of a file without reading it.
type FileID struct {
	Dev     uint64 `json:"dev,omitempty"`
	Ino     uint64 `json:"ino,omitempty"`
	Size    int64  `json:"size"`
	MtimeNs int64  `json:"mtimeNs"`
	CtimeNs int64  `json:"ctimeNs,omitempty"`
}

// Entry is a cached hash.
type Entry struct {
	ID         FileID `json:"id"`
	SHA256     string `json:"sha256"`
	HashedAtNs int64  `json:"hashedAtNs"`
	// Produced marks outputs guardrun promoted itself.
	Produced bool `json:"produced,omitempty"`
}

// Stat returns the identity of the file at path.
func Stat(path string) (FileID, os.FileInfo, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return FileID{}, nil, err
	}
	return idOf(fi), fi, nil
}

// Cache is a persistent path -> hash cache, safe for concurrent use.
type Cache struct {
	path    string
	mu      sync.Mutex
	entries map[string]Entry
	dirty   bool
	now     func() time.Time
}

type fileFormat struct {
	Version int              `json:"version"`
	Entries map[string]Entry `json:"entries"`
}

// Open loads the cache stored at path; a missing or unreadable cache starts
// empty (it is only an optimisation).
func Open(path string) *Cache {
	c := &Cache{path: path, entries: map[string]Entry{}, now: time.Now}
	b, err := os.ReadFile(path)
	if err != nil {
		return c
	}
	var ff fileFormat
	if json.Unmarshal(b, &ff) == nil && ff.Version == 1 && ff.Entries != nil {
		c.entries = ff.Entries
	}
	return c
}

// Lookup returns a trusted cached hash for path with identity id.
func (c *Cache) Lookup(path string, id FileID) (string, bool) {
	c.mu.Lock()
	e, ok := c.entries[path]
	c.mu.Unlock()
	if !ok || e.ID != id {
		return "", false
	}
	if !e.Produced && e.HashedAtNs-id.MtimeNs < int64(RacyWindow) {
		return "", false
	}
	return e.SHA256, true
}

// Put records a hash for path.
func (c *Cache) Put(path string, id FileID, sum string, hashedAt time.Time, produced bool) {
	e := Entry{ID: id, SHA256: sum, HashedAtNs: hashedAt.UnixNano(), Produced: produced}
	c.mu.Lock()
	if old, ok := c.entries[path]; !ok || old != e {
		c.entries[path] = e
		c.dirty = true
	}
	c.mu.Unlock()
}

// Sum returns the SHA-256 (hex) and identity of the file at path, reading it
// only when no trusted entry exists.
func (c *Cache) Sum(path string) (string, FileID, error) {
	id, _, err := Stat(path)
	if err != nil {
		return "", FileID{}, err
	}
	if sum, ok := c.Lookup(path, id); ok {
		return sum, id, nil
	}
	hashedAt := c.now()
	sum, err := File(path)
	if err != nil {
		return "", FileID{}, err
	}
	// If the file changed while we read it, do not cache the result.
	id2, _, err := Stat(path)
	if err != nil {
		return "", FileID{}, err
	}
	if id2 != id {
		return "", FileID{}, fmt.Errorf("hashing %s: file changed while being read", path)
	}
	c.Put(path, id, sum, hashedAt, false)
	return sum, id, nil
}

// Save writes the cache atomically when it changed since Open.
func (c *Cache) Save() error {
	c.mu.Lock()
	if !c.dirty {
		c.mu.Unlock()
		return nil
	}
	ff := fileFormat{Version: 1, Entries: make(map[string]Entry, len(c.entries))}
	for k, v := range c.entries {
		ff.Entries[k] = v
	}
	c.dirty = false
	c.mu.Unlock()
	b, err := json.Marshal(ff)
	if err == nil {
		err = atomicfile.WriteFile(c.path, b, 0o644)
	}
	if err != nil {
		// Keep the changes for the next Save.
		c.mu.Lock()
		c.dirty = true
		c.mu.Unlock()
		return fmt.Errorf("saving hash cache: %w", err)
	}
	return nil
}

// File hashes a whole file with SHA-256.
func File(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	buf := bufPool.Get().(*[]byte)
	defer bufPool.Put(buf)
	if _, err := io.CopyBuffer(h, onlyReader{f}, *buf); err != nil {
		return "", fmt.Errorf("hashing %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 1<<20); return &b }}

// onlyReader hides WriterTo/ReaderFrom so CopyBuffer uses our large buffer.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

// Incremental hashes a file that grows by appending, as a processor reports
// progress, so that its hash is ready shortly after the processor exits.
type Incremental struct {
	path  string
	h     hash.Hash
	off   int64
	lines int64
}

// NewIncremental starts hashing path from offset 0.
func NewIncremental(path string) *Incremental {
	return &Incremental{path: path, h: sha256.New()}
}

// Advance hashes the file's bytes from the current offset up to size; bytes
// up to size must no longer change.
func (in *Incremental) Advance(size int64) error {
	if size <= in.off {
		return nil
	}
	f, err := os.Open(in.path)
	if err != nil {
		return err
	}
	defer f.Close()
	buf := bufPool.Get().(*[]byte)
	defer bufPool.Put(buf)
	n, err := io.CopyBuffer(lineCounter{in}, io.NewSectionReader(f, in.off, size-in.off), *buf)
	in.off += n
	if err != nil {
		return fmt.Errorf("hashing %s: %w", in.path, err)
	}
	if in.off != size {
		return fmt.Errorf("hashing %s: %w", in.path, io.ErrUnexpectedEOF)
	}
	return nil
}

type lineCounter struct{ in *Incremental }

func (w lineCounter) Write(p []byte) (int, error) {
	w.in.lines += int64(bytes.Count(p, []byte{'\n'}))
	return w.in.h.Write(p)
}

// Lines is how many newline bytes the hashed part holds.
func (in *Incremental) Lines() int64 { return in.lines }

// Offset is how many bytes have been hashed.
func (in *Incremental) Offset() int64 { return in.off }

// Finish hashes up to size and returns the hex digest.
func (in *Incremental) Finish(size int64) (string, error) {
	if size < in.off {
		return "", errors.New("file shrank below hashed offset")
	}
	if err := in.Advance(size); err != nil {
		return "", err
	}
	return hex.EncodeToString(in.h.Sum(nil)), nil
}
