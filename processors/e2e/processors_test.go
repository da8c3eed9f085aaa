package e2e

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/guardrun/guardrun/processors/sdk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func upperASCII(b []byte) []byte {
	out := bytes.Clone(b)
	for i, c := range out {
		if c >= 'a' && c <= 'z' {
			out[i] = c - 32
		}
	}
	return out
}

func countLines(b []byte) int64 {
	n := int64(bytes.Count(b, []byte{'\n'}))
	if len(b) > 0 && b[len(b)-1] != '\n' {
		n++
	}
	return n
}

func TestCopyAndUpperOutputNames(t *testing.T) {
	tests := []struct {
		proc     string
		outputs  []string
		params   string
		wantName string
	}{
		{"copy", nil, "", "copy.txt"},
		{"copy", nil, `{"output":"named.txt"}`, "named.txt"},
		{"copy", []string{"sub/declared.txt"}, `{"output":"named.txt"}`, "sub/declared.txt"},
		{"upper", nil, "", "result.txt"},
		{"upper", nil, `{"output":"named.txt"}`, "named.txt"},
		{"upper", []string{"declared.txt"}, "", "declared.txt"},
	}
	for _, tc := range tests {
		t.Run(tc.proc+"->"+tc.wantName, func(t *testing.T) {
			dir := t.TempDir()
			inputs, all := corpus(t, dir, 100)
			outDir := filepath.Join(dir, "out")
			require.NoError(t, os.Mkdir(outDir, 0o755))
			res := run(t, job{argv: []string{bins[tc.proc]}, inputs: inputs, outDir: outDir, outputs: tc.outputs, params: tc.params}, killSpec{})
			require.Equal(t, 0, res.code, res.stderr)
			got, err := os.ReadFile(filepath.Join(outDir, tc.wantName))
			require.NoError(t, err)
			want := all
			if tc.proc == "upper" {
				want = upperASCII(all)
			}
			require.True(t, bytes.Equal(want, got), "output differs")
			// checkpoints disabled: exactly one report, at the end
			require.Len(t, res.reports, 1)
			assert.Equal(t, sdk.Progress{
				LineOffset: countLines(all[:len(all)-len("tail one\ntail two\nno trailing newline")]) + 1 + 2,
				ByteOffset: int64(len(all)),
				Outputs:    map[string]int64{tc.wantName: int64(len(all))},
				TotalBytes: int64(len(all)),
			}, res.reports[0])
		})
	}
}

func TestNoProgressPipe(t *testing.T) {
	dir := t.TempDir()
	inputs, all := corpus(t, dir, 50)
	res := run(t, job{argv: []string{bins["upper"]}, inputs: inputs, outDir: dir, cpLines: 1, noProgress: true}, killSpec{})
	require.Equal(t, 0, res.code, res.stderr)
	assert.Empty(t, res.reports)
	got, err := os.ReadFile(filepath.Join(dir, "result.txt"))
	require.NoError(t, err)
	assert.True(t, bytes.Equal(upperASCII(all), got))
}

func TestResumeAtEndChangesNothing(t *testing.T) {
	dir := t.TempDir()
	inputs, all := corpus(t, dir, 50)
	writeFile(t, filepath.Join(dir, "copy.txt"), all)
	res := run(t, job{argv: []string{bins["copy"]}, inputs: inputs, outDir: dir, outputs: []string{"copy.txt"},
		lineOffset: 53, byteOffset: int64(len(all))}, killSpec{})
	require.Equal(t, 0, res.code, res.stderr)
	got, err := os.ReadFile(filepath.Join(dir, "copy.txt"))
	require.NoError(t, err)
	assert.True(t, bytes.Equal(all, got))
	require.Len(t, res.reports, 1)
	assert.EqualValues(t, 53, res.reports[0].LineOffset)
}

