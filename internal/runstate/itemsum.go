package runstate

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"unsafe"

	"github.com/guardrun/guardrun/internal/atomicfile"
	"github.com/guardrun/guardrun/internal/hashcache"
)

// The item summary of a fan-out stage, stateDir/items_<stage>.sum, is a
// cache derived from its item journal: for every item that was up to date
// when a run ended, the identities of its input and output files as the
// journal recorded them. A run whose spec, stage-wide key parts and
// journal are those the summary was written with, and whose files all
// still have those identities, has nothing to do for the stage, and
// knows it from stats alone: without replaying the journal, decoding a
// record or computing a key. Anything else (a field that differs, a file
// that does not parse, a checksum that does not match) makes the summary
// worthless, never wrong: the journal decides then, as without one.
// Deleting it is always safe.
//
// Layout: the magic line, a JSON header line (SumHeader), the number of
// entries (uvarint), each entry as its length (uvarint) and bytes, sorted
// strictly by item id, and the CRC-32C (Castagnoli) of everything before
// it, 4 bytes little-endian. An entry is its item id, its inputs, its
// outputs (each a count, then path, size, SHA-256 and identity per
// file) and its line counters; strings are a uvarint length and bytes.

// sumMagic starts every item summary; a new encoding gets a new one.
const sumMagic = "GRSUM1\n"

// maxSummary bounds what ReadSummary reads: about 4 million items.
const maxSummary = 1 << 30

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ItemSummary is the item summary of a fan-out stage:
// stateDir/items_<stage>.sum.
func (l Layout) ItemSummary(stage string) string {
	return filepath.Join(l.StateDir, "items_"+stage+".sum")
}

// SumHeader says what an item summary is valid for.
type SumHeader struct {
	Stage string `json:"stage"`
	// Spec is the SHA-256 of the pipeline spec it was written under.
	Spec string `json:"spec"`
	// Base names the stage-wide key parts (ItemRecord.Base).
	Base string `json:"base"`
	// Journal is the identity of the item journal once the run that wrote
	// the summary had closed it: any later line, compaction or
	// replacement changes it.
	Journal hashcache.FileID `json:"journal"`
	// Complete is set when the entries are every live item of the journal:
	// a listing of exactly those items then has nothing to remove either.
	Complete bool `json:"complete"`
}

// SumFile is an input or output file of a summary entry.
type SumFile struct {
	Path   string // workspace-relative, slash-separated
	Size   int64
	SHA256 string
	ID     hashcache.FileID
}

// SumEntry is an item of a summary. Entry fills it with strings that
// share the summary's memory.
type SumEntry struct {
	Item              string
	Inputs, Outputs   []SumFile
	LinesIn, LinesOut int64
}

// AppendEntry appends e's encoding to b.
func AppendEntry(b []byte, e *SumEntry) []byte {
	b = appendStr(b, e.Item)
	for _, fs := range [2][]SumFile{e.Inputs, e.Outputs} {
		b = binary.AppendUvarint(b, uint64(len(fs)))
		for i := range fs {
			f := &fs[i]
			b = appendStr(b, f.Path)
			b = binary.AppendVarint(b, f.Size)
			b = appendStr(b, f.SHA256)
			b = binary.AppendUvarint(b, f.ID.Dev)
			b = binary.AppendUvarint(b, f.ID.Ino)
			b = binary.AppendVarint(b, f.ID.Size)
			b = binary.AppendVarint(b, f.ID.MtimeNs)
			b = binary.AppendVarint(b, f.ID.CtimeNs)
		}
	}
	b = binary.AppendVarint(b, e.LinesIn)
	return binary.AppendVarint(b, e.LinesOut)
}

func appendStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// WriteSummary atomically replaces the summary at path with h and entries
// (encoded by AppendEntry), which must be sorted strictly by item id. It
// is streamed: at 100,000 items the file is about 25 MB.
func WriteSummary(path string, h *SumHeader, entries []string) error {
	hj, err := json.Marshal(h)
	if err != nil {
		return fmt.Errorf("encoding item summary header: %w", err)
	}
	err = atomicfile.WriteFunc(path, 0o644, func(w io.Writer) error {
		crc := crc32.New(castagnoli)
		bw := bufio.NewWriterSize(io.MultiWriter(w, crc), 64<<10)
		var num [binary.MaxVarintLen64]byte
		_, _ = bw.WriteString(sumMagic)
		_, _ = bw.Write(hj)
		_ = bw.WriteByte('\n')
		_, _ = bw.Write(binary.AppendUvarint(num[:0], uint64(len(entries))))
		for _, e := range entries {
			_, _ = bw.Write(binary.AppendUvarint(num[:0], uint64(len(e))))
			_, _ = bw.WriteString(e)
		}
		if err := bw.Flush(); err != nil {
			return err
		}
		_, err := w.Write(binary.LittleEndian.AppendUint32(nil, crc.Sum32()))
		return err
	})
	if err != nil {
		return fmt.Errorf("writing item summary: %w", err)
	}
	return nil
}

// Summary is an item summary read by ReadSummary.
type Summary struct {
	Header SumHeader
	data   string   // the file's bytes
	ids    []string // item ids, sorted
	at     []int32  // where each entry starts in data
	end    []int32  // and ends
}

// ErrBadSummary is matched (errors.Is) when a summary file is not one.
var ErrBadSummary = errors.New("not a valid item summary")

