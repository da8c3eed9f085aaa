package runstate

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestJournalReplaysAppendsAndRemovals(t *testing.T) {
	path := filepath.Join(t.TempDir(), "items_up.jsonl")
	j, err := OpenJournal(path)
	require.NoError(t, err)
	assert.Empty(t, j.Items)
	require.NoError(t, j.Append(&ItemRecord{Base: "b1", Parts: []byte(`{"p":1}`)},
		&ItemRecord{Item: "a", Key: "k1", Base: "b1"},
		&ItemRecord{Item: "b", Key: "k2", Base: "b1"}))
	require.NoError(t, j.Append(&ItemRecord{Item: "a", Key: "k3", Base: "b1"}, &ItemRecord{Item: "b", Removed: true}))
	require.NoError(t, j.Close())

	j, err = OpenJournal(path)
	require.NoError(t, err)
	require.Len(t, j.Items, 1)
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
	assert.Len(t, j.Items, 2)
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
	assert.Len(t, j.Items, 1000)
	assert.Equal(t, "k2999", j.Get("i999").Key, "later lines win")
	assert.Equal(t, "k2000", j.Get("i0").Key)
	assert.Nil(t, j.Get("late"), "nothing after a bad line is applied")
}
