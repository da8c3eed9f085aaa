package pipeline

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// decodeFile turns the spec's bytes into a File in two passes:
//
//  1. syntax: exactly one JSON value and nothing after it; problems carry a
//     line and column;
//  2. a strict decode: every key is a known field (matched exactly, not
//     case-insensitively as encoding/json would), no key appears twice, and
//     every value has the right JSON type; every problem is reported with
//     its JSON path, not just the first.
//
// The second pass is a small reflection decoder over the validated bytes
// rather than encoding/json's Decoder with DisallowUnknownFields, because
// that stops at the first problem, does not know the index of the stage it
// was in, matches keys case-insensitively and lets duplicate keys through.
// It decodes exactly as encoding/json would otherwise: null leaves a value
// unset, strings are unescaped by encoding/json itself.
func decodeFile(data []byte, probs *problems) *File {
	if !json.Valid(data) {
		checkSyntax(data, probs)
		if probs.empty() { // not reachable: Valid and Decoder agree
			probs.add("", "invalid JSON")
		}
		return nil
	}
	var f File
	d := decoder{data: data, probs: probs}
	d.value(reflect.ValueOf(&f).Elem())
	if !probs.empty() {
		return nil
	}
	return &f
}

// syntaxHint says what to fix for the commonest mistakes at offset off
// (the offending byte): a trailing comma, a missing comma, single quotes,
// a comment; "" when it has nothing to add.
func syntaxHint(data []byte, off int) string {
	if off < 0 || off >= len(data) {
		return ""
	}
	prev := off - 1
	for prev >= 0 && isSpace(data[prev]) {
		prev--
	}
	switch c := data[off]; {
	case (c == '}' || c == ']') && prev >= 0 && data[prev] == ',':
		return fmt.Sprintf(" (a trailing comma before %q: remove it, JSON allows none)", string(c))
	case c == '\'':
		return " (JSON strings take double quotes)"
	case c == '/' && off+1 < len(data) && (data[off+1] == '/' || data[off+1] == '*'):
		return " (JSON has no comments: remove it)"
	case c == '"' && prev >= 0 && (data[prev] == '"' || data[prev] == '}' || data[prev] == ']' || isDigit(data[prev]) || data[prev] == 'e' || data[prev] == 'l'):
		return " (a missing comma before it)"
	case (c == '{' || c == '[') && prev >= 0 && (data[prev] == '}' || data[prev] == ']' || data[prev] == '"'):
		return " (a missing comma before it)"
	}
	return ""
}

// checkSyntax returns the one JSON value in data.
func checkSyntax(data []byte, probs *problems) (json.RawMessage, bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		var se *json.SyntaxError
		switch {
		case errors.Is(err, io.EOF):
			probs.add("", "empty file, want a JSON object")
		case errors.Is(err, io.ErrUnexpectedEOF):
			line, col := position(data, len(data))
			probs.addAt(line, col, "syntax error: unexpected end of input")
		case errors.As(err, &se):
			line, col := position(data, int(se.Offset)-1)
			probs.addAt(line, col, "syntax error: %s%s", se.Error(), syntaxHint(data, int(se.Offset)-1))
		default:
			probs.add("", "%s", err.Error())
		}
		return nil, false
	}
	off := int(dec.InputOffset())
	for off < len(data) && isSpace(data[off]) {
		off++
	}
	if off < len(data) {
		line, col := position(data, off)
		probs.addAt(line, col, "unexpected data after the top-level value")
		return nil, false
	}
	return raw, true
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// position converts a byte offset into a 1-based line and a 1-based column
// counted in characters.
func position(data []byte, off int) (line, col int) {
	off = max(0, min(off, len(data)))
	before := data[:off]
	line = 1 + bytes.Count(before, []byte{'\n'})
	start := bytes.LastIndexByte(before, '\n') + 1
	return line, utf8.RuneCount(before[start:]) + 1
}

// decoder decodes syntactically valid JSON into the spec types, reporting
// every unknown field, duplicate key and type mismatch and skipping the
// offending value.
type decoder struct {
	data  []byte
	pos   int
	probs *problems
	path  []string // "stages", "[0]", "retry": joined only for messages
}

