package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// runBatchExample runs a batch processor of docs/PROCESSORS.md over four
// items (one of them with a missing input) as guardrun would, and checks
// its reports and outputs.
func runBatchExample(t *testing.T, argv ...string) {
	t.Helper()
	dir := t.TempDir()
	in := func(name, body string) string {
		path := filepath.Join(dir, "in", name)
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		return writeFile(t, path, []byte(body))
	}
	type entry struct {
		Item    string   `json:"item"`
		Inputs  []string `json:"inputs"`
		Outputs []string `json:"outputs"`
	}
	items := []entry{
		{"a.txt", []string{in("a.txt", "alpha\nbeta")}, []string{"a.txt"}},
		{"b.txt", []string{in("b.txt", "b\n"), in("shared.txt", "shared\n")}, []string{"b.txt"}},
		{"gone.txt", []string{filepath.Join(dir, "in", "gone.txt")}, []string{"gone.txt"}},
		{"sub/c.txt", []string{in("sub/c.txt", "c\n")}, []string{"sub/c.txt"}},
	}
	list, err := json.Marshal(items)
	require.NoError(t, err)
	batchFile := writeFile(t, filepath.Join(dir, "items.json"), list)
	outDir := filepath.Join(dir, "staging")
	require.NoError(t, os.MkdirAll(filepath.Join(outDir, "sub"), 0o755))
	pr, pw, err := os.Pipe()
	require.NoError(t, err)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "PIPELINE_BATCH_FILE="+batchFile, "PIPELINE_OUTPUT_DIR="+outDir,
		"PIPELINE_INPUTS=[]", "PIPELINE_OUTPUTS=[]", "PIPELINE_PROGRESS_FD=3")
	cmd.ExtraFiles = []*os.File{pw}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	pw.Close()
	var reports []map[string]string
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		var m map[string]string
		require.NoError(t, json.Unmarshal(sc.Bytes(), &m), sc.Text())
		reports = append(reports, m)
	}
	err = cmd.Wait()
	var xe *exec.ExitError
	require.True(t, errors.As(err, &xe), "the failed item makes the process fail: %v", err)
	assert.Equal(t, 1, xe.ExitCode(), stderr.String())
	require.Len(t, reports, 4, "one report per item")
	for k, want := range []string{"done", "done", "failed", "done"} {
		assert.Equal(t, items[k].Item, reports[k]["item"])
		assert.Equal(t, want, reports[k]["status"], reports[k]["item"])
	}
	assert.Contains(t, reports[2]["error"], "gone.txt")
	for name, want := range map[string]string{"a.txt": "ALPHA\nBETA", "b.txt": "B\nSHARED\n", "sub/c.txt": "C\n"} {
		got, err := os.ReadFile(filepath.Join(outDir, name))
		require.NoError(t, err)
		assert.Equal(t, want, string(got), name)
	}
	assert.False(t, strings.Contains(stderr.String(), "panic"), stderr.String())
}

// TestDocBatchGoExample builds and runs the batch example in Go.
func TestDocBatchGoExample(t *testing.T) {
	dir := t.TempDir()
	src := writeFile(t, filepath.Join(dir, "main.go"), []byte(docBlock(t, "go batch")))
	bin := filepath.Join(dir, "upperbatch")
	out, err := exec.Command("go", "build", "-o", bin, src).CombinedOutput()
	require.NoError(t, err, "%s", out)
	runBatchExample(t, bin)
}

// TestDocBatchPythonExample runs the batch example in Python.
func TestDocBatchPythonExample(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 not installed")
	}
	dir := t.TempDir()
	src := writeFile(t, filepath.Join(dir, "upper_batch.py"), []byte(docBlock(t, "python batch")))
	runBatchExample(t, "python3", src)
}
