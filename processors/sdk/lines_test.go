package sdk

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// bracket is the transform used in MapLines tests: its output is longer
// than its input, so output sizes and byte offsets differ.
func bracket(line []byte, w io.Writer) error {
	if _, err := w.Write([]byte{'['}); err != nil {
		return err
	}
	if _, err := w.Write(line); err != nil {
		return err
	}
	_, err := w.Write([]byte{']'})
	return err
}

// splitLines is the reference: lines end after '\n' or at the end of a file.
func splitLines(files []string) [][]byte {
	var lines [][]byte
	for _, f := range files {
		b := []byte(f)
		for len(b) > 0 {
			i := bytes.IndexByte(b, '\n')
			if i < 0 {
				i = len(b) - 1
			}
			lines = append(lines, b[:i+1])
			b = b[i+1:]
		}
	}
	return lines
}

func expectBracketed(lines [][]byte) []byte {
	var out []byte
	for _, l := range lines {
		out = append(out, '[')
		out = append(out, l...)
		out = append(out, ']')
	}
	return out
}

func writeInputs(t *testing.T, dir string, files []string) []string {
	t.Helper()
	var paths []string
	for i, content := range files {
		p := filepath.Join(dir, fmt.Sprintf("in%02d.txt", i))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
		paths = append(paths, p)
	}
	return paths
}

// mapOnce runs MapLines in-process from the given offsets over an output that
// already holds prefix, and returns the reports and the final output.
func mapOnce(t *testing.T, e *Env, prefix []byte) ([]Progress, []byte) {
	t.Helper()
	return mapOnceFn(t, e, prefix, bracket)
}

func mapOnceFn(t *testing.T, e *Env, prefix []byte, fn func([]byte, io.Writer) error) ([]Progress, []byte) {
	t.Helper()
	out := filepath.Join(e.OutputDir, "out.txt")
	require.NoError(t, os.WriteFile(out, prefix, 0o644))
	finish := pipeEnv(t, e)
	o, err := e.OpenOutput("out.txt")
	require.NoError(t, err)
	require.NoError(t, MapLines(e, o, fn))
	require.NoError(t, o.Close())
	var reports []Progress
	for _, l := range finish() {
		var p Progress
		require.NoError(t, json.Unmarshal([]byte(l), &p), l)
		reports = append(reports, p)
	}
	got, err := os.ReadFile(out)
	require.NoError(t, err)
	return reports, got
}

// TestMapLinesResumeEverywhere checkpoints after every line, then resumes
// from every reported checkpoint (and from the start) with the output cut to
// the reported size, and requires the same final output every time.
func TestMapLinesResumeEverywhere(t *testing.T) {
	waitForCheckpoints = true
	defer func() { waitForCheckpoints = false }()
	long := strings.Repeat("x", InputBufferSize+17) + "\n"
	tests := []struct {
		name  string
		files []string
	}{
		{"one file", []string{"alpha\nbeta\ngamma\n"}},
		{"no trailing newline", []string{"alpha\nbeta"}},
		{"multiple without trailing newlines", []string{"a1\na2", "b1", "c1\nc2"}},
		{"empty inputs around", []string{"", "a\n", "", "", "b\n", ""}},
		{"only empty inputs", []string{"", ""}},
		{"no inputs", nil},
		{"empty lines", []string{"\n\n\n", "\n"}},
		{"crlf", []string{"one\r\ntwo\r\n", "three\r\nfour"}},
		{"line longer than the buffer", []string{"short\n", long, "tail" + long + "end"}},
		{"binary bytes", []string{"\x00\xff\n\xc3\xa9\r", "\x00"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			inputs := writeInputs(t, dir, tc.files)
			lines := splitLines(tc.files)
			want := expectBracketed(lines)
			var total int64
			for _, f := range tc.files {
				total += int64(len(f))
			}
			env := func(lineOff, byteOff int64) *Env {
				return &Env{Inputs: inputs, OutputDir: dir, LineOffset: lineOff, ByteOffset: byteOff, CheckpointLines: 1}
			}

			reports, got := mapOnce(t, env(0, 0), nil)
			require.True(t, bytes.Equal(want, got), "output differs")
			// one report per line; the final one only when there are no lines
			require.Len(t, reports, max(len(lines), 1))
			var pos int64
			for i, l := range lines {
				pos += int64(len(l))
				r := reports[i]
				assert.EqualValues(t, i+1, r.LineOffset)
				assert.Equal(t, pos, r.ByteOffset)
				assert.Equal(t, int64(len(expectBracketed(lines[:i+1]))), r.Outputs["out.txt"])
				assert.Equal(t, total, r.TotalBytes)
			}
			last := reports[len(reports)-1]
			assert.EqualValues(t, len(lines), last.LineOffset)
			assert.Equal(t, total, last.ByteOffset)
			assert.EqualValues(t, len(want), last.Outputs["out.txt"])

			for _, r := range reports {
				size := r.Outputs["out.txt"]
				resumed, got := mapOnce(t, env(r.LineOffset, r.ByteOffset), want[:size])
				require.True(t, bytes.Equal(want, got), "output differs when resumed at line %d byte %d", r.LineOffset, r.ByteOffset)
				fin := resumed[len(resumed)-1]
				assert.Equal(t, last.LineOffset, fin.LineOffset)
				assert.Equal(t, last.ByteOffset, fin.ByteOffset)
				assert.Equal(t, last.Outputs, fin.Outputs)
			}
		})
	}
}

