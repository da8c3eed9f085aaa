package runstate

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"
	"unsafe"

	"github.com/guardrun/guardrun/internal/hashcache"
)

// Replaying the journal of 10,000 items with encoding/json cost more than
// the rest of a no-op run. Almost every line is an item line exactly as
// json.Marshal wrote it (fields in declaration order, plain strings), so
// itemDecoder reads that one shape directly and hands anything else —
// escapes, other field orders, stage-wide lines, a torn line — to
// encoding/json. The fast path accepts only the canonical form, so both
// paths always agree (itemdecode_test.go compares them).

// itemDecoder decodes journal lines; one per goroutine. It shares the
// strings that repeat on every line (base, run id) between records.
type itemDecoder struct {
	b      []byte
	i      int
	intern map[string]string
	// s, when set, is b as one string: decoded strings are substrings of
	// it (one allocation per line, not one per field), so a record
	// decoded for one use (Get) costs little; what keeps one of its
	// strings keeps the whole line.
	s string
	// blk, when set, holds the first input, its identity and the first
	// output of the record being decoded: one allocation for a record of
	// one input and one output (the common item) instead of four.
	blk *recordBlock
	// scanning: check the line's shape and keep nothing (scan).
	scanning bool
	id       hashcache.FileID // where a scan reads identities into
}

// scan checks that line is a canonical item line and returns its item id
// and whether it records a removal, allocating only the id; ok is false
// when the line is not canonical (encoding/json decides then).
func (d *itemDecoder) scan(line []byte) (id string, removed bool, ok bool) {
	var rec ItemRecord
	d.scanning = true
	ok = d.fast(line, &rec)
	d.scanning = false
	return rec.Item, rec.Removed, ok
}

// decode fills rec from line, reporting whether line is a valid record.
func (d *itemDecoder) decode(line []byte, rec *ItemRecord) bool {
	if d.fast(line, rec) {
		return true
	}
	*rec = ItemRecord{}
	return json.Unmarshal(line, rec) == nil
}

// recordBlock is an ItemRecord allocated with room for one input, its
// identity and one output (decodeOnce).
type recordBlock struct {
	rec   ItemRecord
	in    [1]InputRecord
	id    hashcache.FileID
	idSet bool
	out   [1]MarkerOutput
}

// decodeOnceNew decodes line into a new record (decodeOnce), allocated
// with its first input and output; nil when line is not a valid record.
func (d *itemDecoder) decodeOnceNew(line []byte) *ItemRecord {
	blk := new(recordBlock)
	d.blk = blk
	defer func() { d.blk = nil }()
	if !d.decodeOnce(line, &blk.rec) {
		return nil
	}
	return &blk.rec
}

// decodeOnce is decode for a record used once and dropped: its strings
// share one copy of line.
func (d *itemDecoder) decodeOnce(line []byte, rec *ItemRecord) bool {
	d.s = string(line)
	defer func() { d.s = "" }()
	if d.fast(unsafe.Slice(unsafe.StringData(d.s), len(d.s)), rec) {
		return true
	}
	*rec = ItemRecord{}
	return json.Unmarshal(line, rec) == nil
}

// fast decodes the canonical form of an item line; false means "not
// canonical", never "invalid".
func (d *itemDecoder) fast(line []byte, rec *ItemRecord) bool {
	if !bytes.HasPrefix(line, []byte(`{"item":"`)) {
		return false
	}
	d.b, d.i = line, len(`{"item":`)
	var ok bool
	scanning := d.scanning
	d.scanning = false // the id is kept
	rec.Item, ok = d.str(false)
	d.scanning = scanning
	if !ok || rec.Item == "" {
		return false
	}
	if d.field("key") {
		if rec.Key, ok = d.str(false); !ok {
			return false
		}
	}
	if d.field("base") {
		if rec.Base, ok = d.str(true); !ok {
			return false
		}
	}
	if d.field("inputs") {
		if rec.Inputs, ok = d.inputRecords(); !ok {
			return false
		}
	}
	if d.field("outputs") {
		if rec.Outputs, ok = d.markerOutputs(); !ok {
			return false
		}
	}
	if d.field("removed") {
		if !d.lit("true") {
			return false
		}
		rec.Removed = true
	}
	if d.field("runId") {
		if rec.RunID, ok = d.str(true); !ok {
			return false
		}
	}
	if d.field("linesIn") {
		if rec.LinesIn, ok = d.int(); !ok {
			return false
		}
	}
	if d.field("linesOut") {
		if rec.LinesOut, ok = d.int(); !ok {
			return false
		}
	}
	return d.lit("}") && d.i == len(d.b)
}

// field consumes `,"name":` when it comes next.
func (d *itemDecoder) field(name string) bool {
	rest := d.b[d.i:]
	if len(rest) < len(name)+4 || rest[0] != ',' || rest[1] != '"' ||
		string(rest[2:2+len(name)]) != name || rest[2+len(name)] != '"' || rest[3+len(name)] != ':' {
		return false
	}
	d.i += len(name) + 4
	return true
}

// lit consumes s when it comes next.
func (d *itemDecoder) lit(s string) bool {
	if !bytes.HasPrefix(d.b[d.i:], []byte(s)) {
		return false
	}
	d.i += len(s)
	return true
}

