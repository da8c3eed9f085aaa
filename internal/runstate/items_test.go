package runstate

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/guardrun/guardrun/internal/atomicfile"
	"github.com/stretchr/testify/require"
)

func TestJournalReplaysAppendsAndRemovals(t *testing.T) {
	path := filepath.Join(t.TempDir(), "items_up.jsonl")
	j, err := OpenJournal(path)
	require.NoError(t, err)
	assert.Zero(t, j.Len())
	require.NoError(t, j.Append(&ItemRecord{Base: "b1", Parts: []byte(`{"p":1}`)},
		&ItemRecord{Item: "a", Key: "k1", Base: "b1"},
		&ItemRecord{Item: "b", Key: "k2", Base: "b1"}))
	require.NoError(t, j.Append(&ItemRecord{Item: "a", Key: "k3", Base: "b1"}, &ItemRecord{Item: "b", Removed: true}))
	require.NoError(t, j.Close())

	j, err = OpenJournal(path)
	require.NoError(t, err)
	require.Equal(t, 1, j.Len())
	assert.Equal(t, "k3", j.Get("a").Key, "the last line of an item wins")
	assert.Nil(t, j.Get("b"), "a removed item is not live")
	assert.True(t, j.HasBase("b1"))
	assert.Equal(t, []string{"a"}, ids(j.Missing(map[string]bool{})))
	assert.Empty(t, j.Missing(map[string]bool{"a": true}))
}

func ids(recs []*ItemRecord) []string {
	out := []string{}
	for _, r := range recs {
		out = append(out, r.Item)
	}
	return out
}

// A crash mid-append leaves a torn last line: it is ignored, and cut off
// before the next append, so the file stays a list of whole lines.
func TestJournalTornTail(t *testing.T) {
	path := filepath.Join(t.TempDir(), "items_up.jsonl")
	good := `{"item":"a","key":"k1"}` + "\n"
	for _, torn := range []string{`{"item":"b","ke`, `{"item":"b","key":"k2"}` /* no newline */, "garbage\n"} {
		require.NoError(t, os.WriteFile(path, []byte(good+torn), 0o644))
		j, err := OpenJournal(path)
		require.NoError(t, err)
		assert.Equal(t, []string{"a"}, ids(j.Missing(nil)), "torn %q", torn)
		require.NoError(t, j.Append(&ItemRecord{Item: "c", Key: "k3"}))
		require.NoError(t, j.Close())
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		assert.Equal(t, good+`{"item":"c","key":"k3"}`+"\n", string(b), "torn %q", torn)
		j, err = OpenJournal(path)
		require.NoError(t, err)
		assert.Equal(t, []string{"a", "c"}, ids(j.Missing(nil)))
	}
}

// Superseded lines are compacted away once they outnumber the live state.
func TestJournalCompacts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "items_up.jsonl")
	j, err := OpenJournal(path)
	require.NoError(t, err)
	require.NoError(t, j.Append(&ItemRecord{Base: "old", Parts: []byte(`{}`)}, &ItemRecord{Base: "new", Parts: []byte(`{}`)}))
	for round := 0; round < 50; round++ {
		require.NoError(t, j.Append(&ItemRecord{Item: "x", Key: "k", Base: "new"}, &ItemRecord{Item: "y", Key: "k", Base: "new"}))
	}
	require.NoError(t, j.Close())
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	assert.Equal(t, []string{`{"base":"new","parts":{}}`, `{"item":"x","key":"k","base":"new"}`, `{"item":"y","key":"k","base":"new"}`}, lines,
		"only the live items and the parts they use remain")
	j, err = OpenJournal(path)
	require.NoError(t, err)
	assert.Equal(t, 2, j.Len())
}

// A symlink planted in the journal's place is not followed.
func TestJournalRefusesSymlink(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	require.NoError(t, os.WriteFile(victim, []byte("keep\n"), 0o644))
	path := filepath.Join(dir, "items_up.jsonl")
	require.NoError(t, os.Symlink(victim, path))
	_, err := OpenJournal(path)
	require.Error(t, err)
	b, _ := os.ReadFile(victim)
	assert.Equal(t, "keep\n", string(b))
}

