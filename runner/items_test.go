package runner

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/guardrun/guardrun/internal/runstate"
	"github.com/guardrun/guardrun/internal/testutil"
)

// Items are the regular files a glob matches beneath its root, by id; the
// walk skips guardrun's artifacts, symlinks, the state dir and the stage's
// own outputDir.
func TestListItems(t *testing.T) {
	spec := `{"version":1,"name":"t","stages":[
	  {"name":"up","foreach":{"glob":"in/**/*.txt"},"processor":{"exec":["/bin/true"]},"outputDir":"in/out","outputs":["{item}"]}]}`
	dir := testutil.Workspace(t, map[string]string{"pipeline.json": spec,
		"in/a.txt": "a", "in/sub/b.txt": "b", "in/c.csv": "c", "in/out/old.txt": "mine",
		"in/.up.done": "marker", "in/.x.staging/d.txt": "staged"})
	require.NoError(t, os.Symlink(filepath.Join(dir, "in/a.txt"), filepath.Join(dir, "in/link.txt")))
	p := load(t, dir)
	items, err := listItems(p, &p.Stages[0])
	require.NoError(t, err)
	var got []string
	for _, it := range items {
		got = append(got, it.id)
	}
	assert.Equal(t, []string{"a.txt", "sub/b.txt"}, got)
}

// Templates expand per item; outputs that would leave outputDir, take a
// reserved name or collide between items are errors naming the items.
func TestExpandJob(t *testing.T) {
	spec := `{"version":1,"name":"t","stages":[
	  {"name":"up","foreach":{"glob":"in/**/*.txt"},"processor":{"exec":["/bin/true"]},"inputs":["{path}","dict.txt"],"outputDir":"o","outputs":["{dir}/{stem}.out","{name}.log"]},
	  {"name":"next","foreach":{"stage":"up"},"processor":{"exec":["/bin/true"]},"outputDir":"o2","outputs":["{stem}{ext}.gz"]}]}`
	dir := testutil.Workspace(t, map[string]string{"pipeline.json": spec, "in/x/a.txt": "a", "dict.txt": "d"})
	p := load(t, dir)
	up, err := expandJob(&p.Stages[0], "x/a.txt", nil)
	require.NoError(t, err)
	assert.Equal(t, []string{"in/x/a.txt", "dict.txt"}, up.inputs)
	assert.Equal(t, []string{"x/a.out", "a.txt.log"}, up.outputs)
	assert.Equal(t, []string{"o/x/a.out", "o/a.txt.log"}, up.outPaths)
	next, err := expandJob(&p.Stages[1], "x/a.txt", up)
	require.NoError(t, err)
	assert.Equal(t, []string{"o/x/a.out", "o/a.txt.log"}, next.inputs, "a chained stage reads every output of its upstream item")
	assert.Equal(t, []string{"a.out.gz"}, next.outputs, "{stem} and {ext} describe the upstream item's first output")
	assert.NotEqual(t, up.name, next.name)

	other, err := expandJob(&p.Stages[0], "y/a.txt", nil)
	require.NoError(t, err)
	err = checkCollisions(&p.Stages[0], []*job{up, other})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "items x/a.txt and y/a.txt both write output a.txt.log")

	st := p.Stages[0]
	st.Outputs = []string{".{stem}.done"}
	_, err = expandJob(&st, "x/a.txt", nil)
	require.ErrorContains(t, err, "reserved")

	// Expanded on every CPU, the jobs keep the items' order and the error
	// is the first failing item's, whichever goroutine met it first.
	var items []item
	for i := 0; i < 2000; i++ {
		items = append(items, item{id: fmt.Sprintf("x/f%04d.txt", i)})
	}
	jobs, err := expandJobs(&p.Stages[0], items, nil)
	require.NoError(t, err)
	for i, j := range jobs {
		require.Equal(t, items[i].id, j.item)
	}
	st.Outputs = []string{"{dir}"} // "." for an item at the root: not a file
	items[1500].id, items[700].id = "b.txt", "a.txt"
	for range 5 {
		_, err = expandJobs(&st, items, nil)
		require.ErrorContains(t, err, "item a.txt: outputs[0]")
	}
}

