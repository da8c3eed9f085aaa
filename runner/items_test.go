package runner

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