// Thousands of lines decode in parallel and still apply in file order,
// stopping at the first line that does not parse.
func TestJournalParallelReplay(t *testing.T) {
	path := filepath.Join(t.TempDir(), "items_up.jsonl")
	var b strings.Builder
	for i := 0; i < 3000; i++ {
		fmt.Fprintf(&b, `{"item":"i%d","key":"k%d"}`+"\n", i%1000, i)
	}
	b.WriteString("torn\n")
	b.WriteString(`{"item":"late","key":"k"}` + "\n")
	require.NoError(t, os.WriteFile(path, []byte(b.String()), 0o644))
	j, err := OpenJournal(path)
	require.NoError(t, err)
	assert.Equal(t, 1000, j.Len())
	assert.Equal(t, "k2999", j.Get("i999").Key, "later lines win")
	assert.Equal(t, "k2000", j.Get("i0").Key)
	assert.Nil(t, j.Get("late"), "nothing after a bad line is applied")
}

// The journal keeps where lines are, not what they say: every record
// reads back whole, whether it crosses a chunk of the read cache, is over
// a MiB long, was appended and not yet flushed, or the journal was
// compacted meanwhile; a line damaged past its item id ends the replay.
func TestJournalReadsLinesBack(t *testing.T) {
	path := filepath.Join(t.TempDir(), "items_up.jsonl")
	j, err := OpenJournal(path)
	require.NoError(t, err)
	want := map[string]string{}
	for i := range 3000 {
		id := fmt.Sprintf("i%04d", i)
		key := strings.Repeat(string(rune('a'+i%26)), 64+i%300) // lines of varied length cross chunk edges
		want[id] = key
		require.NoError(t, j.Append(&ItemRecord{Item: id, Key: key, Inputs: []InputRecord{{Path: "in/" + id, SHA256: key[:64]}}}))
		if i%1000 == 999 {
			require.NoError(t, j.Sync())
		}
	}
	long := strings.Repeat("L", 3<<20)
	want["long"] = long
	require.NoError(t, j.Append(&ItemRecord{Item: "long", Key: long}))
	require.Equal(t, long, j.Get("long").Key, "an appended line is read back before it is flushed")
	require.NoError(t, j.Close())

	j, err = OpenJournal(path)
	require.NoError(t, err)
	require.Equal(t, len(want), j.Len())
	for _, id := range []string{"i2999", "i0000", "long", "i1500", "i1501", "i0001"} { // out of order too
		require.Equal(t, want[id], j.Get(id).Key, id)
	}
	for id, key := range want {
		require.Equal(t, key, j.Get(id).Key, id)
	}
	// Superseded lines until it compacts at Close; then read again.
	for range 5 {
		for i := range 1000 {
			id := fmt.Sprintf("i%04d", i)
			want[id] = want[id] + "x"
			require.NoError(t, j.Append(&ItemRecord{Item: id, Key: want[id]}))
		}
	}
	require.NoError(t, j.Close())
	j, err = OpenJournal(path)
	require.NoError(t, err)
	for id, key := range want {
		require.Equal(t, key, j.Get(id).Key, id)
	}
	require.NoError(t, j.Close())

	// Damaged after the id: replay stops there.
	good := `{"item":"a","key":"k1"}` + "\n"
	require.NoError(t, os.WriteFile(path, []byte(good+`{"item":"b","key":"k2","inputs":[{"path":`+"\x00\x00"+`}]}`+"\n"+`{"item":"c","key":"k3"}`+"\n"), 0o644))
	j, err = OpenJournal(path)
	require.NoError(t, err)
	assert.Equal(t, "k1", j.Get("a").Key)
	assert.Nil(t, j.Get("b"), "a damaged line is no record: its item runs again")
	assert.Equal(t, 1, j.Len())
	assert.Nil(t, j.Get("c"), "nothing after a line that does not parse is applied")
}

// A marker's head reads the same whether its parts come last (as written
// now) or before its outputs (as markers were written before); the parts
// are decoded only by DecodeMarker.
func mustHead(t *testing.T, dir string) *MarkerHead {
	t.Helper()
	h, err := ReadMarkerHead(dir, "s")
	require.NoError(t, err)
	require.NotNil(t, h)
	return h
}

