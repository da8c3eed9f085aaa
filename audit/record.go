package audit

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// ZeroHash is the prev of the first record of a log.
var ZeroHash = strings.Repeat("0", 64)

// MaxLineBytes bounds one record line, newline included. Append refuses
// larger records; Open and Verify treat a longer line as corruption. The
// bound keeps Open's tail read O(1) and Verify's memory flat.
const MaxLineBytes = 1 << 20

// EventRepaired is the event Open appends after cutting off a torn last line.
const EventRepaired = "audit.repaired"

// Event is what a caller records. Type is required ("run.start",
// "stage.end", ...); RunID and Stage may be empty; Data is nil or a value
// that encodes as a JSON object (a typed payload struct or a map; no NaN or
// infinities). An empty object is recorded as no data.
type Event struct {
	Type  string
	RunID string
	Stage string
	Data  any
}

// Record is one line of audit.jsonl, fields in their on-disk order. Time is
// RFC 3339 with nanoseconds, UTC. Data holds numbers as json.Number so that a
// record read back re-encodes to exactly the bytes that were hashed. Keyed is
// true when Hash is an HMAC.
type Record struct {
	Seq   int64          `json:"seq"`
	Time  string         `json:"time"`
	RunID string         `json:"runId"`
	Event string         `json:"event"`
	Stage string         `json:"stage,omitempty"`
	Data  map[string]any `json:"data,omitempty"`
	Keyed bool           `json:"keyed,omitempty"`
	Prev  string         `json:"prev"`
	Hash  string         `json:"hash"`
}

// unsigned is Record without its hash: the value the hash is computed over.
// Field order and tags must stay identical to Record's.
type unsigned struct {
	Seq   int64          `json:"seq"`
	Time  string         `json:"time"`
	RunID string         `json:"runId"`
	Event string         `json:"event"`
	Stage string         `json:"stage,omitempty"`
	Data  map[string]any `json:"data,omitempty"`
	Keyed bool           `json:"keyed,omitempty"`
	Prev  string         `json:"prev"`
}

// Canonical returns the bytes a record's hash is computed over: the compact
// encoding/json encoding of the record without its "hash" field, fields in
// the fixed order seq, time, runId, event, stage, data, keyed, prev (stage,
// data and keyed omitted when empty), map keys sorted at every depth,
// numbers as written, HTML characters not escaped, no trailing newline.
func Canonical(r *Record) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	err := enc.Encode(unsigned{
		Seq: r.Seq, Time: r.Time, RunID: r.RunID, Event: r.Event,
		Stage: r.Stage, Data: r.Data, Keyed: r.Keyed, Prev: r.Prev,
	})
	if err != nil {
		return nil, fmt.Errorf("encoding audit record: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}), nil
}

// sum is hex(SHA-256(canon)), or hex(HMAC-SHA-256(key, canon)) with a key.
func sum(key, canon []byte) string {
	if len(key) > 0 {
		m := hmac.New(sha256.New, key)
		m.Write(canon)
		return hex.EncodeToString(m.Sum(nil))
	}
	s := sha256.Sum256(canon)
	return hex.EncodeToString(s[:])
}

// line is canon with the hash added as its last field, plus a newline: the
// same bytes as encoding the whole Record.
func line(canon []byte, hash string) []byte {
	b := make([]byte, 0, len(canon)+len(hash)+12)
	b = append(b, canon[:len(canon)-1]...)
	b = append(b, `,"hash":"`...)
	b = append(b, hash...)
	b = append(b, "\"}\n"...)
	return b
}

// normalize round-trips data through JSON so that it holds only the types a
// reader gets back (maps with sorted keys, []any, string, bool, json.Number,
// nil). Typed payloads therefore hash the same way at append and at verify.
func normalize(data any) (map[string]any, error) {
	if data == nil {
		return nil, nil
	}
	b, err := json.Marshal(data)
	if err != nil {
		return nil, fmt.Errorf("encoding event data: %w", err)
	}
	var out map[string]any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&out); err != nil {
		return nil, fmt.Errorf("normalizing event data: %w", err)
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// errNotJSON marks a line that is not a JSON value at all, as opposed to a
// JSON value that is not a well-formed record.
var errNotJSON = errors.New("not valid JSON")

// parse decodes one line (without its newline) strictly: unknown fields,
// trailing data, a missing or malformed hash or prev are errors.
func parse(b []byte) (*Record, error) {
	var r Record
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return nil, errNotJSON
		}
		return nil, fmt.Errorf("not a valid record: %w", err)
	}
	if dec.More() {
		return nil, errors.New("not a valid record: trailing data")
	}
	if !isHash(r.Hash) {
		return nil, errors.New(`not a valid record: "hash" is not 64 hex digits`)
	}
	if !isHash(r.Prev) {
		return nil, errors.New(`not a valid record: "prev" is not 64 hex digits`)
	}
	if r.Event == "" {
		return nil, errors.New(`not a valid record: "event" is empty`)
	}
	return &r, nil
}

func isHash(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// checkHash recomputes r's hash with key. It returns "" when it matches and
// raw (the line without its newline) is exactly the canonical encoding of r,
// and otherwise the reason, distinguishing a key/keyed mismatch from an edit.
// The byte comparison catches edits that JSON decoding would hide:
// duplicate keys, keys in another case, added whitespace or escapes.
func checkHash(r *Record, raw, key []byte) (string, error) {
	keyed := len(key) > 0
	switch {
	case r.Keyed && !keyed:
		return "record is keyed (HMAC) but no key was given (missing key)", nil
	case !r.Keyed && keyed:
		return "record is not keyed but a key was given (log written without a key, or keyed flag removed)", nil
	}
	canon, err := Canonical(r)
	if err != nil {
		return "", err
	}
	if !hmac.Equal([]byte(sum(key, canon)), []byte(r.Hash)) {
		if keyed {
			return "hash mismatch (record edited or wrong key)", nil
		}
		return "hash mismatch (record edited)", nil
	}
	if want := line(canon, r.Hash); !bytes.Equal(raw, want[:len(want)-1]) {
		return "record is not in canonical form (edited: spacing, key case, duplicate keys or escapes)", nil
	}
	return "", nil
}
