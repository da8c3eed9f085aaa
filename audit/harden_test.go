package audit

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAppendRefusesASwappedLog: a log renamed away and replaced while it is
// open, removed, truncated or appended to by someone else is detected at the
// next append, which fails with ErrLogChanged; so does every append after it
// (nothing is ever written to the old inode).
func TestAppendRefusesASwappedLog(t *testing.T) {
	for _, tc := range []struct {
		name   string
		tamper func(t *testing.T, p string)
		reason string
	}{
		{"renamed and replaced", func(t *testing.T, p string) {
			require.NoError(t, os.Rename(p, p+".old"))
			require.NoError(t, os.WriteFile(p, nil, 0o644))
		}, "was replaced"},
		{"renamed away", func(t *testing.T, p string) {
			require.NoError(t, os.Rename(p, p+".old"))
		}, "removed or renamed away"},
		{"replaced by a symlink to itself", func(t *testing.T, p string) {
			require.NoError(t, os.Rename(p, p+".old"))
			require.NoError(t, os.Symlink(p+".old", p))
		}, "was replaced"},
		{"truncated", func(t *testing.T, p string) {
			lines := readLines(t, p)
			require.NoError(t, os.Truncate(p, int64(len(lines[0])+1)))
		}, "was truncated to"},
		{"appended to", func(t *testing.T, p string) {
			f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
			require.NoError(t, err)
			_, err = f.WriteString("{}\n")
			require.NoError(t, err)
			require.NoError(t, f.Close())
		}, "written by someone else"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if runtime.GOOS == "windows" && strings.Contains(tc.name, "renamed") {
				t.Skip("an open file cannot be renamed on Windows")
			}
			p := filepath.Join(t.TempDir(), "audit.jsonl")
			l, err := Open(p, key1)
			require.NoError(t, err)
			defer l.Close()
			for i := 0; i < 3; i++ {
				_, err := l.Append(Event{Type: "stage.end", RunID: "r", Data: map[string]any{"i": i}})
				require.NoError(t, err)
			}
			tc.tamper(t, p)
			before := sizeOf(t, p+".old")
			_, err = l.Append(Event{Type: "run.end", RunID: "r"})
			var lce *LogChangedError
			require.ErrorAs(t, err, &lce)
			assert.ErrorIs(t, err, ErrLogChanged)
			assert.Equal(t, "audit_log_changed", lce.Code())
			assert.Contains(t, err.Error(), tc.reason)
			_, err = l.AppendNoSync(Event{Type: "run.end", RunID: "r"})
			assert.ErrorIs(t, err, ErrLogChanged, "the failure is sticky")
			assert.Equal(t, before, sizeOf(t, p+".old"), "nothing was appended to the old inode")
		})
	}
}

func sizeOf(t *testing.T, p string) int64 {
	fi, err := os.Stat(p)
	if errors.Is(err, os.ErrNotExist) {
		return -1
	}
	require.NoError(t, err)
	return fi.Size()
}

// TestOpenRefusesASymlinkedLog: audit.jsonl that is a symbolic link is not
// followed.
func TestOpenRefusesASymlinkedLog(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "elsewhere.jsonl")
	require.NoError(t, os.WriteFile(target, nil, 0o644))
	p := filepath.Join(dir, "audit.jsonl")
	if err := os.Symlink(target, p); err != nil {
		t.Skipf("no symlinks: %v", err)
	}
	_, err := Open(p, nil)
	assert.ErrorContains(t, err, "is not a regular file")
	assert.Equal(t, int64(0), sizeOf(t, target))
}

// TestAppendRefusesAnOversizedRecord: a record over MaxLineBytes is refused
// with a typed error and takes no seq; nothing is written.
func TestAppendRefusesAnOversizedRecord(t *testing.T) {
	p := filepath.Join(t.TempDir(), "audit.jsonl")
	l, err := Open(p, nil)
	require.NoError(t, err)
	defer l.Close()
	_, err = l.Append(Event{Type: "stage.end", Data: map[string]any{"blob": strings.Repeat("x", MaxLineBytes)}})
	var te *RecordTooLargeError
	require.ErrorAs(t, err, &te)
	assert.ErrorIs(t, err, ErrRecordTooLarge)
	assert.Equal(t, "stage.end", te.Event)
	seq, _ := l.Head()
	assert.Zero(t, seq)
	assert.Equal(t, int64(0), sizeOf(t, p))
}

