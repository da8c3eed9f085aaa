package sdk

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFromEnvBatchFile(t *testing.T) {
	clearEnv(t)
	dir := t.TempDir()
	t.Setenv(EnvOutputDir, dir)
	list := filepath.Join(dir, "items.json")
	require.NoError(t, os.WriteFile(list, []byte(`[{"item":"a.txt","inputs":["/in/a.txt"],"outputs":["a.out"]},{"item":"sub/b.txt","inputs":["/in/sub/b.txt"],"outputs":["sub/b.out","sub/b.idx"]}]`), 0o644))
	t.Setenv(EnvBatchFile, list)
	e, err := FromEnv()
	require.NoError(t, err)
	assert.True(t, e.Batched())
	assert.Equal(t, []Item{{ID: "a.txt", Inputs: []string{"/in/a.txt"}, Outputs: []string{"a.out"}},
		{ID: "sub/b.txt", Inputs: []string{"/in/sub/b.txt"}, Outputs: []string{"sub/b.out", "sub/b.idx"}}}, e.Items())

	for name, body := range map[string]string{
		"not a JSON array of items":                   `{"item":"a"}`,
		"element 0: no item id":                       `[{"inputs":[]}]`,
		`element 0: input "rel/a" is not an absolute`: `[{"item":"a","inputs":["rel/a"]}]`,
		`element 1: output "../x" is not a path`:      `[{"item":"a"},{"item":"b","outputs":["../x"]}]`,
	} {
		require.NoError(t, os.WriteFile(list, []byte(body), 0o644))
		_, err := FromEnv()
		require.Error(t, err, body)
		assert.Contains(t, err.Error(), EnvBatchFile+": ")
		assert.Contains(t, err.Error(), name)
	}
	t.Setenv(EnvBatchFile, filepath.Join(dir, "missing.json"))
	_, err = FromEnv()
	assert.ErrorContains(t, err, EnvBatchFile)
}

func TestItemsWithoutBatch(t *testing.T) {
	e := &Env{Item: "a.txt", Inputs: []string{"/in/a.txt"}, Outputs: []string{"a.out"}}
	assert.False(t, e.Batched())
	assert.Equal(t, []Item{{ID: "a.txt", Inputs: []string{"/in/a.txt"}, Outputs: []string{"a.out"}}}, e.Items())
	// Done and Failed report nothing outside a batch (the pipe would take
	// them for progress reports).
	lines := pipeEnv(t, e)
	require.NoError(t, e.Done("a.txt"))
	require.NoError(t, e.Failed("a.txt", errors.New("x")))
	assert.Empty(t, lines())
}

// EachItem reports each item done or failed, goes on after a failure and
// returns the first one; without a batch the first failure stops it.
func TestEachItemReports(t *testing.T) {
	e := &Env{batch: []Item{{ID: "a"}, {ID: "b \"quoted\""}, {ID: "c"}, {ID: "d"}}}
	lines := pipeEnv(t, e)
	var seen []string
	err := EachItem(e, func(e *Env, it Item) error {
		seen = append(seen, it.ID)
		switch it.ID {
		case "c":
			return Transient(errors.New("disk busy"))
		case "d":
			return errors.New("bad row")
		}
		return nil
	})
	require.Error(t, err)
	assert.Equal(t, "item c: disk busy", err.Error())
	assert.Equal(t, ExitTransient, ExitCode(err), "the first failure's exit code")
	assert.Equal(t, []string{"a", "b \"quoted\"", "c", "d"}, seen)
	assert.Equal(t, []string{
		`{"item":"a","status":"done"}` + "\n",
		`{"item":"b \"quoted\"","status":"done"}` + "\n",
		`{"item":"c","status":"failed","error":"item c: disk busy"}` + "\n",
		`{"item":"d","status":"failed","error":"item d: bad row"}` + "\n",
	}, lines())

	one := &Env{Item: "x", Inputs: []string{"/in/x"}}
	calls := 0
	err = EachItem(one, func(*Env, Item) error { calls++; return errors.New("boom") })
	assert.EqualError(t, err, "item x: boom")
	assert.Equal(t, 1, calls)
}
