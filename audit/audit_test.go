package audit

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	key1 = []byte("first-secret-key-0123456789abcdef")
	key2 = []byte("other-secret-key-0123456789abcdef")
)

// writeLog creates a log of n records (stage s1..sn) and returns its path.
func writeLog(t testing.TB, dir string, key []byte, n int) string {
	t.Helper()
	p := filepath.Join(dir, "audit.jsonl")
	l, err := Open(p, key)
	require.NoError(t, err)
	for i := 1; i <= n; i++ {
		_, err := l.AppendNoSync(Event{Type: "stage.end", RunID: "run1", Stage: fmt.Sprintf("s%d", i),
			Data: map[string]any{"exitCode": 0, "attempt": i, "note": "<ok & fine>"}})
		require.NoError(t, err)
	}
	require.NoError(t, l.Close())
	return p
}

func readLines(t testing.TB, p string) []string {
	t.Helper()
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	s := string(b)
	require.True(t, strings.HasSuffix(s, "\n"))
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

func writeLines(t testing.TB, p string, lines []string) {
	t.Helper()
	require.NoError(t, os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o644))
}

// rehash recomputes a tampered line's hash the way an attacker without the
// key would (plain SHA-256 over the canonical form).
func rehash(t testing.TB, ln string, key []byte) string {
	t.Helper()
	r, err := parse([]byte(ln))
	require.NoError(t, err)
	canon, err := Canonical(r)
	require.NoError(t, err)
	return strings.TrimSuffix(string(line(canon, sum(key, canon))), "\n")
}

func TestRecordFormatIsPinned(t *testing.T) {
	p := filepath.Join(t.TempDir(), "audit.jsonl")
	clock := func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 6, time.FixedZone("X", 3600)) }
	l, err := open(p, nil, clock)
	require.NoError(t, err)
	type report struct {
		Zeta  int    `json:"zeta"`
		Alpha string `json:"alpha"`
	}
	rec, err := l.Append(Event{Type: "run.start", RunID: "r1", Data: map[string]any{
		"b": 1, "a": report{Zeta: 1 << 60, Alpha: "<&>"}, "f": 0.1,
	}})
	require.NoError(t, err)
	require.NoError(t, l.Close())

	canon := `{"seq":1,"time":"2026-01-02T02:04:05.000000006Z","runId":"r1","event":"run.start",` +
		`"data":{"a":{"alpha":"<&>","zeta":1152921504606846976},"b":1,"f":0.1},"prev":"` + ZeroHash + `"}`
	h := sha256.Sum256([]byte(canon))
	want := strings.TrimSuffix(canon, "}") + `,"hash":"` + hex.EncodeToString(h[:]) + `"}` + "\n"
	got, err := os.ReadFile(p)
	require.NoError(t, err)
	assert.Equal(t, want, string(got))
	assert.Equal(t, hex.EncodeToString(h[:]), rec.Hash)

	// The external-verifier recipe from docs/OBSERVABILITY.md: the hashed
	// bytes are the line with its `,"hash":"..."` removed.
	ln := strings.TrimSuffix(string(got), "\n")
	i := strings.LastIndex(ln, `,"hash":"`)
	h2 := sha256.Sum256([]byte(ln[:i] + "}"))
	assert.Equal(t, rec.Hash, hex.EncodeToString(h2[:]))
}

func TestIntactChainVerifiesAcrossReopen(t *testing.T) {
	for _, key := range [][]byte{nil, key1} {
		t.Run(fmt.Sprintf("keyed=%v", key != nil), func(t *testing.T) {
			dir := t.TempDir()
			p := writeLog(t, dir, key, 5)
			l, err := Open(p, key)
			require.NoError(t, err)
			seq, _ := l.Head()
			require.EqualValues(t, 5, seq)
			_, err = l.Append(Event{Type: "run.end", RunID: "run2", Data: map[string]any{"nested": map[string]any{"z": []any{1, "x", nil, true}}}})
			require.NoError(t, err)
			seq, hash := l.Head()
			require.NoError(t, l.Close())
			_, statErr := l.Append(Event{Type: "late"})
			require.ErrorIs(t, statErr, ErrClosed)

			res, err := Verify(p, key)
			require.NoError(t, err)
			assert.Equal(t, &VerifyResult{Records: 6, HeadSeq: seq, HeadHash: hash, Keyed: key != nil}, res)

			// Every line is plain JSON for any parser.
			for _, ln := range readLines(t, p) {
				var v map[string]any
				require.NoError(t, json.Unmarshal([]byte(ln), &v))
				if key != nil {
					assert.Equal(t, true, v["keyed"])
				} else {
					assert.NotContains(t, v, "keyed")
				}
			}
		})
	}
}