// A fan-out whose output templates change reruns every item and removes
// the outputs the items no longer declare; the metrics count one attempt
// per item and no retries.
func TestFanoutRemovesOutputsNoLongerDeclared(t *testing.T) {
	spec := func(out string) string {
		return `{"version":1,"name":"t","stages":[
		  {"name":"cp","foreach":{"glob":"in/*.txt"},"processor":{"exec":["bin/copy"]},"outputDir":"o","outputs":["` + out + `"]}]}`
	}
	dir := testutil.Workspace(t, map[string]string{"pipeline.json": spec("{stem}.a"), "in/x.txt": "x\n", "in/y.txt": "y\n"})
	res, err := runOnce(t, dir, Options{})
	require.NoError(t, err)
	assert.Equal(t, "x\n", readFile(t, filepath.Join(dir, "o/x.a")))
	require.Len(t, res.Metrics.Stages, 1)
	assert.Equal(t, 2, res.Metrics.Stages[0].Attempts)
	assert.Equal(t, 0, res.Metrics.Stages[0].Retries)
	assert.Equal(t, 2, runLine(t, res.State, "cp").Attempts)

	testutil.WriteFile(t, filepath.Join(dir, "pipeline.json"), spec("{stem}.b"))
	res, err = runOnce(t, dir, Options{})
	require.NoError(t, err)
	assert.Equal(t, 2, runLine(t, res.State, "cp").Items.Ran)
	assert.Equal(t, "y\n", readFile(t, filepath.Join(dir, "o/y.b")))
	for _, gone := range []string{"o/x.a", "o/y.a"} {
		_, err := os.Stat(filepath.Join(dir, gone))
		assert.ErrorIs(t, err, os.ErrNotExist, "%s is no output of the stage any more", gone)
	}
}

// A chain's root stage takes its lock and starts reading its journal
// before its items are listed; when the listing fails, the stage fails
// naming the root, and the journal and the lock are let go: the next run
// (in the same process) is not locked out and fails the same way.
func TestFanoutListingFailsAfterJournalBegun(t *testing.T) {
	spec := `{"version":1,"name":"t","stages":[
	  {"name":"cp","foreach":{"dir":"in"},"processor":{"exec":["bin/copy"]},"outputDir":"o","outputs":["{item}"]}]}`
	dir := testutil.Workspace(t, map[string]string{"pipeline.json": spec, "in/x.txt": "x\n"})
	_, err := runOnce(t, dir, Options{})
	require.NoError(t, err) // a journal now exists
	require.NoError(t, os.RemoveAll(filepath.Join(dir, "in")))
	testutil.WriteFile(t, filepath.Join(dir, "in"), "a file where the root dir was")
	for range 2 {
		res, err := runOnce(t, dir, Options{})
		require.Error(t, err)
		assert.Contains(t, runLine(t, res.State, "cp").Error, "in is not a directory")
	}
	if runtime.GOOS == "linux" { // no descriptor of the journal is left open
		journal := Layout(load(t, dir)).ItemJournal("cp")
		ents, err := os.ReadDir("/proc/self/fd")
		require.NoError(t, err)
		for _, e := range ents {
			target, _ := os.Readlink(filepath.Join("/proc/self/fd", e.Name()))
			assert.NotEqual(t, journal, target, "fd %s", e.Name())
		}
	}
}

// An input list too long for one environment variable reaches the
// processor through PIPELINE_INPUTS_FILE, which is gone after the attempt;
// a list a crash left behind is swept at the start of the next run.
func TestLongInputListGoesThroughAFile(t *testing.T) {
	files := map[string]string{"pipeline.json": `{"version":1,"name":"t","stages":[
	  {"name":"all","processor":{"exec":["bin/copy"]},"inputs":["in"],"outputDir":"o","outputs":["all.txt"]}]}`}
	var want strings.Builder
	long := strings.Repeat("n", 120)
	for i := 0; i < 700; i++ { // about 100 KiB of JSON: over maxInputsEnv
		name := fmt.Sprintf("in/%04d-%s.txt", i, long)
		files[name] = fmt.Sprintf("line %d\n", i)
		want.WriteString(files[name])
	}
	dir := testutil.Workspace(t, files)
	leftover := filepath.Join(dir, "state", "inputs", "crashed.json")
	testutil.WriteFile(t, leftover, "[]")
	_, err := runOnce(t, dir, Options{})
	require.NoError(t, err)
	assert.Equal(t, want.String(), readFile(t, filepath.Join(dir, "o/all.txt")))
	entries, err := os.ReadDir(filepath.Join(dir, "state", "inputs"))
	require.NoError(t, err)
	assert.Empty(t, entries, "the input list is removed after the attempt, the leftover swept")
}

func TestBatchSize(t *testing.T) {
	for _, tc := range []struct{ pending, maxItems, workers, want int }{
		{200, 1000, 2, 100}, // one batch per worker
		{7, 3, 2, 3},        // 3 batches of at most 3
		{1, 100, 2, 1},
		{10000, 500, 2, 500},
		{10001, 500, 2, 477}, // 21 batches, evened out
		{5, 1, 4, 1},
	} {
		assert.Equal(t, tc.want, batchSize(tc.pending, tc.maxItems, tc.workers), "%+v", tc)
	}
}

