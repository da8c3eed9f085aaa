package sdk

import (
	"bufio"
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

var allVars = []string{EnvStageName, EnvRunID, EnvAttempt, EnvInputs, EnvOutputDir, EnvOutputs,
	EnvParams, EnvLineOffset, EnvByteOffset, EnvProgressFD, EnvCheckpointLines, EnvCheckpointSeconds, EnvInputsFile, EnvItem, EnvBatchFile}

// clearEnv unsets every protocol variable for the test (empty = unset).
func clearEnv(t *testing.T) {
	for _, v := range allVars {
		t.Setenv(v, "")
	}
}

func TestFromEnvValid(t *testing.T) {
	clearEnv(t)
	dir := t.TempDir()
	in := filepath.Join(dir, "a.txt")
	t.Setenv(EnvStageName, "stage_upper")
	t.Setenv(EnvRunID, "run1")
	t.Setenv(EnvAttempt, "3")
	t.Setenv(EnvInputs, fmt.Sprintf("[%q]", in))
	t.Setenv(EnvOutputDir, dir)
	t.Setenv(EnvOutputs, `["result.txt","sub/b.txt"]`)
	t.Setenv(EnvParams, ` {"output":"x"} `)
	t.Setenv(EnvLineOffset, "12")
	t.Setenv(EnvByteOffset, "345")
	t.Setenv(EnvCheckpointLines, "1000")
	t.Setenv(EnvCheckpointSeconds, "0.25")

	e, err := FromEnv()
	require.NoError(t, err)
	assert.Equal(t, "stage_upper", e.Stage)
	assert.Equal(t, "run1", e.RunID)
	assert.Equal(t, 3, e.Attempt)
	assert.Equal(t, []string{in}, e.Inputs)
	assert.Equal(t, dir, e.OutputDir)
	assert.Equal(t, []string{"result.txt", "sub/b.txt"}, e.Outputs)
	assert.JSONEq(t, `{"output":"x"}`, string(e.Params))
	assert.EqualValues(t, 12, e.LineOffset)
	assert.EqualValues(t, 345, e.ByteOffset)
	assert.EqualValues(t, 1000, e.CheckpointLines)
	assert.Equal(t, 250*time.Millisecond, e.CheckpointEvery)
	assert.False(t, e.HasProgress())
	assert.True(t, e.CheckpointsEnabled())
	assert.Equal(t, "result.txt", e.OutputName("x", "def.txt"))
}

// A list too long for the environment comes in a file (PIPELINE_INPUTS_FILE
// wins over PIPELINE_INPUTS); a fan-out job's item comes in PIPELINE_ITEM.
func TestFromEnvInputsFileAndItem(t *testing.T) {
	clearEnv(t)
	dir := t.TempDir()
	list := filepath.Join(dir, "inputs.json")
	in := filepath.Join(dir, "a.txt")
	require.NoError(t, os.WriteFile(list, []byte(fmt.Sprintf("[%q]", in)), 0o644))
	t.Setenv(EnvOutputDir, dir)
	t.Setenv(EnvInputs, `["/ignored"]`)
	t.Setenv(EnvInputsFile, list)
	t.Setenv(EnvItem, "sub/a.txt")
	e, err := FromEnv()
	require.NoError(t, err)
	assert.Equal(t, []string{in}, e.Inputs)
	assert.Equal(t, "sub/a.txt", e.Item)

	t.Setenv(EnvInputsFile, filepath.Join(dir, "missing.json"))
	_, err = FromEnv()
	require.ErrorContains(t, err, EnvInputsFile)
	require.NoError(t, os.WriteFile(list, []byte(`["relative"]`), 0o644))
	t.Setenv(EnvInputsFile, list)
	_, err = FromEnv()
	require.ErrorContains(t, err, "not an absolute path")
	assert.ErrorContains(t, err, EnvInputsFile+": element 0", "the error names where the list came from")
}

func TestFromEnvDefaults(t *testing.T) {
	clearEnv(t)
	dir := t.TempDir()
	t.Setenv(EnvOutputDir, dir)
	e, err := FromEnv()
	require.NoError(t, err)
	assert.Equal(t, 1, e.Attempt)
	assert.Empty(t, e.Inputs)
	assert.Empty(t, e.Outputs)
	assert.JSONEq(t, `{}`, string(e.Params))
	assert.Zero(t, e.LineOffset)
	assert.Zero(t, e.ByteOffset)
	assert.False(t, e.CheckpointsEnabled())
	assert.False(t, e.HasProgress())
	assert.Equal(t, "p.txt", e.OutputName("p.txt", "def.txt"))
	assert.Equal(t, "def.txt", e.OutputName("", "def.txt"))
}

func TestFromEnvMalformed(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, value string
	}{
		{EnvAttempt, "0"},
		{EnvAttempt, "two"},
		{EnvInputs, `"a.txt"`},
		{EnvInputs, `["relative.txt"]`},
		{EnvInputs, `[""]`},
		{EnvInputs, `[1]`},
		{EnvOutputDir, "relative/dir"},
		{EnvOutputs, `["../escape.txt"]`},
		{EnvOutputs, `["/abs.txt"]`},
		{EnvOutputs, `{}`},
		{EnvParams, `[1,2]`},
		{EnvParams, `{"a":`},
		{EnvLineOffset, "-1"},
		{EnvByteOffset, "1e3"},
		{EnvCheckpointLines, "many"},
		{EnvCheckpointSeconds, "-1"},
		{EnvCheckpointSeconds, "NaN"},
		{EnvProgressFD, "three"},
		{EnvProgressFD, "987654"}, // not open
	}
	for _, tc := range tests {
		t.Run(tc.name+"="+tc.value, func(t *testing.T) {
			clearEnv(t)
			t.Setenv(EnvOutputDir, dir)
			t.Setenv(tc.name, tc.value)
			_, err := FromEnv()
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.name)
		})
	}
	t.Run("missing output dir", func(t *testing.T) {
		clearEnv(t)
		_, err := FromEnv()
		require.Error(t, err)
		assert.Contains(t, err.Error(), EnvOutputDir)
	})
}