func TestEmptyLogVerifies(t *testing.T) {
	p := filepath.Join(t.TempDir(), "audit.jsonl")
	l, err := Open(p, nil)
	require.NoError(t, err)
	seq, hash := l.Head()
	assert.EqualValues(t, 0, seq)
	assert.Equal(t, ZeroHash, hash)
	require.NoError(t, l.Close())
	res, err := VerifyHead(p, nil, 0, ZeroHash)
	require.NoError(t, err)
	assert.EqualValues(t, 0, res.Records)
}

func TestTamperingIsCaughtAtTheFirstBadLine(t *testing.T) {
	type tc struct {
		name   string
		key    []byte
		tamper func(t *testing.T, lines []string) []string
		line   int
		reason string
	}
	cases := []tc{
		{"edited stage", nil, func(t *testing.T, l []string) []string {
			l[4] = strings.Replace(l[4], `"stage":"s5"`, `"stage":"sX"`, 1)
			return l
		}, 5, "hash mismatch (record edited)"},
		{"edited data value keyed", key1, func(t *testing.T, l []string) []string {
			l[6] = strings.Replace(l[6], `"exitCode":0`, `"exitCode":1`, 1)
			return l
		}, 7, "hash mismatch (record edited or wrong key)"},
		{"edited hash", nil, func(t *testing.T, l []string) []string {
			i := strings.Index(l[2], `"hash":"`) + len(`"hash":"`)
			c := "a"
			if l[2][i] == 'a' {
				c = "b"
			}
			l[2] = l[2][:i] + c + l[2][i+1:]
			return l
		}, 3, "hash mismatch (record edited)"},
		{"deleted line", nil, func(t *testing.T, l []string) []string {
			return append(l[:4], l[5:]...)
		}, 5, "seq 6 follows 4 (record deleted or reordered)"},
		{"deleted first line", nil, func(t *testing.T, l []string) []string {
			return l[1:]
		}, 1, "first record has seq 2, want 1"},
		{"inserted copy", nil, func(t *testing.T, l []string) []string {
			return append(l[:4], append([]string{l[1]}, l[4:]...)...)
		}, 5, "seq 2 follows 4"},
		{"inserted forged record", nil, func(t *testing.T, l []string) []string {
			r, err := parse([]byte(l[4]))
			require.NoError(t, err)
			forged := strings.Replace(l[4], `"stage":"s5"`, `"stage":"evil"`, 1)
			forged = strings.Replace(forged, r.Prev, strings.Repeat("1", 64), 1)
			return append(l[:4], append([]string{rehash(t, forged, nil)}, l[4:]...)...)
		}, 5, "prev does not match line 4's hash (record inserted or reordered)"},
		{"swapped lines", nil, func(t *testing.T, l []string) []string {
			l[3], l[4] = l[4], l[3]
			return l
		}, 4, "seq 5 follows 3 (record deleted or reordered)"},
		{"not JSON", nil, func(t *testing.T, l []string) []string {
			l[2] = l[2][:len(l[2])/2]
			return l
		}, 3, "not valid JSON"},
		{"empty line", nil, func(t *testing.T, l []string) []string {
			return append(l[:3], append([]string{""}, l[3:]...)...)
		}, 4, "not valid JSON"},
		{"unknown field added", nil, func(t *testing.T, l []string) []string {
			l[1] = strings.Replace(l[1], `{"seq"`, `{"admin":true,"seq"`, 1)
			return l
		}, 2, `unknown field "admin"`},
		{"duplicate key hides an edit from decoders", nil, func(t *testing.T, l []string) []string {
			l[1] = strings.Replace(l[1], `{"seq"`, `{"event":"forged","seq"`, 1)
			return l
		}, 2, "not in canonical form"},
		{"whitespace added", nil, func(t *testing.T, l []string) []string {
			l[1] = strings.Replace(l[1], `"seq":`, `"seq": `, 1)
			return l
		}, 2, "not in canonical form"},
		{"rehashed without key in a keyed log", key1, func(t *testing.T, l []string) []string {
			l[5] = rehash(t, strings.Replace(l[5], `"stage":"s6"`, `"stage":"sX"`, 1), nil)
			return l
		}, 6, "hash mismatch (record edited or wrong key)"},
		{"keyed flag removed and rehashed", key1, func(t *testing.T, l []string) []string {
			l[5] = rehash(t, strings.Replace(l[5], `,"keyed":true`, ``, 1), nil)
			return l
		}, 6, "record is not keyed but a key was given"},
		{"torn last line", nil, func(t *testing.T, l []string) []string {
			l[9] = l[9][:20]
			return l
		}, 10, "not valid JSON"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := writeLog(t, t.TempDir(), c.key, 10)
			lines := readLines(t, p)
			writeLines(t, p, c.tamper(t, lines))
			_, err := Verify(p, c.key)
			var ce *ChainError
			require.ErrorAs(t, err, &ce, "tampering went unnoticed")
			assert.Equal(t, c.line, ce.Line, err.Error())
			assert.Contains(t, ce.Reason, c.reason)
			assert.True(t, strings.HasPrefix(err.Error(), fmt.Sprintf("line %d: ", c.line)), err.Error())
			assert.ErrorIs(t, err, ErrBrokenChain)
		})
	}
}