var rawMessageType = reflect.TypeFor[json.RawMessage]()

func (d *decoder) pathString() string {
	var b strings.Builder
	for _, p := range d.path {
		if b.Len() > 0 && p[0] != '[' {
			b.WriteByte('.')
		}
		b.WriteString(p)
	}
	return b.String()
}

func (d *decoder) fail(format string, args ...any) {
	d.probs.add(d.pathString(), format, args...)
}

func (d *decoder) skipSpace() {
	for d.pos < len(d.data) && isSpace(d.data[d.pos]) {
		d.pos++
	}
}

// kind describes the value at the current position.
func (d *decoder) kind() string {
	switch c := d.data[d.pos]; c {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	default:
		return "number " + d.peekNumber()
	}
}

// value decodes the value at the current position into v. A null leaves v
// unset, as encoding/json does.
func (d *decoder) value(v reflect.Value) {
	d.skipSpace()
	if d.data[d.pos] == 'n' {
		d.pos += len("null")
		return
	}
	t := v.Type()
	if t.Kind() == reflect.Pointer {
		if v.IsNil() {
			v.Set(reflect.New(t.Elem()))
		}
		d.value(v.Elem())
		return
	}
	if t == rawMessageType {
		if d.data[d.pos] != '{' {
			d.mismatch("object")
			return
		}
		start := d.pos
		d.skip()
		v.SetBytes(slices.Clone(d.data[start:d.pos]))
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		if d.data[d.pos] != '{' {
			d.mismatch("object")
			return
		}
		fields := jsonFields(t)
		d.members("field", func(key string) {
			f, ok := fields[key]
			if !ok {
				d.fail("unknown field %q%s", key, suggest(key, fields))
				d.skip()
				return
			}
			d.path = append(d.path, key)
			d.value(v.Field(f))
			d.path = d.path[:len(d.path)-1]
		})
	case reflect.Map:
		if d.data[d.pos] != '{' {
			d.mismatch("object")
			return
		}
		if v.IsNil() {
			v.Set(reflect.MakeMap(t))
		}
		d.members("key", func(key string) {
			elem := reflect.New(t.Elem()).Elem()
			d.path = append(d.path, key)
			d.value(elem)
			d.path = d.path[:len(d.path)-1]
			v.SetMapIndex(reflect.ValueOf(key), elem)
		})
	case reflect.Slice:
		if d.data[d.pos] != '[' {
			d.mismatch("array")
			return
		}
		d.pos++
		s := reflect.MakeSlice(t, 0, 0) // non-nil: "[]" is not "absent"
		for i := 0; ; i++ {
			d.skipSpace()
			if d.data[d.pos] == ']' {
				d.pos++
				break
			}
			if d.data[d.pos] == ',' {
				d.pos++
			}
			elem := reflect.New(t.Elem()).Elem()
			d.path = append(d.path, "["+strconv.Itoa(i)+"]")
			d.value(elem)
			d.path = d.path[:len(d.path)-1]
			s = reflect.Append(s, elem)
		}
		v.Set(s)
	case reflect.String:
		if d.data[d.pos] != '"' {
			d.mismatch("string")
			return
		}
		v.SetString(d.str())
	case reflect.Bool:
		switch d.data[d.pos] {
		case 't':
			v.SetBool(true)
			d.pos += len("true")
		case 'f':
			v.SetBool(false)
			d.pos += len("false")
		default:
			d.mismatch("boolean")
		}
	case reflect.Int, reflect.Int64:
		if !d.isNumber() {
			d.mismatch("integer")
			return
		}
		n := d.number()
		i, err := strconv.ParseInt(n, 10, t.Bits())
		switch {
		case errors.Is(err, strconv.ErrRange):
			d.fail("number %s out of range", n)
		case err != nil:
			d.fail("want integer, got %s", n)
		default:
			v.SetInt(i)
		}
	case reflect.Float64:
		if !d.isNumber() {
			d.mismatch("number")
			return
		}
		n := d.number()
		x, err := strconv.ParseFloat(n, 64)
		if err != nil {
			d.fail("number %s out of range", n)
			return
		}
		v.SetFloat(x)
	default:
		// Not reachable with the spec types; refuse rather than guess.
		d.fail("unsupported field type %s", t)
		d.skip()
	}
}