func TestProtocolErrorsExitOne(t *testing.T) {
	dir := t.TempDir()
	in := writeFile(t, filepath.Join(dir, "in.txt"), []byte("x\n"))
	tests := []struct {
		name    string
		j       job
		wantErr string
	}{
		{"malformed attempt", job{inputs: []string{in}, outDir: dir, extraEnv: []string{"PIPELINE_ATTEMPT=first"}}, "PIPELINE_ATTEMPT"},
		{"relative input", job{inputs: []string{"in.txt"}, outDir: dir}, "PIPELINE_INPUTS"},
		{"missing input", job{inputs: []string{filepath.Join(dir, "nope")}, outDir: dir}, "nope"},
		{"offset past the end", job{inputs: []string{in}, outDir: dir, byteOffset: 9}, "PIPELINE_BYTE_OFFSET"},
		{"misspelt param", job{inputs: []string{in}, outDir: dir, params: `{"outpt":"x"}`}, "outpt"},
		{"output escapes", job{inputs: []string{in}, outDir: dir, outputs: []string{"../x"}}, "PIPELINE_OUTPUTS"},
	}
	for _, tc := range tests {
		for _, proc := range []string{"copy", "upper"} {
			t.Run(proc+"/"+tc.name, func(t *testing.T) {
				tc.j.argv = []string{bins[proc]}
				res := run(t, tc.j, killSpec{})
				assert.Equal(t, 1, res.code)
				assert.Contains(t, res.stderr, tc.wantErr)
			})
		}
	}
}

func TestFlakyFailsThenCopies(t *testing.T) {
	tests := []struct {
		name     string
		params   string
		wantCode int
	}{
		{"transient", `{"failTimes":2}`, 75},
		{"explicit 75", `{"failTimes":2,"exitCode":75}`, 75},
		{"permanent code", `{"failTimes":2,"exitCode":3}`, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			inputs, all := corpus(t, dir, 200)
			r := &runner{t: t, job: job{argv: []string{bins["flaky"]}, inputs: inputs, outDir: dir, outputs: []string{"copy.txt"}, params: tc.params}}
			for i := 1; i <= 2; i++ {
				res := r.attempt(killSpec{})
				assert.Equal(t, tc.wantCode, res.code, "attempt %d", i)
				assert.Contains(t, res.stderr, "planned failure")
			}
			res := r.attempt(killSpec{})
			require.Equal(t, 0, res.code, res.stderr)
			got, err := os.ReadFile(filepath.Join(dir, "copy.txt"))
			require.NoError(t, err)
			assert.True(t, bytes.Equal(all, got))
		})
	}
}

func TestFlakyStateFileCountsInvocations(t *testing.T) {
	dir := t.TempDir()
	inputs, all := corpus(t, dir, 20)
	// attempt stays 1 (as in separate runs); the state file counts instead
	j := job{argv: []string{bins["flaky"]}, inputs: inputs, outDir: dir, params: `{"failTimes":2,"stateFile":"state/flaky.count"}`}
	for i := 1; i <= 2; i++ {
		res := run(t, j, killSpec{})
		require.Equal(t, 75, res.code, "invocation %d", i)
	}
	res := run(t, j, killSpec{})
	require.Equal(t, 0, res.code, res.stderr)
	count, err := os.ReadFile(filepath.Join(dir, "state", "flaky.count"))
	require.NoError(t, err)
	assert.Equal(t, "3\n", string(count))
	got, err := os.ReadFile(filepath.Join(dir, "copy.txt"))
	require.NoError(t, err)
	assert.True(t, bytes.Equal(all, got))
}

// TestFlakyFailAfterLinesLeavesUncheckpointedOutput: a failing attempt
// writes past its last checkpoint; the runner's truncation removes it and
// the retry resumes mid-stream with no duplicate.
func TestFlakyFailAfterLinesLeavesUncheckpointedOutput(t *testing.T) {
	dir := t.TempDir()
	inputs, all := corpus(t, dir, 3000)
	r := &runner{t: t, job: job{argv: []string{bins["flaky"]}, inputs: inputs, outDir: dir, outputs: []string{"copy.txt"},
		params: `{"failTimes":1,"failAfterLines":1550}`, cpLines: 100}}
	res := r.attempt(killSpec{})
	require.Equal(t, 75, res.code, res.stderr)
	require.NotEmpty(t, res.reports)
	fi, err := os.Stat(filepath.Join(dir, "copy.txt"))
	require.NoError(t, err)
	assert.Greater(t, fi.Size(), r.state.Outputs["copy.txt"], "output past the last checkpoint")
	assert.LessOrEqual(t, r.state.LineOffset, int64(1550))
	res = r.attempt(killSpec{})
	require.Equal(t, 0, res.code, res.stderr)
	got, err := os.ReadFile(filepath.Join(dir, "copy.txt"))
	require.NoError(t, err)
	assert.True(t, bytes.Equal(all, got), "output after truncate + resume differs")
	assert.Equal(t, 1, r.resumedMidway)
}