func TestVerifyTornFileWithoutTrailingNewline(t *testing.T) {
	p := writeLog(t, t.TempDir(), nil, 3)
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(p, b[:len(b)-1], 0o644))
	_, err = Verify(p, nil)
	var ce *ChainError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, 3, ce.Line)
	assert.Contains(t, ce.Reason, "no trailing newline")
}

func TestKeys(t *testing.T) {
	cases := []struct {
		name        string
		write, read []byte
		reason      string
	}{
		{"right key", key1, key1, ""},
		{"wrong key", key1, key2, "hash mismatch (record edited or wrong key)"},
		{"missing key", key1, nil, "record is keyed (HMAC) but no key was given (missing key)"},
		{"key given for an unkeyed log", nil, key1, "record is not keyed but a key was given (log written without a key, or keyed flag removed)"},
		{"no key either side", nil, nil, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := writeLog(t, t.TempDir(), c.write, 4)
			before, err := os.ReadFile(p)
			require.NoError(t, err)

			_, verr := Verify(p, c.read)
			l, oerr := Open(p, c.read)
			if c.reason == "" {
				require.NoError(t, verr)
				require.NoError(t, oerr)
				require.NoError(t, l.Close())
				return
			}
			var ce *ChainError
			require.ErrorAs(t, verr, &ce)
			assert.Equal(t, 1, ce.Line)
			assert.Equal(t, c.reason, ce.Reason)

			// Open refuses to extend a chain it could not verify, and
			// leaves the file alone.
			require.ErrorIs(t, oerr, ErrKeyMismatch)
			assert.Contains(t, oerr.Error(), c.reason)
			after, err := os.ReadFile(p)
			require.NoError(t, err)
			assert.Equal(t, before, after)
		})
	}
}