// TestVerifyWithEveryAnchor: every anchor is checked in one pass, and a bad
// one is named by its source: a planted anchor past the end, one that names
// a record with another hash, one at seq 0 that is not the empty chain.
func TestVerifyWithEveryAnchor(t *testing.T) {
	p := writeLog(t, t.TempDir(), key1, 6)
	var anchors []Anchor
	for i, ln := range readLines(t, p) {
		r, err := parse([]byte(ln))
		require.NoError(t, err)
		anchors = append(anchors, Anchor{Seq: r.Seq, Hash: r.Hash, Source: fmt.Sprintf("run_r%d.json", i)})
	}
	anchors = append(anchors, Anchor{Seq: 0, Hash: ZeroHash, Source: "run_empty.json"})
	res, err := VerifyWith(p, key1, VerifyOptions{Anchors: anchors})
	require.NoError(t, err)
	assert.EqualValues(t, 6, res.HeadSeq)

	for _, tc := range []struct {
		bad  Anchor
		line int
		msg  string
	}{
		{Anchor{Seq: 9, Hash: anchors[5].Hash, Source: "run_planted.json"}, 7,
			"line 7: log ends at seq 6 but run_planted.json recorded head seq 9 (records cut off at the end, or run_planted.json was planted or edited)"},
		{Anchor{Seq: 3, Hash: anchors[4].Hash, Source: "run_forged.json"}, 3,
			"line 3: hash of seq 3 differs from the head recorded in run_forged.json (log rewritten from here on, or run_forged.json was planted or edited)"},
		{Anchor{Seq: 0, Hash: anchors[0].Hash, Source: "run_zero.json"}, 1, "run_zero.json: head seq 0"},
	} {
		_, err := VerifyWith(p, key1, VerifyOptions{Anchors: append(append([]Anchor(nil), anchors...), tc.bad)})
		var ce *ChainError
		require.ErrorAs(t, err, &ce, tc.bad.Source)
		assert.Equal(t, tc.bad.Source, ce.Source)
		assert.Equal(t, tc.line, ce.Line)
		assert.Contains(t, err.Error(), tc.msg)
	}

	// Check sees every record and stops at the first it refuses.
	n := 0
	_, err = VerifyWith(p, key1, VerifyOptions{Check: func(r *Record) error {
		n++
		if r.Seq == 4 {
			return errors.New("side file missing")
		}
		return nil
	}})
	assert.EqualError(t, err, "line 4: side file missing")
	assert.Equal(t, 4, n)
}

// TestLastIsTheRecordOpenFound: how the previous writer left the chain.
func TestLastIsTheRecordOpenFound(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "audit.jsonl")
	l, err := Open(p, nil)
	require.NoError(t, err)
	_, ok := l.Last()
	assert.False(t, ok)
	_, err = l.Append(Event{Type: "stage.start", RunID: "r9", Stage: "s"})
	require.NoError(t, err)
	require.NoError(t, l.Close())
	l, err = Open(p, nil)
	require.NoError(t, err)
	defer l.Close()
	last, ok := l.Last()
	require.True(t, ok)
	assert.Equal(t, "r9", last.RunID)
	assert.Equal(t, "stage.start", last.Event)
}

// TestSyncedHeadTrailsUnsyncedRecords: SyncedHead moves only when an fsync
// made the records durable.
func TestSyncedHeadTrailsUnsyncedRecords(t *testing.T) {
	p := filepath.Join(t.TempDir(), "audit.jsonl")
	l, err := Open(p, nil)
	require.NoError(t, err)
	defer l.Close()
	seq, h := l.SyncedHead()
	assert.Zero(t, seq)
	assert.Equal(t, ZeroHash, h)
	r1, err := l.Append(Event{Type: "a"})
	require.NoError(t, err)
	_, err = l.AppendNoSync(Event{Type: "b"})
	require.NoError(t, err)
	seq, h = l.SyncedHead()
	assert.Equal(t, r1.Seq, seq)
	assert.Equal(t, r1.Hash, h)
	require.NoError(t, l.Sync())
	seq, _ = l.SyncedHead()
	assert.EqualValues(t, 2, seq)
}
