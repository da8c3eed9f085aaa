package pipeline

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"
)

// decodeFile turns the spec's bytes into a File in three passes, each of
// which must succeed before the next runs:
//
//  1. syntax: exactly one JSON value and nothing after it; problems carry a
//     line and column;
//  2. shape: every key is a known field (matched exactly, not
//     case-insensitively as encoding/json would), no key appears twice, and
//     every value has the right JSON type; problems name the JSON path;
//  3. the actual decode with DisallowUnknownFields, which after pass 2
//     cannot fail in practice.
func decodeFile(data []byte, probs *problems) *File {
	raw, ok := checkSyntax(data, probs)
	if !ok {
		return nil
	}
	w := shapeWalker{dec: json.NewDecoder(bytes.NewReader(raw)), probs: probs}
	w.dec.UseNumber()
	w.value("", fileType)
	if !probs.empty() {
		return nil
	}
	var f File
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			probs.add(te.Field, "want %s, got %s", te.Type, te.Value)
		} else {
			probs.add("", "%s", strings.TrimPrefix(err.Error(), "json: "))
		}
		return nil
	}
	return &f
}

var fileType = reflect.TypeFor[File]()

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
			probs.addAt(line, col, "unexpected end of input")
		case errors.As(err, &se):
			line, col := position(data, int(se.Offset)-1)
			probs.addAt(line, col, "%s", se.Error())
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

// shapeWalker checks a token stream against the Go type it will be decoded
// into. It reports every problem it finds and keeps going.
type shapeWalker struct {
	dec   *json.Decoder
	probs *problems
}

var rawMessageType = reflect.TypeFor[json.RawMessage]()

// value consumes one JSON value at path and checks it against t. A null is
// accepted anywhere and means "unset", as it does for encoding/json.
func (w *shapeWalker) value(path string, t reflect.Type) {
	tok, err := w.dec.Token()
	if err != nil {
		w.probs.add(path, "%v", err)
		return
	}
	if tok == nil {
		return
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == rawMessageType {
		if tok != json.Delim('{') {
			w.probs.add(path, "want object, got %s", describe(tok))
		}
		w.skipAfter(tok)
		return
	}
	want := wantName(t)
	switch t.Kind() {
	case reflect.Struct:
		if tok != json.Delim('{') {
			w.mismatch(path, want, tok)
			return
		}
		w.object(path, t)
	case reflect.Map:
		if tok != json.Delim('{') {
			w.mismatch(path, want, tok)
			return
		}
		w.mapValues(path, t.Elem())
	case reflect.Slice:
		if tok != json.Delim('[') {
			w.mismatch(path, want, tok)
			return
		}
		for i := 0; w.dec.More(); i++ {
			w.value(fmt.Sprintf("%s[%d]", path, i), t.Elem())
		}
		w.dec.Token() // ]
	case reflect.String:
		if _, ok := tok.(string); !ok {
			w.mismatch(path, want, tok)
		}
	case reflect.Bool:
		if _, ok := tok.(bool); !ok {
			w.mismatch(path, want, tok)
		}
	case reflect.Int, reflect.Int64:
		n, ok := tok.(json.Number)
		if !ok {
			w.mismatch(path, want, tok)
			return
		}
		if _, err := strconv.ParseInt(string(n), 10, t.Bits()); err != nil {
			if errors.Is(err, strconv.ErrRange) {
				w.probs.add(path, "number %s out of range", n)
			} else {
				w.probs.add(path, "want integer, got %s", n)
			}
		}
	case reflect.Float64:
		n, ok := tok.(json.Number)
		if !ok {
			w.mismatch(path, want, tok)
			return
		}
		if _, err := strconv.ParseFloat(string(n), 64); err != nil {
			w.probs.add(path, "number %s out of range", n)
		}
	default:
		// Not reachable with the spec types; refuse rather than guess.
		w.probs.add(path, "unsupported field type %s", t)
		w.skipAfter(tok)
	}
}

// object checks the members of an object whose '{' was consumed.
func (w *shapeWalker) object(path string, t reflect.Type) {
	fields := jsonFields(t)
	seen := map[string]bool{}
	for w.dec.More() {
		tok, _ := w.dec.Token()
		key, _ := tok.(string)
		if seen[key] {
			w.probs.add(path, "duplicate field %q", key)
			w.skipValue()
			continue
		}
		seen[key] = true
		ft, ok := fields[key]
		if !ok {
			w.probs.add(path, "unknown field %q%s", key, suggest(key, fields))
			w.skipValue()
			continue
		}
		w.value(joinPath(path, key), ft)
	}
	w.dec.Token() // }
}

// mapValues checks the members of a map-valued object whose '{' was consumed.
func (w *shapeWalker) mapValues(path string, elem reflect.Type) {
	seen := map[string]bool{}
	for w.dec.More() {
		tok, _ := w.dec.Token()
		key, _ := tok.(string)
		if seen[key] {
			w.probs.add(path, "duplicate key %q", key)
			w.skipValue()
			continue
		}
		seen[key] = true
		w.value(joinPath(path, key), elem)
	}
	w.dec.Token() // }
}

func (w *shapeWalker) mismatch(path, want string, tok json.Token) {
	w.probs.add(path, "want %s, got %s", want, describe(tok))
	w.skipAfter(tok)
}

// skipValue consumes one whole value.
func (w *shapeWalker) skipValue() {
	tok, err := w.dec.Token()
	if err == nil {
		w.skipAfter(tok)
	}
}

// skipAfter consumes the rest of a value whose first token was tok.
func (w *shapeWalker) skipAfter(tok json.Token) {
	if d, ok := tok.(json.Delim); !ok || (d != '{' && d != '[') {
		return
	}
	for depth := 1; depth > 0; {
		t, err := w.dec.Token()
		if err != nil {
			return
		}
		switch t {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
	}
}

func describe(tok json.Token) string {
	switch v := tok.(type) {
	case json.Delim:
		if v == '[' {
			return "array"
		}
		return "object"
	case string:
		return "string"
	case json.Number:
		return "number " + string(v)
	case bool:
		return "boolean"
	}
	return "null"
}

func wantName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return "object"
	case reflect.Slice:
		return "array"
	case reflect.Int, reflect.Int64:
		return "integer"
	case reflect.Float64:
		return "number"
	case reflect.Bool:
		return "boolean"
	}
	return t.Kind().String()
}

// jsonFields maps the exact JSON names of a struct's fields to their types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	m := make(map[string]reflect.Type, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		m[name] = f.Type
	}
	return m
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// suggest proposes the closest known name for a misspelt one.
func suggest(key string, fields map[string]reflect.Type) string {
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
