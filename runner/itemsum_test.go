package runner

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/guardrun/guardrun/internal/runstate"
	"github.com/guardrun/guardrun/internal/testutil"
)

const sumSpec = `{"version":1,"name":"t","stages":[
  {"name":"cp","foreach":{"glob":"in/*.txt"},"processor":{"exec":["bin/copy"]},"outputDir":"o","outputs":["{item}"]PARAMS},
  {"name":"up","foreach":{"stage":"cp"},"processor":{"exec":["bin/copy"]},"outputDir":"o2","outputs":["{item}"]},
  {"name":"all","processor":{"exec":["bin/copy"]},"inputs":["o2"],"outputDir":"out","outputs":["all.txt"]}]}`

// sumRun is a run of the summary test's pipeline: the items each fan-out
// stage ran and skipped, and whether it opened any item journal.
type sumRun struct {
	ran, skipped   [2]int
	removed        int
	openedJournals bool
	allStatus      string
	bytesIn        int64
}

func runSum(t *testing.T, dir string) sumRun {
	t.Helper()
	before := journalOpens.Load()
	res, err := runOnce(t, dir, Options{})
	require.NoError(t, err)
	var r sumRun
	for k, name := range []string{"cp", "up"} {
		line := runLine(t, res.State, name)
		c := line.Items
		if c == nil { // a stage that did nothing is only named skipped
			require.Equal(t, runstate.StageSkipped, line.Status, name)
			continue
		}
		r.ran[k], r.skipped[k] = c.Ran, c.Skipped
		if k == 0 {
			r.removed = c.Removed
		}
	}
	r.openedJournals = journalOpens.Load() != before
	r.allStatus = runLine(t, res.State, "all").Status
	for _, s := range res.Metrics.Stages {
		r.bytesIn += s.BytesIn
	}
	if k := res.Metrics.Skipped; k != nil {
		r.bytesIn += k.BytesIn
	}
	return r
}

// age sets the times of workspace files an hour back: a file modified
// within the stat cache's racy window of its hash gets no identity, and
// an item with such an input no summary entry.
func age(t *testing.T, dir string, names ...string) {
	t.Helper()
	old := time.Now().Add(-time.Hour)
	for _, n := range names {
		require.NoError(t, os.Chtimes(filepath.Join(dir, n), old, old))
	}
}

// A no-op of fan-out stages is settled by their item summaries, without
// opening a journal; every change the journal would see makes the run
// decide from the journal instead, with the same outcome as without a
// summary, and leaves a summary the next no-op uses again.
func TestItemSummarySettlesNoop(t *testing.T) {
	spec := func(params string) string { return strings.Replace(sumSpec, "PARAMS", params, 1) }
	dir := testutil.Workspace(t, map[string]string{"pipeline.json": spec(""), "in/x.txt": "x1\n", "in/y.txt": "y1\n", "in/w.txt": "w1\n"})
	age(t, dir, "in/x.txt", "in/y.txt", "in/w.txt")
	r := runSum(t, dir)
	require.Equal(t, [2]int{3, 3}, r.ran)
	bytesIn := r.bytesIn
	require.Equal(t, int64(3*9), bytesIn, "cp, up and all each read the 3 files")

	noop := func(what string) {
		t.Helper()
		r := runSum(t, dir)
		assert.Equal(t, [2]int{0, 0}, r.ran, what)
		assert.Equal(t, r.skipped[0], r.skipped[1], what)
		assert.False(t, r.openedJournals, "%s: a no-op is settled by the summaries", what)
		assert.Equal(t, runstate.StageSkipped, r.allStatus, what)
		// plan decides as the run does.
		before := journalOpens.Load()
		plans, err := Plan(context.Background(), load(t, dir), PlanOptions{})
		require.NoError(t, err)
		for _, sp := range plans {
			assert.Equal(t, "skip", sp.Action, "%s: plan of %s", what, sp.Name)
		}
		assert.Equal(t, before, journalOpens.Load(), "%s: plan of a no-op opens no journal", what)
	}
	noop("after the first run")
	r = runSum(t, dir)
	assert.Equal(t, bytesIn, r.bytesIn, "a no-op settled by the summaries reports the input bytes of the run it skips")

	// An input edited: its chain and the fan-in rerun.
	testutil.WriteFile(t, filepath.Join(dir, "in/x.txt"), "x22\n")
	age(t, dir, "in/x.txt")
	plans, err := Plan(context.Background(), load(t, dir), PlanOptions{})
	require.NoError(t, err)
	require.Len(t, plans, 3)
	for k, want := range []int{1, 1} {
		require.NotNil(t, plans[k].Items, plans[k].Name)
		assert.Equal(t, want, plans[k].Items.Run, "plan of %s after an edit", plans[k].Name)
		assert.Equal(t, 2, plans[k].Items.Skip, "plan of %s after an edit", plans[k].Name)
	}
	r = runSum(t, dir)
	assert.Equal(t, [2]int{1, 1}, r.ran)
	assert.True(t, r.openedJournals)
	assert.Equal(t, runstate.StageSucceeded, r.allStatus)
	assert.Equal(t, "w1\nx22\ny1\n", readFile(t, filepath.Join(dir, "out/all.txt")))
	noop("after an edit")

	// An output overwritten: its item reruns and puts it back.
	testutil.WriteFile(t, filepath.Join(dir, "o/y.txt"), "forged\n")
	r = runSum(t, dir)
	assert.Equal(t, 1, r.ran[0])
	assert.Equal(t, "y1\n", readFile(t, filepath.Join(dir, "o/y.txt")))
	noop("after an output was overwritten")

	// An item added, another removed.
	testutil.WriteFile(t, filepath.Join(dir, "in/z.txt"), "z1\n")
	age(t, dir, "in/z.txt")
	require.NoError(t, os.Remove(filepath.Join(dir, "in/w.txt")))
	r = runSum(t, dir)
	assert.Equal(t, [2]int{1, 1}, r.ran)
	assert.Equal(t, 1, r.removed)
	for _, gone := range []string{"o/w.txt", "o2/w.txt"} {
		_, err := os.Stat(filepath.Join(dir, gone))
		assert.ErrorIs(t, err, fs.ErrNotExist, gone)
	}
	assert.Equal(t, "x22\ny1\nz1\n", readFile(t, filepath.Join(dir, "out/all.txt")))
	noop("after an addition and a removal")

	// The journal appended to after the summary was written (a run killed
	// after its commits, before its summary): y's removal is in the
	// journal only, so y must run again.
	jn, err := runstate.OpenJournal(filepath.Join(dir, "state", "items_cp.jsonl"))
	require.NoError(t, err)
	require.NoError(t, jn.Append(&runstate.ItemRecord{Item: "y.txt", Removed: true}))
	require.NoError(t, jn.Close())
	r = runSum(t, dir)
	assert.Equal(t, 1, r.ran[0], "the journal, not the stale summary, decides")
	noop("after a journal line the summary did not know")

	// A damaged summary is not used; nothing reruns for it.
	sum := filepath.Join(dir, "state", "items_cp.sum")
	b, err := os.ReadFile(sum)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(sum, b[:len(b)/2], 0o644))
	r = runSum(t, dir)
	assert.Equal(t, [2]int{0, 0}, r.ran)
	assert.True(t, r.openedJournals, "a damaged summary decides nothing")
	noop("after a damaged summary")

	// Another spec: the summary is not used, and nothing reruns for it.
	testutil.WriteFile(t, filepath.Join(dir, "pipeline.json"), spec("")+"\n")
	r = runSum(t, dir)
	assert.Equal(t, [2]int{0, 0}, r.ran)
	assert.True(t, r.openedJournals, "a summary of another spec decides nothing")
	noop("after a spec change")

	// Other stage-wide parts (env): every item of the stage reruns.
	testutil.WriteFile(t, filepath.Join(dir, "pipeline.json"), spec(`,"env":{"V":"2"}`))
	r = runSum(t, dir)
	assert.Equal(t, 3, r.ran[0])
	noop("after an env change")

	// --force: the forced stage's items all run, from the journal.
	res, err := runOnce(t, dir, Options{Force: []string{"cp"}})
	require.NoError(t, err)
	assert.Equal(t, 3, runLine(t, res.State, "cp").Items.Ran)
	noop("after a forced run")

	// The outputs are those of a clean run over the same inputs.
	clean := testutil.Workspace(t, map[string]string{"pipeline.json": spec(`,"env":{"V":"2"}`), "in/x.txt": "x22\n", "in/y.txt": "y1\n", "in/z.txt": "z1\n"})
	_, err = runOnce(t, clean, Options{})
	require.NoError(t, err)
	want := testutil.Products(t, clean, "o", "o2", "out")
	require.Len(t, want, 7)
	assert.Equal(t, want, testutil.Products(t, dir, "o", "o2", "out"))
}

