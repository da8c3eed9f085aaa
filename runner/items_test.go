package runner

import (
	"os"
	"path/filepath"
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
	assert.Equal(t, []string{"in/x/a.txt", "dict.txt"}, up.st.Inputs)
	assert.Equal(t, []string{"x/a.out", "a.txt.log"}, up.st.Outputs)
	assert.Equal(t, []string{"o/x/a.out", "o/a.txt.log"}, up.outPaths)
	next, err := expandJob(&p.Stages[1], "x/a.txt", up)
	require.NoError(t, err)
	assert.Equal(t, []string{"o/x/a.out", "o/a.txt.log"}, next.st.Inputs, "a chained stage reads every output of its upstream item")
	assert.Equal(t, []string{"a.out.gz"}, next.st.Outputs, "{stem} and {ext} describe the upstream item's first output")
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
