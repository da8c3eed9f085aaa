package hashcache

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/guardrun/guardrun/internal/atomicfile"
	"github.com/guardrun/guardrun/internal/safefs"
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

// ID is the identity of the file fi describes.
func ID(fi os.FileInfo) FileID { return idOf(fi) }

// ErrNotRegular is matched (errors.Is) when a file to hash is a FIFO,
// device, socket or directory: only regular files are hashed.
var ErrNotRegular = errors.New("not a regular file")

func notRegular(path string, m os.FileMode) error {
	return fmt.Errorf("hashing %s: refused: %s, %w", path, safefs.Kind(m), ErrNotRegular)
}

// Cache is a persistent path -> hash cache, safe for concurrent use.
type Cache struct {
	path    string
	mu      sync.Mutex
	entries map[string]Entry
	dirty   bool
	now     func() time.Time
	// used are the paths looked up or put since Open (EvictUnused).
	used map[string]struct{}
}

// The cache file is plain text, one entry per line, because a no-op rerun
// reads it whole and encoding/json would cost more than everything else:
//
//	guardrun-hashcache 2
//	<sha256 hex> <dev> <ino> <size> <mtimeNs> <ctimeNs> <hashedAtNs> <produced 0|1> <path>
//
// The path comes last and runs to the end of the line (it may contain
// spaces; it never contains a newline: such paths are not cached).
const fileHeader = "guardrun-hashcache 2"

// Open loads the cache stored at path; a missing or unreadable cache starts
// empty (it is only an optimisation).
func Open(path string) *Cache {
	c := &Cache{path: path, entries: map[string]Entry{}, now: time.Now}
	b, err := os.ReadFile(path)
	if err != nil {
		return c
	}
	if entries, ok := decode(b); ok {
		c.entries = entries
	}
	return c
}

// decode parses the cache file; any malformed line invalidates the whole
// file (it is only a cache: starting empty is always safe).
func decode(b []byte) (map[string]Entry, bool) {
	// The entries' strings are substrings of the file's bytes, which are
	// never written again: no copy of a file that is tens of MB for a
	// hundred thousand files.
	text := unsafe.String(unsafe.SliceData(b), len(b))
	nl := strings.IndexByte(text, '\n')
	if nl < 0 || text[:nl] != fileHeader {
		return nil, false
	}
	text = text[nl+1:]
	entries := make(map[string]Entry, strings.Count(text, "\n"))
	for len(text) > 0 {
		nl = strings.IndexByte(text, '\n')
		if nl < 0 {
			return nil, false
		}
		line := text[:nl]
		text = text[nl+1:]
		var f [8]string
		for i := range f {
			sp := strings.IndexByte(line, ' ')
			if sp < 0 {
				return nil, false
			}
			f[i], line = line[:sp], line[sp+1:]
		}
		var n [6]int64
		for i := range n {
			v, ok := parseInt(f[i+1])
			if !ok {
				return nil, false
			}
			n[i] = v
		}
		if len(f[0]) != 64 || line == "" || (f[7] != "0" && f[7] != "1") {
			return nil, false
		}
		entries[line] = Entry{
			ID:     FileID{Dev: uint64(n[0]), Ino: uint64(n[1]), Size: n[2], MtimeNs: n[3], CtimeNs: n[4]},
			SHA256: f[0], HashedAtNs: n[5], Produced: f[7] == "1",
		}
	}
	return entries, true
}

// parseInt is strconv.ParseInt(s, 10, 64) for what encode writes (an
// optional '-', then digits), without its error values: a no-op run
// parses six numbers for every file it knows.
func parseInt(s string) (int64, bool) {
	neg := len(s) > 0 && s[0] == '-'
	if neg {
		s = s[1:]
	}
	if len(s) == 0 || len(s) > 19 {
		return 0, false
	}
	var n uint64
	for i := 0; i < len(s); i++ {
		c := s[i] - '0'
		if c > 9 {
			return 0, false
		}
		n = n*10 + uint64(c)
	}
	if n > 1<<63 || (n == 1<<63 && !neg) {
		return 0, false
	}
	if neg {
		return -int64(n), true
	}
	return int64(n), true
}

func encode(entries map[string]Entry) []byte {
	paths := make([]string, 0, len(entries))
	for p := range entries {
		if !strings.ContainsAny(p, "\n\r") {
			paths = append(paths, p)
		}
	}
	sort.Strings(paths)
	b := make([]byte, 0, 64+len(paths)*192)
	b = append(b, fileHeader+"\n"...)
	for _, p := range paths {
		e := entries[p]
		b = append(b, e.SHA256...)
		for _, v := range []int64{int64(e.ID.Dev), int64(e.ID.Ino), e.ID.Size, e.ID.MtimeNs, e.ID.CtimeNs, e.HashedAtNs} {
			b = append(b, ' ')
			b = strconv.AppendInt(b, v, 10)
		}
		if e.Produced {
			b = append(b, " 1 "...)
		} else {
			b = append(b, " 0 "...)
		}
		b = append(b, p...)
		b = append(b, '\n')
	}
	return b
}