func TestDecodeParams(t *testing.T) {
	var p struct {
		Output string `json:"output"`
		N      int    `json:"n"`
	}
	e := &Env{Params: json.RawMessage(`{"output":"o.txt","n":7}`)}
	require.NoError(t, e.DecodeParams(&p))
	assert.Equal(t, "o.txt", p.Output)
	assert.Equal(t, 7, p.N)

	e = &Env{Params: json.RawMessage(`{"outptu":"typo"}`)}
	err := e.DecodeParams(&p)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "outptu")

	e = &Env{} // nil params decode as {}
	require.NoError(t, e.DecodeParams(&p))
}

func TestOutputAppendsAndCountsBuffered(t *testing.T) {
	dir := t.TempDir()
	e := &Env{OutputDir: dir}
	path := filepath.Join(dir, "sub", "o.txt")
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, []byte("kept\n"), 0o644)) // as truncated by the runner

	o, err := e.OpenOutput("sub/o.txt")
	require.NoError(t, err)
	assert.Equal(t, "sub/o.txt", o.Name())
	assert.EqualValues(t, 5, o.Size())
	_, err = o.Write([]byte("abc"))
	require.NoError(t, err)
	_, err = o.WriteString("de")
	require.NoError(t, err)
	require.NoError(t, o.WriteByte('\n'))
	assert.EqualValues(t, 11, o.Size(), "size counts buffered bytes")
	onDisk, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "kept\n", string(onDisk), "still buffered")

	require.NoError(t, o.Sync())
	onDisk, err = os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "kept\nabcde\n", string(onDisk))
	assert.EqualValues(t, 11, o.Size())

	b := append(o.AvailableBuffer(), "xy"...)
	_, err = o.Write(b)
	require.NoError(t, err)
	require.NoError(t, o.Close())
	onDisk, err = os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "kept\nabcde\nxy", string(onDisk))

	for _, bad := range []string{"../x", "/abs", ""} {
		_, err := e.OpenOutput(bad)
		assert.Error(t, err, bad)
	}
}

// pipeEnv connects e to a fresh pipe and returns a function that closes the
// write side and returns every line the reader received.
func pipeEnv(t *testing.T, e *Env) func() []string {
	t.Helper()
	r, w, err := os.Pipe()
	require.NoError(t, err)
	e.progress = w
	got := make(chan []string, 1)
	go func() {
		var lines []string
		br := bufio.NewReader(r)
		for {
			l, err := br.ReadString('\n')
			if l != "" {
				lines = append(lines, l)
			}
			if err != nil {
				break
			}
		}
		r.Close()
		got <- lines
	}()
	return func() []string {
		require.NoError(t, e.Close())
		return <-got
	}
}