// An item's inputs are known by their journal identity: a no-op takes
// their hashes from the journal (the stat cache keeps no entry for them or
// for the items' outputs), a content change that keeps size and mtime is
// still seen (ctime), and an input modified within the racy window of its
// hash gets no identity (the next run hashes it again).
func TestItemInputsKnownByJournal(t *testing.T) {
	dir := testutil.Workspace(t, map[string]string{"pipeline.json": `{"version":1,"name":"t","stages":[
	  {"name":"cp","foreach":{"glob":"in/*.txt"},"processor":{"exec":["bin/copy"]},"outputDir":"o","outputs":["{stem}.txt"]},
	  {"name":"all","processor":{"exec":["bin/copy"]},"inputs":["o"],"outputDir":"out","outputs":["all.txt"]}]}`,
		"in/x.txt": "x1\n", "in/y.txt": "y1\n"})
	old := time.Now().Add(-time.Hour)
	for _, n := range []string{"in/x.txt", "in/y.txt"} {
		require.NoError(t, os.Chtimes(filepath.Join(dir, n), old, old))
	}
	_, err := runOnce(t, dir, Options{})
	require.NoError(t, err)
	jn, err := runstate.OpenJournal(filepath.Join(dir, "state", "items_cp.jsonl"))
	require.NoError(t, err)
	for _, id := range []string{"x.txt", "y.txt"} {
		require.NotNil(t, jn.Get(id).Inputs[0].ID, "%s: an input an hour old is recorded with its identity", id)
	}
	require.NoError(t, jn.Close())

	res, err := runOnce(t, dir, Options{})
	require.NoError(t, err)
	assert.Equal(t, runstate.StageSkipped, runLine(t, res.State, "cp").Status)
	assert.Equal(t, runstate.StageSkipped, runLine(t, res.State, "all").Status)
	cache := readFile(t, filepath.Join(dir, "state", "hashcache.txt"))
	for _, n := range []string{"in/x.txt", "in/y.txt", "o/x.txt", "o/y.txt"} {
		assert.NotContains(t, cache, filepath.Join(dir, n), "the stat cache keeps no entry the items' journal holds")
	}
	// plan decides as the run does: by the journal's identities, with no
	// input looked up in the stat cache (which no longer holds them) or
	// hashed.
	var mu sync.Mutex
	var summed []string
	onSumFile = func(rel string) {
		if strings.HasPrefix(rel, "in/") || strings.HasPrefix(rel, "o/") {
			mu.Lock()
			summed = append(summed, rel)
			mu.Unlock()
		}
	}
	plans, err := Plan(context.Background(), load(t, dir), PlanOptions{})
	onSumFile = nil
	require.NoError(t, err)
	assert.Equal(t, "skip", plans[0].Action)
	assert.Equal(t, "skip", plans[1].Action)
	assert.Empty(t, summed, "plan of a no-op looks up no item input and no fan-in input")

	// Same size, same mtime, other bytes: the ctime differs.
	x := filepath.Join(dir, "in/x.txt")
	testutil.WriteFile(t, x, "x2\n")
	require.NoError(t, os.Chtimes(x, old, old))
	// Modified "now" as far as the racy window goes: no identity kept.
	z := filepath.Join(dir, "in/z.txt")
	testutil.WriteFile(t, z, "z1\n")
	future := time.Now().Add(time.Hour)
	require.NoError(t, os.Chtimes(z, future, future))
	res, err = runOnce(t, dir, Options{})
	require.NoError(t, err)
	assert.Equal(t, 2, runLine(t, res.State, "cp").Items.Ran, "x changed, z is new")
	assert.Equal(t, "x2\n", readFile(t, filepath.Join(dir, "o/x.txt")))
	assert.Equal(t, "x2\ny1\nz1\n", readFile(t, filepath.Join(dir, "out/all.txt")))
	jn, err = runstate.OpenJournal(filepath.Join(dir, "state", "items_cp.jsonl"))
	require.NoError(t, err)
	assert.Nil(t, jn.Get("z.txt").Inputs[0].ID, "a hash begun within the racy window of the mtime is not tied to the identity")
	assert.NotNil(t, jn.Get("x.txt").Inputs[0].ID)
	require.NoError(t, jn.Close())

	// Its mtime back in the past: same bytes, so nothing runs, and the
	// record gains the identity (as a record written before identities
	// were recorded does).
	require.NoError(t, os.Chtimes(z, old, old))
	res, err = runOnce(t, dir, Options{})
	require.NoError(t, err)
	assert.Equal(t, runstate.StageSkipped, runLine(t, res.State, "cp").Status)
	jn, err = runstate.OpenJournal(filepath.Join(dir, "state", "items_cp.jsonl"))
	require.NoError(t, err)
	assert.NotNil(t, jn.Get("z.txt").Inputs[0].ID, "a skipped item's record gains its inputs' identity")
	require.NoError(t, jn.Close())
}