// ReadSummary reads the summary at path: nil and no error when there is
// none, ErrBadSummary when the file is not a well-formed summary (the
// caller goes without it).
func ReadSummary(path string) (*Summary, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|noFollow, 0)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("opening item summary: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("reading item summary: %w", err)
	}
	if !fi.Mode().IsRegular() || fi.Size() > maxSummary {
		return nil, fmt.Errorf("%s: %w", path, ErrBadSummary)
	}
	buf := make([]byte, fi.Size())
	if _, err := io.ReadFull(f, buf); err != nil {
		return nil, fmt.Errorf("reading item summary: %w", err)
	}
	s, err := parseSummary(buf)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %v", path, ErrBadSummary, err)
	}
	return s, nil
}

// parseSummary checks and indexes a summary's bytes, which it keeps.
func parseSummary(buf []byte) (*Summary, error) {
	if len(buf) < len(sumMagic)+4 || string(buf[:len(sumMagic)]) != sumMagic {
		return nil, errors.New("bad magic")
	}
	body := buf[:len(buf)-4]
	if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(buf[len(body):]) {
		return nil, errors.New("checksum mismatch")
	}
	s := &Summary{}
	nl := bytes.IndexByte(body[len(sumMagic):], '\n')
	if nl < 0 {
		return nil, errors.New("no header")
	}
	if err := json.Unmarshal(body[len(sumMagic):len(sumMagic)+nl], &s.Header); err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	if len(body) > 1<<31-1 {
		return nil, errors.New("too large")
	}
	// The bytes are never written again: entries' strings share them.
	s.data = unsafe.String(unsafe.SliceData(body), len(body))
	d := sumDecoder{s: s.data, at: len(sumMagic) + nl + 1}
	n := d.uvarint()
	if d.bad || n > uint64(len(body)) {
		return nil, errors.New("bad entry count")
	}
	s.ids = make([]string, 0, n)
	s.at = make([]int32, 0, n)
	s.end = make([]int32, 0, n)
	for range n {
		ln := d.uvarint()
		start := d.at
		if d.bad || ln > uint64(len(s.data)-start) {
			return nil, errors.New("truncated entry")
		}
		d.at += int(ln)
		e := sumDecoder{s: s.data[:d.at], at: start}
		id := e.str()
		if e.bad {
			return nil, errors.New("bad entry")
		}
		if k := len(s.ids); k > 0 && s.ids[k-1] >= id {
			return nil, fmt.Errorf("entries not sorted at item %q", id)
		}
		s.ids = append(s.ids, id)
		s.at = append(s.at, int32(start))
		s.end = append(s.end, int32(d.at))
	}
	if d.at != len(s.data) {
		return nil, errors.New("trailing bytes")
	}
	return s, nil
}

// Len is the number of items.
func (s *Summary) Len() int { return len(s.ids) }

// Item is the id of entry i (sorted by id).
func (s *Summary) Item(i int) string { return s.ids[i] }

// Raw is the encoding of entry i, as AppendEntry made it.
func (s *Summary) Raw(i int) string { return s.data[s.at[i]:s.end[i]] }

// Entry decodes entry i into e, reusing its slices; false when the entry
// does not decode (the item is then decided without the summary).
func (s *Summary) Entry(i int, e *SumEntry) bool {
	d := sumDecoder{s: s.Raw(i)}
	e.Item = d.str()
	e.Inputs = d.files(e.Inputs[:0])
	e.Outputs = d.files(e.Outputs[:0])
	e.LinesIn = d.varint()
	e.LinesOut = d.varint()
	return !d.bad && d.at == len(d.s)
}

// sumDecoder reads the encodings of AppendEntry; bad is set by the first
// read past the end or of a malformed number, and every later read gives
// zero values.
type sumDecoder struct {
	s   string
	at  int
	bad bool
}

func (d *sumDecoder) uvarint() uint64 {
	var x uint64
	var shift uint
	for i := 0; i < binary.MaxVarintLen64; i++ {
		if d.bad || d.at >= len(d.s) {
			d.bad = true
			return 0
		}
		c := d.s[d.at]
		d.at++
		if c < 0x80 {
			if i == binary.MaxVarintLen64-1 && c > 1 {
				d.bad = true
				return 0
			}
			return x | uint64(c)<<shift
		}
		x |= uint64(c&0x7f) << shift
		shift += 7
	}
	d.bad = true
	return 0
}

func (d *sumDecoder) varint() int64 {
	ux := d.uvarint()
	x := int64(ux >> 1)
	if ux&1 != 0 {
		x = ^x
	}
	return x
}

func (d *sumDecoder) str() string {
	n := d.uvarint()
	if d.bad || n > uint64(len(d.s)-d.at) {
		d.bad = true
		return ""
	}
	v := d.s[d.at : d.at+int(n)]
	d.at += int(n)
	return v
}

func (d *sumDecoder) files(fs []SumFile) []SumFile {
	n := d.uvarint()
	if d.bad || n > uint64(len(d.s)-d.at) {
		d.bad = true
		return fs
	}
	for range n {
		var f SumFile
		f.Path = d.str()
		f.Size = d.varint()
		f.SHA256 = d.str()
		f.ID.Dev = d.uvarint()
		f.ID.Ino = d.uvarint()
		f.ID.Size = d.varint()
		f.ID.MtimeNs = d.varint()
		f.ID.CtimeNs = d.varint()
		if d.bad {
			return fs
		}
		fs = append(fs, f)
	}
	return fs
}