// Lookup returns a trusted cached hash for path with identity id.
func (c *Cache) Lookup(path string, id FileID) (string, bool) {
	c.mu.Lock()
	e, ok := c.entries[path]
	if ok {
		c.use(path)
	}
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
	c.use(path)
	c.mu.Unlock()
}

func (c *Cache) use(path string) {
	if c.used == nil {
		c.used = map[string]struct{}{}
	}
	c.used[path] = struct{}{}
}

// EvictUnused forgets the entries nobody looked up or put since Open. A
// run that decided every stage calls it before Save: what it did not need
// (files gone, inputs of fan-out items, which their journal identifies)
// would otherwise be read and kept in memory by every later run.
func (c *Cache) EvictUnused() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for p := range c.entries {
		if _, ok := c.used[p]; !ok {
			delete(c.entries, p)
			c.dirty = true
		}
	}
}

// Sum returns the SHA-256 (hex) and identity of the file at path, reading it
// only when no trusted entry exists.
func (c *Cache) Sum(path string) (string, FileID, error) {
	return c.SumContext(context.Background(), path)
}

// SumContext is Sum, reading the file only while ctx is live. A file that
// is not regular (a FIFO, a device, a socket) is refused with an error
// matching ErrNotRegular, before it is read.
func (c *Cache) SumContext(ctx context.Context, path string) (string, FileID, error) {
	_, fi, err := Stat(path)
	if err != nil {
		return "", FileID{}, err
	}
	return c.SumStatContext(ctx, path, fi)
}

// SumStatContext is SumContext for a file the caller has just stat'ed
// (os.Stat, following symlinks, as Stat does): fi is trusted as that
// stat, saving the cache's own.
func (c *Cache) SumStatContext(ctx context.Context, path string, fi os.FileInfo) (string, FileID, error) {
	id := idOf(fi)
	if !fi.Mode().IsRegular() {
		return "", FileID{}, notRegular(path, fi.Mode())
	}
	if sum, ok := c.Lookup(path, id); ok {
		return sum, id, nil
	}
	hashedAt := c.now()
	sum, err := FileContext(ctx, path)
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
	b := encode(c.entries)
	c.dirty = false
	c.mu.Unlock()
	err := atomicfile.WriteFile(c.path, b, 0o644)
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
func File(path string) (string, error) { return FileContext(context.Background(), path) }

// FileContext hashes a whole regular file with SHA-256, stopping with
// ctx's error when ctx ends. The file is opened without blocking (a FIFO
// cannot hang it) and refused (ErrNotRegular) unless it is regular.
func FileContext(ctx context.Context, path string) (string, error) {
	f, err := openNonBlocking(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", err
	}
	if !fi.Mode().IsRegular() {
		return "", notRegular(path, fi.Mode())
	}
	h := sha256.New()
	buf := bufPool.Get().(*[]byte)
	defer bufPool.Put(buf)
	if _, err := io.CopyBuffer(h, ctxReader{ctx, f}, *buf); err != nil {
		return "", fmt.Errorf("hashing %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// ctxReader stops reading once ctx is done (checked before each read of
// up to one buffer, 1 MiB).
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 1<<20); return &b }}

// onlyReader hides WriterTo/ReaderFrom so CopyBuffer uses our large buffer.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

// Incremental hashes a file that grows by appending, as a processor reports
// progress, so that its hash is ready shortly after the processor exits.
type Incremental struct {
	path  string
	open  func() (*os.File, error)
	h     hash.Hash
	off   int64
	lines int64
}

// NewIncremental starts hashing path from offset 0.
func NewIncremental(path string) *Incremental {
	return NewIncrementalOpen(path, func() (*os.File, error) { return openRegular(path) })
}

// NewIncrementalOpen starts hashing from offset 0 the file that open
// opens each time Advance needs it (e.g. safefs: beneath a staging dir,
// without following symlinks); path names it in errors.
func NewIncrementalOpen(path string, open func() (*os.File, error)) *Incremental {
	return &Incremental{path: path, open: open, h: sha256.New()}
}

// openRegular opens path for reading without blocking and refuses
// anything but a regular file.
func openRegular(path string) (*os.File, error) {
	f, err := openNonBlocking(path)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = notRegular(path, fi.Mode())
	}
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	return f, nil
}

// Advance hashes the file's bytes from the current offset up to size; bytes
// up to size must no longer change.
func (in *Incremental) Advance(size int64) error {
	if size <= in.off {
		return nil
	}
	f, err := in.open()
	if err != nil {
		return err
	}
	defer f.Close()
	return in.AdvanceAt(f, size)
}

// AdvanceAt is Advance reading from r, the file already open.
func (in *Incremental) AdvanceAt(r io.ReaderAt, size int64) error {
	if size <= in.off {
		return nil
	}
	buf := bufPool.Get().(*[]byte)
	defer bufPool.Put(buf)
	n, err := io.CopyBuffer(lineCounter{in}, io.NewSectionReader(r, in.off, size-in.off), *buf)
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

// FinishAt is Finish reading from r, the file already open.
func (in *Incremental) FinishAt(r io.ReaderAt, size int64) (string, error) {
	if size < in.off {
		return "", errors.New("file shrank below hashed offset")
	}
	if err := in.AdvanceAt(r, size); err != nil {
		return "", err
	}
	return hex.EncodeToString(in.h.Sum(nil)), nil
}