func TestMapLinesCheckpointModes(t *testing.T) {
	waitForCheckpoints = true
	defer func() { waitForCheckpoints = false }()
	dir := t.TempDir()
	var b strings.Builder
	for i := range 10000 {
		fmt.Fprintf(&b, "line %d\n", i)
	}
	inputs := writeInputs(t, dir, []string{b.String()})
	tests := []struct {
		name       string
		lines      int64
		every      time.Duration
		minReports int
		maxReports int
	}{
		{"disabled: only the final report", 0, 0, 1, 1},
		{"every 1000 lines: no duplicate final report", 1000, 0, 10, 10},
		{"every 3000 lines", 3000, time.Hour, 4, 4},
		{"every nanosecond: time checked about every 1024 lines", 0, time.Nanosecond, 9, 12},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := &Env{Inputs: inputs, OutputDir: t.TempDir(), CheckpointLines: tc.lines, CheckpointEvery: tc.every}
			reports, _ := mapOnce(t, e, nil)
			assert.GreaterOrEqual(t, len(reports), tc.minReports)
			assert.LessOrEqual(t, len(reports), tc.maxReports)
			var prev Progress
			for _, r := range reports {
				assert.Greater(t, r.LineOffset, prev.LineOffset)
				assert.Greater(t, r.ByteOffset, prev.ByteOffset)
				prev = r
			}
			assert.EqualValues(t, 10000, prev.LineOffset)
		})
	}
}

func TestMapLinesReportedSizeIsOnDisk(t *testing.T) {
	waitForCheckpoints = true
	defer func() { waitForCheckpoints = false }()
	// A report must describe bytes already written to the file.
	dir := t.TempDir()
	inputs := writeInputs(t, dir, []string{strings.Repeat("abc\n", 5000)})
	e := &Env{Inputs: inputs, OutputDir: dir, CheckpointLines: 100}
	finish := pipeEnv(t, e)
	o, err := e.OpenOutput("out.txt")
	require.NoError(t, err)
	var sizes []int64 // file size on disk when each line starts
	err = MapLines(e, o, func(line []byte, w io.Writer) error {
		fi, err := os.Stat(filepath.Join(dir, "out.txt"))
		if err != nil {
			return err
		}
		sizes = append(sizes, fi.Size())
		_, err = w.Write(line)
		return err
	})
	require.NoError(t, err)
	require.NoError(t, o.Close())
	lines := finish()
	require.Len(t, lines, 50)
	for _, l := range lines[:49] {
		var p Progress
		require.NoError(t, json.Unmarshal([]byte(l), &p))
		// the 1 MiB buffer never fills here, so the file holds exactly what
		// the checkpoint flushed when the next line starts
		assert.Equal(t, p.Outputs["out.txt"], sizes[p.LineOffset], "checkpoint at line %d", p.LineOffset)
	}
}