// TestKill9Resume is the crash contract: kill -9 at random moments, truncate
// to the last complete report, resume; the result must be byte-identical to
// an uninterrupted run.
func TestKill9Resume(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 7))
	tests := []struct {
		name    string
		proc    string
		params  string
		lines   int
		maxKill time.Duration
		kills   int
		upper   bool
	}{
		// about 20000 lines at 100 µs each: two seconds for a full run
		{"slowcopy", "slowcopy", `{"delayMicrosPerLine":100}`, 20000, 300 * time.Millisecond, 6, false},
		// upper is fast: a bigger input and short fuses
		{"upper", "upper", "", 300000, 40 * time.Millisecond, 8, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			inputs, all := corpus(t, dir, tc.lines)
			want := all
			if tc.upper {
				want = upperASCII(all)
			}
			outDir := filepath.Join(dir, "staging")
			r := &runner{t: t, job: job{argv: []string{bins[tc.proc]}, inputs: inputs, outDir: outDir, outputs: []string{"out.txt"},
				params: tc.params, cpLines: 500, cpSeconds: "0.02"}}
			for range tc.kills {
				// alternate: counted from the start (may land before any
				// checkpoint) and from the first report (lands mid-stream)
				res := r.attempt(killSpec{after: time.Duration(rng.Int64N(int64(tc.maxKill))) + time.Millisecond,
					sig: syscall.SIGKILL, fromFirstReport: r.attempts%2 == 1})
				if res.code == 0 {
					break // finished before the kill
				}
				require.True(t, res.signaled, "exit %d: %s", res.code, res.stderr)
			}
			r.finish()
			got, err := os.ReadFile(filepath.Join(outDir, "out.txt"))
			require.NoError(t, err)
			require.True(t, bytes.Equal(want, got), "output after %d kills differs (%d vs %d bytes)", r.interrupted, len(got), len(want))
			assert.EqualValues(t, len(all), r.state.ByteOffset)
			assert.Equal(t, countLines(all[:len(all)-len("tail one\ntail two\nno trailing newline")])+3, r.state.LineOffset)
			t.Logf("%d attempts, %d killed, %d resumed mid-stream", r.attempts, r.interrupted, r.resumedMidway)
			require.Positive(t, r.interrupted, "no attempt was actually killed")
			if tc.proc == "slowcopy" {
				require.Positive(t, r.resumedMidway, "no attempt resumed from a checkpoint")
			}
		})
	}
}

// TestSigtermCheckpointsAndExitsTransient: SIGTERM makes MapLines checkpoint
// and exit 75, with the output exactly at the last reported size (a periodic
// report would leave more output behind than it names).
func TestSigtermCheckpointsAndExitsTransient(t *testing.T) {
	dir := t.TempDir()
	inputs, all := corpus(t, dir, 20000)
	r := &runner{t: t, job: job{argv: []string{bins["slowcopy"]}, inputs: inputs, outDir: dir, outputs: []string{"copy.txt"},
		params: `{"delayMicrosPerLine":40}`, cpLines: 100000, cpSeconds: "0.05"}}
	res := r.attempt(killSpec{after: 100 * time.Millisecond, sig: syscall.SIGTERM, fromFirstReport: true})
	require.Equal(t, 75, res.code, res.stderr)
	assert.Contains(t, res.stderr, "interrupted")
	require.NotEmpty(t, res.reports)
	fi, err := os.Stat(filepath.Join(dir, "copy.txt"))
	require.NoError(t, err)
	assert.Equal(t, fi.Size(), r.state.Outputs["copy.txt"])
	assert.Positive(t, r.state.LineOffset)
	assert.Less(t, r.state.ByteOffset, int64(len(all)))
	r.finish()
	got, err := os.ReadFile(filepath.Join(dir, "copy.txt"))
	require.NoError(t, err)
	assert.True(t, bytes.Equal(all, got))
}

func TestSlowcopyRejectsNegativeDelay(t *testing.T) {
	dir := t.TempDir()
	res := run(t, job{argv: []string{bins["slowcopy"]}, outDir: dir, params: `{"delayMicrosPerLine":-1}`}, killSpec{})
	assert.Equal(t, 1, res.code)
	assert.True(t, strings.Contains(res.stderr, "delayMicrosPerLine"), res.stderr)
}