// str reads a string without escapes or control characters, in valid
// UTF-8 (what encoding/json would decode to the same bytes).
func (d *itemDecoder) str(intern bool) (string, bool) {
	if d.i >= len(d.b) || d.b[d.i] != '"' {
		return "", false
	}
	start := d.i + 1
	ascii := true
	for j := start; j < len(d.b); j++ {
		c := d.b[j]
		switch {
		case c == '"':
			raw := d.b[start:j]
			if !ascii && !utf8.Valid(raw) {
				return "", false
			}
			d.i = j + 1
			if d.scanning {
				return "", true
			}
			if d.s != "" {
				return d.s[start:j], true
			}
			if intern {
				if s, ok := d.intern[string(raw)]; ok {
					return s, true
				}
				if d.intern == nil {
					d.intern = map[string]string{}
				}
				s := string(raw)
				d.intern[s] = s
				return s, true
			}
			return string(raw), true
		case c == '\\' || c < 0x20:
			return "", false
		case c >= 0x80:
			ascii = false
		}
	}
	return "", false
}

// int reads a JSON integer in int64 range (canonical: no leading zeros).
func (d *itemDecoder) int() (int64, bool) {
	j := d.i
	neg := j < len(d.b) && d.b[j] == '-'
	if neg {
		j++
	}
	start := j
	var n uint64
	for j < len(d.b) && d.b[j] >= '0' && d.b[j] <= '9' {
		if n > (1<<63)/10 {
			return 0, false
		}
		n = n*10 + uint64(d.b[j]-'0')
		j++
	}
	digits := j - start
	if digits == 0 || (digits > 1 && d.b[start] == '0') || n > 1<<63 || (n == 1<<63 && !neg) {
		return 0, false
	}
	if j < len(d.b) && (d.b[j] == '.' || d.b[j] == 'e' || d.b[j] == 'E') {
		return 0, false
	}
	d.i = j
	if neg {
		return -int64(n), true
	}
	return int64(n), true
}

// uint reads a non-negative integer.
func (d *itemDecoder) uint() (uint64, bool) {
	n, ok := d.int()
	return uint64(n), ok && n >= 0
}

// outputRecord reads {"path":..,"size":..,"sha256":..} after its '{'.
func (d *itemDecoder) outputRecord(o *OutputRecord) bool {
	var ok bool
	if !d.lit(`"path":`) {
		return false
	}
	if o.Path, ok = d.str(false); !ok {
		return false
	}
	if !d.field("size") {
		return false
	}
	if o.Size, ok = d.int(); !ok {
		return false
	}
	if !d.field("sha256") {
		return false
	}
	o.SHA256, ok = d.str(false)
	return ok
}

func (d *itemDecoder) inputRecords() ([]InputRecord, bool) {
	if d.lit("null") {
		return nil, true
	}
	if !d.lit("[") {
		return nil, false
	}
	if d.lit("]") {
		return []InputRecord{}, true
	}
	var out []InputRecord
	if d.blk != nil && !d.scanning {
		out = d.blk.in[:0]
	}
	for {
		var r OutputRecord
		if !d.lit("{") || !d.outputRecord(&r) {
			return nil, false
		}
		in := InputRecord{Path: r.Path, Size: r.Size, SHA256: r.SHA256}
		if d.field("id") {
			in.ID = &d.id
			switch {
			case d.scanning:
			case d.blk != nil && !d.blk.idSet:
				d.blk.idSet = true
				in.ID = &d.blk.id
			default:
				in.ID = new(hashcache.FileID)
			}
			if !d.fileID(in.ID) {
				return nil, false
			}
		}
		if !d.lit("}") {
			return nil, false
		}
		if !d.scanning {
			out = append(out, in)
		}
		if d.lit("]") {
			return out, true
		}
		if !d.lit(",") {
			return nil, false
		}
	}
}

// fileID reads {"dev":..,"ino":..,"size":..,"mtimeNs":..,"ctimeNs":..}
// (dev, ino and ctimeNs omitted when zero).
func (d *itemDecoder) fileID(id *hashcache.FileID) bool {
	if !d.lit("{") {
		return false
	}
	var ok bool
	sep := ""
	if d.lit(`"dev":`) {
		if id.Dev, ok = d.uint(); !ok {
			return false
		}
		sep = ","
	}
	if d.lit(sep + `"ino":`) {
		if id.Ino, ok = d.uint(); !ok {
			return false
		}
		sep = ","
	}
	if !d.lit(sep + `"size":`) {
		return false
	}
	if id.Size, ok = d.int(); !ok || !d.field("mtimeNs") {
		return false
	}
	if id.MtimeNs, ok = d.int(); !ok {
		return false
	}
	if d.field("ctimeNs") {
		if id.CtimeNs, ok = d.int(); !ok {
			return false
		}
	}
	return d.lit("}")
}

func (d *itemDecoder) markerOutputs() ([]MarkerOutput, bool) {
	if d.lit("null") {
		return nil, true
	}
	if !d.lit("[") {
		return nil, false
	}
	if d.lit("]") {
		return []MarkerOutput{}, true
	}
	var out []MarkerOutput
	if d.blk != nil && !d.scanning {
		out = d.blk.out[:0]
	}
	for {
		var o MarkerOutput
		if !d.lit("{") || !d.outputRecord(&o.OutputRecord) || !d.field("id") || !d.fileID(&o.ID) || !d.lit("}") {
			return nil, false
		}
		if !d.scanning {
			out = append(out, o)
		}
		if d.lit("]") {
			return out, true
		}
		if !d.lit(",") {
			return nil, false
		}
	}
}