func TestTornTailIsRepairedOnOpen(t *testing.T) {
	cases := []struct {
		name   string
		tail   func(lastLine string) string // appended to an intact 3-record log
		whole  bool                         // replace the whole file instead
		reason string
	}{
		{"half a line", func(ln string) string { return ln[:len(ln)/2] }, false, "no trailing newline"},
		{"line without its newline", func(ln string) string { return ln }, false, "no trailing newline"},
		{"zeros after a power cut", func(string) string { return strings.Repeat("\x00", 300) }, false, "no trailing newline"},
		{"garbage line with newline", func(string) string { return "{\"seq\":4,\"tim\n" }, false, "last line is not valid JSON"},
		{"only a torn line", func(ln string) string { return ln[:40] }, true, "no trailing newline"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			p := writeLog(t, dir, key1, 3)
			lines := readLines(t, p)
			intact, err := os.ReadFile(p)
			require.NoError(t, err)
			// A would-be 4th record, as a crash mid-append would leave it.
			donor := writeLog(t, t.TempDir(), key1, 4)
			torn := c.tail(readLines(t, donor)[3])
			content := string(intact) + torn
			wantSeq, wantPrev := int64(4), lines[2]
			if c.whole {
				content, wantSeq = torn, 1
			}
			require.NoError(t, os.WriteFile(p, []byte(content), 0o644))

			l, err := Open(p, key1)
			require.NoError(t, err)
			rec, ok := l.Repaired()
			require.True(t, ok)
			assert.Equal(t, EventRepaired, rec.Event)
			assert.Equal(t, wantSeq, rec.Seq)
			if !c.whole {
				r, err := parse([]byte(wantPrev))
				require.NoError(t, err)
				assert.Equal(t, r.Hash, rec.Prev)
			}
			assert.Equal(t, json.Number(fmt.Sprint(len(torn))), rec.Data["droppedBytes"])
			prefix := torn[:min(len(torn), repairPrefixBytes)]
			assert.Equal(t, hex.EncodeToString([]byte(prefix)), rec.Data["droppedPrefixHex"])
			assert.Contains(t, rec.Data["reason"], c.reason)
			_, err = l.Append(Event{Type: "run.start", RunID: "after"})
			require.NoError(t, err)
			require.NoError(t, l.Close())

			res, err := Verify(p, key1)
			require.NoError(t, err)
			assert.EqualValues(t, 1, res.Repairs)
			assert.Equal(t, wantSeq+1, res.HeadSeq)
			if !c.whole {
				assert.True(t, strings.HasPrefix(string(mustRead(t, p)), string(intact)), "committed records must survive a repair")
			}

			// A second Open finds nothing to repair.
			l, err = Open(p, key1)
			require.NoError(t, err)
			_, ok = l.Repaired()
			assert.False(t, ok)
			require.NoError(t, l.Close())
		})
	}
}

func mustRead(t testing.TB, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	return b
}

func TestOpenRefusesCorruptionBeyondATornTail(t *testing.T) {
	p := writeLog(t, t.TempDir(), nil, 3)
	lines := readLines(t, p)
	lines[2] = "not json"
	content := strings.Join(lines, "\n") + "\n" + `{"seq":4,"ti`
	require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	_, err := Open(p, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "not a torn append")
	assert.Equal(t, content, string(mustRead(t, p)), "Open must not modify a corrupt log")

	// A huge last line without a newline is not a torn append either.
	require.NoError(t, os.WriteFile(p, bytes.Repeat([]byte("x"), MaxLineBytes+10), 0o644))
	_, err = Open(p, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "line too long")
}

func TestOpenReadsOnlyTheTail(t *testing.T) {
	// Garbage at the start does not bother Open (it never reads there);
	// Verify, which reads everything, catches it.
	p := writeLog(t, t.TempDir(), nil, 50)
	content := "garbage that Open never parses\n" + string(mustRead(t, p))
	require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	l, err := Open(p, nil)
	require.NoError(t, err)
	seq, _ := l.Head()
	assert.EqualValues(t, 50, seq)
	require.NoError(t, l.Close())
	_, err = Verify(p, nil)
	assert.EqualError(t, err, "line 1: not valid JSON")
}

func TestVerifyHead(t *testing.T) {
	dir := t.TempDir()
	p := writeLog(t, dir, nil, 8)
	l, err := Open(p, nil)
	require.NoError(t, err)
	headSeq, headHash := l.Head()
	require.NoError(t, l.Close())

	_, err = VerifyHead(p, nil, headSeq, headHash)
	require.NoError(t, err)
	midLine := readLines(t, p)[4]
	mid, err := parse([]byte(midLine))
	require.NoError(t, err)
	_, err = VerifyHead(p, nil, mid.Seq, mid.Hash)
	require.NoError(t, err, "a later run's records after the recorded head are fine")

	// Records cut off at the end: the remaining chain is intact, only the
	// recorded head shows the loss.
	lines := readLines(t, p)
	writeLines(t, p, lines[:6])
	_, err = Verify(p, nil)
	require.NoError(t, err)
	_, err = VerifyHead(p, nil, headSeq, headHash)
	var ce *ChainError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, 7, ce.Line)
	assert.Equal(t, "line 7: log ends at seq 6 but a run recorded head seq 8 (records cut off at the end)", err.Error())

	// Rewritten from seq 5 on by someone without a key: the chain is
	// self-consistent, the recorded head is not.
	for i := 4; i < len(lines); i++ {
		prevHash := ZeroHash
		if i > 0 {
			r, err := parse([]byte(lines[i-1]))
			require.NoError(t, err)
			prevHash = r.Hash
		}
		r, err := parse([]byte(lines[i]))
		require.NoError(t, err)
		edited := strings.Replace(lines[i], `"prev":"`+r.Prev, `"prev":"`+prevHash, 1)
		edited = strings.Replace(edited, `"runId":"run1"`, `"runId":"fake"`, 1)
		lines[i] = rehash(t, edited, nil)
	}
	writeLines(t, p, lines)
	_, err = Verify(p, nil)
	require.NoError(t, err)
	_, err = VerifyHead(p, nil, headSeq, headHash)
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, 8, ce.Line)
	assert.Contains(t, ce.Reason, "differs from the head recorded by the run")
}