// A workspace copied elsewhere (new inodes, so no recorded identity
// matches) skips its items by their hashes once, records the new
// identities, and is settled by its summaries from the next run on.
func TestItemSummaryAfterCopy(t *testing.T) {
	dir := testutil.Workspace(t, map[string]string{"pipeline.json": strings.Replace(sumSpec, "PARAMS", "", 1), "in/x.txt": "x1\n", "in/y.txt": "y1\n"})
	age(t, dir, "in/x.txt", "in/y.txt")
	runSum(t, dir)
	cp := testutil.ReadableTempDir(t)
	require.NoError(t, os.CopyFS(cp, os.DirFS(dir)))
	require.NoError(t, os.Chmod(filepath.Join(cp, "bin", "copy"), 0o755))
	age(t, cp, "in/x.txt", "in/y.txt", "o/x.txt", "o/y.txt", "o2/x.txt", "o2/y.txt") // as cp -a keeps them
	r := runSum(t, cp)
	assert.Equal(t, [2]int{0, 0}, r.ran, "the copy's outputs have the recorded content")
	assert.True(t, r.openedJournals)
	r = runSum(t, cp)
	assert.Equal(t, [2]int{0, 0}, r.ran)
	assert.False(t, r.openedJournals, "the copy's new identities were recorded")
}

// A fan-out over a plain stage's fresh outputs: their hashes, made by
// guardrun as it promoted them, are trusted for their identities at once
// (not after the racy window), so the next run is settled by the summary.
func TestItemSummaryOverFreshOutputs(t *testing.T) {
	dir := testutil.Workspace(t, map[string]string{"pipeline.json": `{"version":1,"name":"t","stages":[
	  {"name":"gen","processor":{"exec":["bin/copy"]},"inputs":["src.txt"],"outputDir":"g","outputs":["copy.txt"]},
	  {"name":"each","foreach":{"glob":"g/*.txt"},"processor":{"exec":["bin/copy"]},"outputDir":"o","outputs":["{item}"]}]}`,
		"src.txt": "s\n"})
	res, err := runOnce(t, dir, Options{})
	require.NoError(t, err)
	require.Equal(t, 1, runLine(t, res.State, "each").Items.Ran)
	before := journalOpens.Load()
	res, err = runOnce(t, dir, Options{})
	require.NoError(t, err)
	assert.Equal(t, runstate.StageSkipped, runLine(t, res.State, "each").Status)
	assert.Equal(t, before, journalOpens.Load(), "the item's input, gen's output, was recorded with its identity")
}