func TestMapLinesErrors(t *testing.T) {
	dir := t.TempDir()
	inputs := writeInputs(t, dir, []string{"a\nb\n"})
	open := func(e *Env) *Output {
		o, err := e.OpenOutput("out.txt")
		require.NoError(t, err)
		t.Cleanup(func() { o.Close() })
		return o
	}

	e := &Env{Inputs: inputs, OutputDir: t.TempDir(), ByteOffset: 5}
	err := MapLines(e, open(e), bracket)
	require.Error(t, err)
	assert.Contains(t, err.Error(), EnvByteOffset)

	e = &Env{Inputs: []string{dir}, OutputDir: t.TempDir()}
	err = MapLines(e, open(e), bracket)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "not a regular file")

	e = &Env{Inputs: []string{filepath.Join(dir, "missing")}, OutputDir: t.TempDir()}
	require.Error(t, MapLines(e, open(e), bracket))

	boom := errors.New("boom")
	e = &Env{Inputs: inputs, OutputDir: t.TempDir()}
	err = MapLines(e, open(e), func([]byte, io.Writer) error { return &ExitError{Code: 9, Err: boom} })
	require.ErrorIs(t, err, boom)
	assert.Equal(t, 9, ExitCode(err))
	assert.Contains(t, err.Error(), "line 1")

	e = &Env{Inputs: inputs, OutputDir: t.TempDir()}
	err = MapLines(e, open(e), func([]byte, io.Writer) error { return Transient(boom) })
	assert.Equal(t, ExitTransient, ExitCode(err))
}

// TestMapLinesBackgroundCheckpoints runs the default (background) mode,
// where a checkpoint falling due while the previous one is in flight is
// deferred: every report must still be a line boundary with the output size
// for exactly that prefix, in order, and resuming from each must give the
// same result.
func TestMapLinesBackgroundCheckpoints(t *testing.T) {
	require.False(t, waitForCheckpoints)
	dir := t.TempDir()
	var files []string
	for f := range 3 {
		var b strings.Builder
		for i := range 20000 {
			fmt.Fprintf(&b, "file %d line %d %s\r\n", f, i, strings.Repeat("z", i%37))
		}
		files = append(files, b.String()+"no newline")
	}
	inputs := writeInputs(t, dir, files)
	lines := splitLines(files)
	want := expectBracketed(lines)
	// output size after n lines, and byte offset after n lines
	outAt := map[int64]int64{0: 0}
	var pos, size int64
	byteAt := map[int64]int64{0: 0}
	for i, l := range lines {
		pos += int64(len(l))
		size += int64(len(l)) + 2
		outAt[int64(i+1)], byteAt[int64(i+1)] = size, pos
	}

	e := &Env{Inputs: inputs, OutputDir: dir, CheckpointLines: 7}
	n := 0
	slow := func(line []byte, w io.Writer) error {
		if n++; n%500 == 0 {
			// Slow the loop a little so that several background syncs
			// complete; how many depends on the disk, so the test asserts
			// on what every report must be, not on their number.
			time.Sleep(time.Millisecond)
		}
		return bracket(line, w)
	}
	reports, got := mapOnceFn(t, e, nil, slow)
	require.True(t, bytes.Equal(want, got))
	require.GreaterOrEqual(t, len(reports), 2, "at least one periodic report and the final one")
	var prev int64
	for _, r := range reports {
		require.Greater(t, r.LineOffset, prev)
		prev = r.LineOffset
		assert.Equal(t, byteAt[r.LineOffset], r.ByteOffset, "line %d", r.LineOffset)
		assert.Equal(t, outAt[r.LineOffset], r.Outputs["out.txt"], "line %d", r.LineOffset)
	}
	assert.EqualValues(t, len(lines), prev)
	for _, r := range reports[:min(len(reports), 20)] {
		e := &Env{Inputs: inputs, OutputDir: dir, LineOffset: r.LineOffset, ByteOffset: r.ByteOffset, CheckpointLines: 7}
		_, got := mapOnce(t, e, want[:r.Outputs["out.txt"]])
		require.True(t, bytes.Equal(want, got), "resumed at line %d", r.LineOffset)
	}
}