func TestReportFormat(t *testing.T) {
	e := &Env{}
	require.NoError(t, e.Report(Progress{LineOffset: 1}), "no pipe: no-op")
	finish := pipeEnv(t, e)
	require.NoError(t, e.Report(Progress{LineOffset: 1200, ByteOffset: 98304, Outputs: map[string]int64{"result.txt": 98304}}))
	require.NoError(t, e.Report(Progress{LineOffset: 2, ByteOffset: 3, Outputs: map[string]int64{"b": 2, `a"q`: 1}, TotalBytes: 10, Message: "half\nway"}))
	require.NoError(t, e.Report(Progress{}))
	require.Error(t, e.Report(Progress{ByteOffset: -1}))
	lines := finish()
	require.Equal(t, []string{
		`{"lineOffset":1200,"byteOffset":98304,"outputs":{"result.txt":98304}}` + "\n",
		`{"lineOffset":2,"byteOffset":3,"outputs":{"a\"q":1,"b":2},"totalBytes":10,"message":"half\nway"}` + "\n",
		`{"lineOffset":0,"byteOffset":0,"outputs":{}}` + "\n",
	}, lines)
	var p Progress
	require.NoError(t, json.Unmarshal([]byte(lines[1]), &p))
	assert.Equal(t, Progress{LineOffset: 2, ByteOffset: 3, Outputs: map[string]int64{"b": 2, `a"q`: 1}, TotalBytes: 10, Message: "half\nway"}, p)
}

func TestReportBrokenPipeIsTransient(t *testing.T) {
	r, w, err := os.Pipe()
	require.NoError(t, err)
	require.NoError(t, r.Close())
	e := &Env{progress: w}
	defer e.Close()
	err = e.Report(Progress{})
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrTransient)
	assert.Equal(t, ExitTransient, ExitCode(err))
}

func TestExitCode(t *testing.T) {
	base := errors.New("boom")
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"nil", nil, 0},
		{"plain", base, 1},
		{"transient", Transient(base), 75},
		{"wrapped transient", fmt.Errorf("ctx: %w", Transient(base)), 75},
		{"sentinel", fmt.Errorf("x: %w", ErrTransient), 75},
		{"exit error", &ExitError{Code: 42, Err: base}, 42},
		{"wrapped exit error", fmt.Errorf("ctx: %w", &ExitError{Code: 9}), 9},
		{"exit error beats transient", &ExitError{Code: 3, Err: Transient(base)}, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, ExitCode(tc.err))
		})
	}
	assert.NoError(t, Transient(nil))
	assert.Equal(t, "boom", Transient(base).Error())
	assert.ErrorIs(t, Transient(base), base)
	assert.Equal(t, "exit code 9", (&ExitError{Code: 9}).Error())
}

func TestRunPrintsAndMapsExitCode(t *testing.T) {
	clearEnv(t)
	t.Setenv(EnvOutputDir, t.TempDir())
	assert.Equal(t, 0, run(func(*Env) error { return nil }))
	assert.Equal(t, 75, run(func(*Env) error { return Transient(errors.New("disk busy")) }))
	assert.Equal(t, 1, run(func(*Env) error { return errors.New("bad input") }))
	assert.Equal(t, 7, run(func(*Env) error { return &ExitError{Code: 7} }))
	t.Setenv(EnvAttempt, "zero")
	called := false
	assert.Equal(t, 1, run(func(*Env) error { called = true; return nil }))
	assert.False(t, called, "fn must not run with a malformed environment")
}

func TestRunErrorGoesToStderr(t *testing.T) {
	clearEnv(t)
	t.Setenv(EnvOutputDir, t.TempDir())
	r, w, err := os.Pipe()
	require.NoError(t, err)
	old := os.Stderr
	os.Stderr = w
	code := run(func(*Env) error { return errors.New("bad input") })
	os.Stderr = old
	require.NoError(t, w.Close())
	msg, err := io.ReadAll(r)
	require.NoError(t, err)
	assert.Equal(t, 1, code)
	assert.True(t, strings.HasSuffix(string(msg), ": bad input\n"), string(msg))
}
