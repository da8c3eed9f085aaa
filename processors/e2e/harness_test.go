package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/guardrun/guardrun/processors/sdk"
	"github.com/stretchr/testify/require"
)

// bins maps a processor name to its built binary.
var bins = map[string]string{}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "guardrun-processors-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	names := []string{"copy", "upper", "flaky", "slowcopy", "wc"}
	args := []string{"build", "-trimpath", "-o", dir + string(filepath.Separator)}
	for _, n := range names {
		args = append(args, "../"+n)
	}
	cmd := exec.Command("go", args...)
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building processors:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	for _, n := range names {
		bins[n] = filepath.Join(dir, n)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// job is one processor invocation, as the runner would set it up.
type job struct {
	argv       []string // program and arguments
	inputs     []string
	outDir     string
	outputs    []string // declared outputs
	params     string
	lineOffset int64
	byteOffset int64
	attempt    int
	cpLines    int64
	cpSeconds  string
	noProgress bool
	extraEnv   []string
}

func (j *job) env() []string {
	in, _ := json.Marshal(j.inputs)
	outs, _ := json.Marshal(j.outputs)
	if j.outputs == nil {
		outs = []byte("[]")
	}
	params := j.params
	if params == "" {
		params = "{}"
	}
	attempt := j.attempt
	if attempt == 0 {
		attempt = 1
	}
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"PIPELINE_STAGE_NAME=test",
		"PIPELINE_RUN_ID=run1",
		"PIPELINE_ATTEMPT=" + strconv.Itoa(attempt),
		"PIPELINE_INPUTS=" + string(in),
		"PIPELINE_OUTPUT_DIR=" + j.outDir,
		"PIPELINE_OUTPUTS=" + string(outs),
		"PIPELINE_PARAMS=" + params,
		"PIPELINE_LINE_OFFSET=" + strconv.FormatInt(j.lineOffset, 10),
		"PIPELINE_BYTE_OFFSET=" + strconv.FormatInt(j.byteOffset, 10),
	}
	if j.cpLines > 0 {
		env = append(env, "PIPELINE_CHECKPOINT_LINES="+strconv.FormatInt(j.cpLines, 10))
	}
	if j.cpSeconds != "" {
		env = append(env, "PIPELINE_CHECKPOINT_SECONDS="+j.cpSeconds)
	}
	if !j.noProgress {
		env = append(env, "PIPELINE_PROGRESS_FD=3")
	}
	return append(env, j.extraEnv...)
}

type result struct {
	code     int  // exit code; -1 when killed by a signal
	signaled bool // killed by a signal
	reports  []sdk.Progress
	stderr   string
}

// killSpec says when to signal a running job: after `after` (0 = never),
// counted from the start or, with fromFirstReport, from its first report
// (so that the kill lands mid-stream however slow the machine is).
type killSpec struct {
	after           time.Duration
	sig             syscall.Signal
	fromFirstReport bool
}

// run starts the job and signals it as k says. Only complete report lines
// (ending in '\n') count, as for the runner.
func run(t *testing.T, j job, k killSpec) result {
	t.Helper()
	cmd := exec.Command(j.argv[0], j.argv[1:]...)
	cmd.Env = j.env()
	cmd.Dir = j.outDir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	r, w, err := os.Pipe()
	require.NoError(t, err)
	defer r.Close()
	if !j.noProgress {
		cmd.ExtraFiles = []*os.File{w}
	}
	require.NoError(t, cmd.Start())
	w.Close()
	var timer *time.Timer
	arm := func() {
		if k.after > 0 && timer == nil {
			timer = time.AfterFunc(k.after, func() { cmd.Process.Signal(k.sig) })
		}
	}
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	if !k.fromFirstReport {
		arm()
	}
	var res result
	br := bufio.NewReader(r)
	for {
		line, err := br.ReadBytes('\n')
		if err != nil {
			break // EOF: the child (the only writer) is gone; a partial line is dropped
		}
		var p sdk.Progress
		require.NoError(t, json.Unmarshal(line, &p), "progress line %q", line)
		res.reports = append(res.reports, p)
		arm()
	}
	werr := cmd.Wait()
	res.stderr = stderr.String()
	var xerr *exec.ExitError
	switch {
	case werr == nil:
	case errors.As(werr, &xerr):
		res.code = xerr.ExitCode()
		if ws, ok := xerr.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			res.signaled = true
		}
	default:
		require.NoError(t, werr)
	}
	return res
}

// runner emulates guardrun's resume contract for one stage: before every
// attempt it truncates each declared output to the size in the last
// checkpoint (creating it empty at first) and starts the processor at the
// checkpointed offsets.
type runner struct {
	t     *testing.T
	job   job
	state sdk.Progress
	done  bool // an attempt exited 0
	// statistics
	attempts, interrupted, resumedMidway int
}

func (r *runner) prepare() {
	for _, name := range r.job.outputs {
		p := filepath.Join(r.job.outDir, name)
		require.NoError(r.t, os.MkdirAll(filepath.Dir(p), 0o755))
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE, 0o644)
		require.NoError(r.t, err)
		require.NoError(r.t, f.Truncate(r.state.Outputs[name]))
		require.NoError(r.t, f.Close())
	}
	r.job.lineOffset, r.job.byteOffset = r.state.LineOffset, r.state.ByteOffset
	if r.state.ByteOffset > 0 && r.state.ByteOffset < r.state.TotalBytes {
		r.resumedMidway++
	}
}

// attempt runs the processor once, signalled as k says, and keeps its last
// checkpoint.
func (r *runner) attempt(k killSpec) result {
	r.prepare()
	r.attempts++
	r.job.attempt = r.attempts
	res := run(r.t, r.job, k)
	if n := len(res.reports); n > 0 {
		last := res.reports[n-1]
		require.GreaterOrEqual(r.t, last.ByteOffset, r.state.ByteOffset, "progress went backwards")
		r.state = last
	}
	if res.signaled {
		r.interrupted++
	}
	r.done = res.code == 0
	return res
}

// finish runs attempts without interference until one succeeds.
func (r *runner) finish() {
	for range 5 {
		if r.done {
			return
		}
		res := r.attempt(killSpec{})
		if res.code == 0 {
			return
		}
		r.t.Logf("attempt %d: exit %d: %s", r.attempts, res.code, res.stderr)
	}
	r.t.Fatalf("no success after %d attempts", r.attempts)
}

func writeFile(t *testing.T, path string, content []byte) string {
	t.Helper()
	require.NoError(t, os.WriteFile(path, content, 0o644))
	return path
}

// corpus writes the standard multi-input test set: n CRLF and LF lines, an
// empty file, a file without a trailing newline and a short tail file. It
// returns the paths and their concatenation.
func corpus(t *testing.T, dir string, n int) ([]string, []byte) {
	t.Helper()
	var a bytes.Buffer
	for i := range n {
		eol := "\n"
		if i%3 == 0 {
			eol = "\r\n"
		}
		fmt.Fprintf(&a, "line %06d: the quick brown fox %s jumps%s", i, bytes.Repeat([]byte{'a' + byte(i%26)}, i%41), eol)
	}
	files := [][]byte{a.Bytes(), nil, []byte("no trailing newline"), []byte("tail one\ntail two\n")}
	var paths []string
	var all []byte
	for i, c := range files {
		paths = append(paths, writeFile(t, filepath.Join(dir, fmt.Sprintf("in%d.txt", i)), c))
		all = append(all, c...)
	}
	return paths, all
}