func TestAppendNoSyncBatchesAndConcurrency(t *testing.T) {
	p := filepath.Join(t.TempDir(), "audit.jsonl")
	l, err := Open(p, key1)
	require.NoError(t, err)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				var err error
				if i%2 == 0 {
					_, err = l.AppendNoSync(Event{Type: "stage.progress", Stage: fmt.Sprintf("g%d", g), Data: map[string]any{"i": i}})
				} else {
					_, err = l.Append(Event{Type: "stage.progress", Stage: fmt.Sprintf("g%d", g)})
				}
				assert.NoError(t, err)
			}
		}(g)
	}
	wg.Wait()
	require.NoError(t, l.Sync())
	seq, hash := l.Head()
	assert.EqualValues(t, 400, seq)
	// Written records are visible before Close.
	res, err := Verify(p, key1)
	require.NoError(t, err)
	assert.Equal(t, hash, res.HeadHash)
	require.NoError(t, l.Close())
	require.NoError(t, l.Close(), "closing twice is a no-op")
}

func TestAppendRejectsBadEvents(t *testing.T) {
	p := filepath.Join(t.TempDir(), "audit.jsonl")
	l, err := Open(p, nil)
	require.NoError(t, err)
	defer l.Close()
	for name, ev := range map[string]Event{
		"empty type": {},
		"NaN":        {Type: "x", Data: map[string]any{"v": func() float64 { z := 0.0; return z / z }()}},
		"func":       {Type: "x", Data: map[string]any{"f": func() {}}},
		"too large":  {Type: "x", Data: map[string]any{"blob": strings.Repeat("a", MaxLineBytes)}},
	} {
		_, err := l.Append(ev)
		assert.Error(t, err, name)
	}
	seq, _ := l.Head()
	assert.EqualValues(t, 0, seq, "a rejected event takes no seq")
	_, err = l.Append(Event{Type: "ok"})
	require.NoError(t, err)
	_, err = Verify(p, nil)
	require.NoError(t, err)
}

func TestLoadKey(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name    string
		content string
		mode    os.FileMode
		want    string
		errPart string
	}{
		{"trimmed", "  s3cret-key\n\n", 0o600, "s3cret-key", ""},
		{"owner read-only", "k", 0o400, "k", ""},
		{"group readable", "k", 0o640, "", "readable or writable by its group or others (mode 0640)"},
		{"group writable", "k", 0o620, "", "--audit-key-fd"},
		{"empty", "", 0o600, "", "is empty"},
		{"whitespace only", " \n\t", 0o600, "", "is empty"},
		{"world readable", "k", 0o644, "", "chmod 600"},
		{"world writable", "k", 0o602, "", "by its group or others"},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(dir, fmt.Sprintf("key%d", i))
			require.NoError(t, os.WriteFile(p, []byte(c.content), 0o600))
			require.NoError(t, os.Chmod(p, c.mode))
			k, err := LoadKey(p)
			if c.errPart == "" {
				require.NoError(t, err)
				assert.Equal(t, c.want, string(k))
				return
			}
			var ke *KeyFileError
			require.ErrorAs(t, err, &ke)
			assert.Contains(t, err.Error(), c.errPart)
			assert.ErrorIs(t, err, ErrKeyFile)
		})
	}
	_, err := LoadKey(filepath.Join(dir, "missing"))
	assert.True(t, errors.Is(err, os.ErrNotExist))
	_, err = LoadKey(dir)
	assert.ErrorContains(t, err, "not a regular file")

	// A loaded key verifies what it signed and nothing else.
	p := filepath.Join(dir, "hmac")
	require.NoError(t, os.WriteFile(p, key1, 0o600))
	k, err := LoadKey(p)
	require.NoError(t, err)
	m := hmac.New(sha256.New, k)
	m.Write([]byte("x"))
	assert.Equal(t, hex.EncodeToString(m.Sum(nil)), sum(key1, []byte("x")))
}