// members walks the members of the object at the current position, calling
// member with the decoded key and the position at its value. Duplicate keys
// (noun: "field" or "key") are reported and their values skipped.
func (d *decoder) members(noun string, member func(key string)) {
	d.pos++ // {
	var seen map[string]bool
	for {
		d.skipSpace()
		switch d.data[d.pos] {
		case '}':
			d.pos++
			return
		case ',':
			d.pos++
			d.skipSpace()
		}
		key := d.str()
		d.skipSpace()
		d.pos++ // :
		d.skipSpace()
		if seen[key] {
			d.fail("duplicate %s %q", noun, key)
			d.skip()
			continue
		}
		if seen == nil {
			seen = map[string]bool{}
		}
		seen[key] = true
		member(key)
	}
}

func (d *decoder) mismatch(want string) {
	d.fail("want %s, got %s", want, d.kind())
	d.skip()
}

// str decodes the string at the current position.
func (d *decoder) str() string {
	start := d.pos
	d.pos++ // opening quote
	escaped := false
	for ; d.data[d.pos] != '"'; d.pos++ {
		if d.data[d.pos] == '\\' {
			escaped = true
			d.pos++
		}
	}
	d.pos++ // closing quote
	raw := d.data[start+1 : d.pos-1]
	if !escaped && utf8.Valid(raw) {
		return string(raw)
	}
	var s string
	_ = json.Unmarshal(d.data[start:d.pos], &s) // valid by construction
	return s
}

func (d *decoder) isNumber() bool {
	c := d.data[d.pos]
	return c == '-' || (c >= '0' && c <= '9')
}

func (d *decoder) peekNumber() string {
	end := d.pos
	for end < len(d.data) && strings.IndexByte("+-.0123456789eE", d.data[end]) >= 0 {
		end++
	}
	return string(d.data[d.pos:end])
}

func (d *decoder) number() string {
	n := d.peekNumber()
	d.pos += len(n)
	return n
}

// skip moves past the value at the current position.
func (d *decoder) skip() {
	d.skipSpace()
	switch d.data[d.pos] {
	case '"':
		d.str()
	case 't', 'n':
		d.pos += 4
	case 'f':
		d.pos += 5
	case '{', '[':
		depth := 0
		for {
			switch d.data[d.pos] {
			case '"':
				d.str()
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
			}
			d.pos++
			if depth == 0 {
				return
			}
		}
	default:
		d.number()
	}
}

// fieldCache holds jsonFields results; the spec types are few and fixed.
var fieldCache sync.Map // reflect.Type -> map[string]int

// jsonFields maps the exact JSON names of a struct's fields to their index.
func jsonFields(t reflect.Type) map[string]int {
	if m, ok := fieldCache.Load(t); ok {
		return m.(map[string]int)
	}
	m := computeFields(t)
	fieldCache.Store(t, m)
	return m
}

func computeFields(t reflect.Type) map[string]int {
	m := make(map[string]int, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		m[name] = i
	}
	return m
}

// suggest proposes the closest known name for a misspelt one.
func suggest(key string, fields map[string]int) string {
	names := make([]string, 0, len(fields))
	for n := range fields {
		names = append(names, n)
	}
	return didYouMean(key, names)
}

// didYouMean returns ` (did you mean "x"?)` for the closest candidate within
// a small edit distance, or "".
func didYouMean(s string, candidates []string) string {
	best, bestD := "", 3
	for _, c := range candidates {
		d := editDistance(strings.ToLower(s), strings.ToLower(c))
		if d < bestD || (d == bestD && best != "" && c < best) {
			best, bestD = c, d
		}
	}
	if best == "" || len(s) < 2 {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// editDistance is the Levenshtein distance between two strings, in bytes.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		if a == b {
			return 0
		}
		return 99
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