func TestMarkerHeadEitherOrder(t *testing.T) {
	dir := t.TempDir()
	m := &Marker{Version: 1, Stage: "s", Key: "k1", Parts: json.RawMessage(`{"inputs":[1,2,3]}`),
		Outputs: []MarkerOutput{{OutputRecord: OutputRecord{Path: "o/a", Size: 1, SHA256: "h"}}}, Counters: &MarkerCounters{BytesIn: 7}}
	require.NoError(t, WriteMarker(dir, m))
	b, err := os.ReadFile(MarkerFile(dir, "s"))
	require.NoError(t, err)
	require.Greater(t, strings.Index(string(b), `"parts"`), strings.Index(string(b), `"outputs"`), "parts are written last")
	newer, err := ReadMarkerHead(dir, "s")
	require.NoError(t, err)

	old := `{"version":1,"stage":"s","key":"k1","parts":{"inputs":[1,2,3]},"outputs":[{"path":"o/a","size":1,"sha256":"h","id":{"size":0,"mtimeNs":0}}],"counters":{"bytesIn":7,"bytesOut":0,"linesIn":0,"linesOut":0}}`
	require.NoError(t, os.WriteFile(MarkerFile(dir, "s"), []byte(old), 0o644))
	older, err := ReadMarkerHead(dir, "s")
	require.NoError(t, err)
	assert.Equal(t, newer.Key, older.Key)
	assert.Equal(t, newer.Outputs, older.Outputs)
	assert.Equal(t, newer.Counters, older.Counters)
	full, err := older.DecodeMarker()
	require.NoError(t, err)
	assert.JSONEq(t, `{"inputs":[1,2,3]}`, string(full.Parts))
	var parts struct{ Inputs []int }
	require.NoError(t, older.DecodeParts(&parts))
	assert.Equal(t, []int{1, 2, 3}, parts.Inputs, "DecodeParts decodes the parts in place")
	var again struct{ Inputs []int }
	require.NoError(t, newer.DecodeParts(&again))
	assert.Equal(t, []int{1, 2, 3}, again.Inputs)

	// Parts are written as they are; none is null, and bytes that are
	// not JSON are refused before anything is written.
	m.Parts = nil
	require.NoError(t, WriteMarker(dir, m))
	full, err = mustHead(t, dir).DecodeMarker()
	require.NoError(t, err)
	assert.Equal(t, "k1", full.Key)
	assert.Equal(t, json.RawMessage("null"), full.Parts)
	m.Parts = json.RawMessage(`{"inputs":[`)
	assert.Error(t, WriteMarker(dir, m))
	assert.Equal(t, "k1", mustHead(t, dir).Key, "the marker before is intact")

	for _, bad := range []string{`[]`, `{"key":"k"}`, `{"key":`} {
		require.NoError(t, os.WriteFile(MarkerFile(dir, "s"), []byte(bad), 0o644))
		_, err := ReadMarkerHead(dir, "s")
		assert.Error(t, err, bad)
	}
	none, err := ReadMarkerHead(t.TempDir(), "s")
	assert.NoError(t, err)
	assert.Nil(t, none)
}

// BenchmarkWriteMarker writes the marker of a fan-in of 10,000 inputs as
// WriteMarker does and as it did before (the whole marker indented).
func BenchmarkWriteMarker(b *testing.B) {
	type in struct {
		Path   string `json:"path"`
		Size   int64  `json:"size"`
		SHA256 string `json:"sha256"`
	}
	ins := make([]in, 10000)
	for i := range ins {
		ins[i] = in{Path: fmt.Sprintf("work/upper/f%06d.txt", i), Size: 31, SHA256: strings.Repeat("ab", 32)}
	}
	parts, err := json.Marshal(map[string]any{"format": 2, "inputs": ins})
	if err != nil {
		b.Fatal(err)
	}
	m := &Marker{Version: 1, Stage: "merge", Key: "k", Parts: parts, Outputs: []MarkerOutput{{OutputRecord: OutputRecord{Path: "output/copy.txt"}}}}
	dir := b.TempDir()
	b.Run("head+raw parts", func(b *testing.B) {
		for b.Loop() {
			if err := WriteMarker(dir, m); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("indented", func(b *testing.B) {
		for b.Loop() {
			if err := atomicfile.WriteJSON(MarkerFile(dir, m.Stage), m); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// A journal only read (plan's) is let go by Discard without being
// compacted, however many superseded lines it holds: plan writes nothing.
func TestJournalDiscardWritesNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "items_up.jsonl")
	j, err := OpenJournal(path)
	require.NoError(t, err)
	for i := range 200 { // one live item, 199 superseded lines
		require.NoError(t, j.Append(&ItemRecord{Item: "a", Key: fmt.Sprint(i)}))
	}
	require.NoError(t, j.Sync())
	j.Discard()
	before, err := os.ReadFile(path)
	require.NoError(t, err)

	j, err = OpenJournal(path)
	require.NoError(t, err)
	assert.Equal(t, "199", j.Get("a").Key)
	j.Discard()
	after, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, before, after, "Discard does not compact")

	j, err = OpenJournal(path)
	require.NoError(t, err)
	require.NoError(t, j.Close())
	after, err = os.ReadFile(path)
	require.NoError(t, err)
	assert.Less(t, len(after), len(before), "Close does")
}
