package e2e

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/guardrun/guardrun/processors/sdk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// wcWant is what wc should write for inputs, computed independently: paths
// relative to dir when inside it.
func wcWant(t *testing.T, dir string, inputs []string) string {
	t.Helper()
	var b strings.Builder
	for _, in := range inputs {
		data, err := os.ReadFile(in)
		require.NoError(t, err)
		name := in
		if rel, ok := strings.CutPrefix(in, dir+string(filepath.Separator)); ok {
			name = filepath.ToSlash(rel)
		}
		fmt.Fprintf(&b, "%s\t%d\t%d\t%d\n", name, countLines(data), len(bytes.Fields(data)), len(data))
	}
	return b.String()
}

// wcInputs are the standard corpus (CRLF, an empty file, no trailing
// newline) in dir, plus two files in a subdirectory, another empty one and
// one outside dir (written as given, an absolute path).
func wcInputs(t *testing.T, dir string) []string {
	t.Helper()
	inputs, _ := corpus(t, dir, 300)
	require.NoError(t, os.Mkdir(filepath.Join(dir, "sub"), 0o755))
	inputs = append(inputs,
		writeFile(t, filepath.Join(dir, "sub", "words.txt"), []byte("  two\twords \v\f\r\n\nthree  more words\n")),
		writeFile(t, filepath.Join(dir, "sub", "empty.txt"), nil),
		writeFile(t, filepath.Join(t.TempDir(), "outside.txt"), []byte("x")))
	return inputs
}

func TestWcCounts(t *testing.T) {
	dir := t.TempDir()
	inputs := wcInputs(t, dir)
	// run() starts the processor in outDir: here the directory the inputs
	// are in, as guardrun starts it in the workspace.
	for _, tc := range []struct {
		outputs []string
		params  string
		want    string
	}{
		{nil, "", "counts.tsv"},
		{nil, `{"output":"n.tsv"}`, "n.tsv"},
		{[]string{"out/declared.tsv"}, `{"output":"n.tsv"}`, "out/declared.tsv"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			res := run(t, job{argv: []string{bins["wc"]}, inputs: inputs, outDir: dir, outputs: tc.outputs, params: tc.params}, killSpec{})
			require.Equal(t, 0, res.code, res.stderr)
			got, err := os.ReadFile(filepath.Join(dir, tc.want))
			require.NoError(t, err)
			want := wcWant(t, dir, inputs)
			assert.Equal(t, want, string(got))
			assert.Contains(t, want, "in1.txt\t0\t0\t0\n")
			assert.Contains(t, want, "in2.txt\t1\t3\t19\n", "a last line without a newline counts")
			assert.Contains(t, want, "sub/words.txt\t3\t5\t35\n")
			assert.Contains(t, want, "\n"+inputs[len(inputs)-1]+"\t1\t1\t1\n", "an input outside the working directory keeps its path")
			// checkpoints disabled: one report, at the end
			require.Len(t, res.reports, 1)
			var total int64
			for _, in := range inputs {
				fi, err := os.Stat(in)
				require.NoError(t, err)
				total += fi.Size()
			}
			assert.Equal(t, total, res.reports[0].ByteOffset)
			assert.Equal(t, int64(len(got)), res.reports[0].Outputs[filepath.ToSlash(tc.want)])
		})
	}
}

// TestWcResumesFromEveryCheckpoint: wc reports at file boundaries only;
// a resume from any file boundary (the output truncated to it, as the
// runner does) ends byte-identical to the uninterrupted run, also at an
// empty file, which moves no offset, and at the very end.
func TestWcResumesFromEveryCheckpoint(t *testing.T) {
	dir := t.TempDir()
	inputs := wcInputs(t, dir)
	wcJob := job{argv: []string{bins["wc"]}, inputs: inputs, outDir: dir, outputs: []string{"c.tsv"}, cpLines: 1}
	full := run(t, wcJob, killSpec{})
	require.Equal(t, 0, full.code, full.stderr)
	want, err := os.ReadFile(filepath.Join(dir, "c.tsv"))
	require.NoError(t, err)
	require.Equal(t, wcWant(t, dir, inputs), string(want))
	// every file boundary, as the report a checkpoint there would send
	boundaries := []sdk.Progress{{Outputs: map[string]int64{}}}
	var total int64
	for k, in := range inputs {
		data, err := os.ReadFile(in)
		require.NoError(t, err)
		prev := boundaries[k]
		end := bytes.IndexByte(want[prev.Outputs["c.tsv"]:], '\n') + 1 + int(prev.Outputs["c.tsv"])
		boundaries = append(boundaries, sdk.Progress{LineOffset: prev.LineOffset + countLines(data), ByteOffset: prev.ByteOffset + int64(len(data)),
			Outputs: map[string]int64{"c.tsv": int64(end)}})
		total += int64(len(data))
	}
	for k := range boundaries {
		boundaries[k].TotalBytes = total
	}
	require.Greater(t, len(full.reports), 1, "checkpoints every line: a report after each non-empty file")
	for _, rep := range full.reports {
		assert.Contains(t, boundaries, rep, "a report not at a file boundary")
	}
	for k, b := range boundaries {
		r := &runner{t: t, state: b, job: wcJob}
		require.NoError(t, os.WriteFile(filepath.Join(dir, "c.tsv"), want, 0o644))
		res := r.attempt(killSpec{})
		require.Equal(t, 0, res.code, "resume after file %d: %s", k, res.stderr)
		got, err := os.ReadFile(filepath.Join(dir, "c.tsv"))
		require.NoError(t, err)
		require.Equal(t, string(want), string(got), "resume after file %d", k)
		assert.Equal(t, boundaries[len(boundaries)-1], r.state, "resume after file %d", k)
	}
}

// TestWcRefusesAChangedInput: offsets that do not end the files already
// in the output mean the inputs changed; wc fails instead of guessing.
func TestWcRefusesAChangedInput(t *testing.T) {
	dir := t.TempDir()
	inputs := wcInputs(t, dir)
	writeFile(t, filepath.Join(dir, "c.tsv"), []byte("in0.txt\t1\t1\t1\n"))
	res := run(t, job{argv: []string{bins["wc"]}, inputs: inputs, outDir: dir, outputs: []string{"c.tsv"}, lineOffset: 1, byteOffset: 5}, killSpec{})
	assert.Equal(t, 1, res.code)
	assert.Contains(t, res.stderr, "PIPELINE_BYTE_OFFSET")
}
