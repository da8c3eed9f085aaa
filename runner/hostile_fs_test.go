//go:build unix

package runner

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/guardrun/guardrun/internal/runstate"
	"github.com/guardrun/guardrun/internal/testutil"
	"github.com/guardrun/guardrun/sandbox"
)

// These tests are guardrun's own file operations against what a hostile
// processor leaves behind (internal/safefs): nothing outside the staging
// dir may be truncated, read or promoted, and the stage fails saying what
// was refused.

// afterSandbox runs after(attempt) once each attempt's processor has ended,
// before guardrun looks at its staging dir: the test plants there what a
// processor could have (as the test's root, without the sandbox's limits).
type afterSandbox struct {
	sandbox.Sandbox
	after func(cmd *sandbox.Cmd)
}

type afterProcess struct {
	sandbox.Process
	after func()
}

func (s afterSandbox) Start(ctx context.Context, cmd *sandbox.Cmd) (sandbox.Process, error) {
	p, err := s.Sandbox.Start(ctx, cmd)
	if err != nil {
		return nil, err
	}
	return afterProcess{p, func() { s.after(cmd) }}, nil
}

func (p afterProcess) Wait() (sandbox.Result, error) {
	res, err := p.Process.Wait()
	p.after()
	return res, err
}

func bashPath(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	return p
}

// bashStage is a stage running script with bash.
func bashStage(t *testing.T, name, script, extra string) string {
	return fmt.Sprintf(`{"name": %q, "processor": {"exec": [%q, "-c", %q]}, "inputs": ["in.txt"], "outputDir": "out/%s",
	  "checkpoint": {"enabled": true, "everyLines": 1, "everySeconds": 0.01}, "retry": {"maxAttempts": 2, "baseDelayMs": 1}%s}`,
		name, bashPath(t), script, name, extra)
}

const victimData = "precious host data, not the processor's\n"

// checkpointThenFail writes result.txt, reports it and exits 75: the next
// attempt resumes from that checkpoint.
const checkpointThenFail = `o=$PIPELINE_OUTPUT_DIR
if [ "$PIPELINE_ATTEMPT" = 1 ]; then
  printf 'hello\n' >> "$o/result.txt"
  echo '{"lineOffset":1,"byteOffset":4,"outputs":{"result.txt":6}}' >&3
  sleep 0.2
  exit 75
fi
printf 'again\n' >> "$o/result.txt"`

func TestResumeRefusesWhatAProcessorPlanted(t *testing.T) {
	for _, plant := range []struct {
		name, want string
		do         func(t *testing.T, staged, victim string)
	}{
		{"symlink", "is a symlink", func(t *testing.T, staged, victim string) {
			require.NoError(t, os.Remove(staged))
			require.NoError(t, os.Symlink(victim, staged))
		}},
		{"hardlink", "has 2 hard links", func(t *testing.T, staged, victim string) {
			require.NoError(t, os.Remove(staged))
			require.NoError(t, os.Link(victim, staged))
		}},
		{"other_hardlink", "has 2 hard links", func(t *testing.T, staged, victim string) {
			require.NoError(t, os.Link(victim, filepath.Join(filepath.Dir(staged), "other")))
		}},
		{"symlinked_subdir", "is a symlink", func(t *testing.T, staged, victim string) {
			require.NoError(t, os.Symlink(filepath.Dir(victim), filepath.Join(filepath.Dir(staged), "sub")))
		}},
		{"fifo", "is a named pipe (FIFO)", func(t *testing.T, staged, victim string) {
			require.NoError(t, syscall.Mkfifo(filepath.Join(filepath.Dir(staged), "pipe"), 0o644))
		}},
	} {
		t.Run(plant.name, func(t *testing.T) {
			spec := `{"version": 1, "name": "t", "stages": [` + bashStage(t, "s", checkpointThenFail, "") + `]}`
			dir := testutil.Workspace(t, map[string]string{"pipeline.json": spec, "in.txt": "one\ntwo\n"})
			victim := filepath.Join(dir, "victim.txt")
			testutil.WriteFile(t, victim, victimData)
			sb := afterSandbox{Sandbox: plainSandbox(t), after: func(cmd *sandbox.Cmd) {
				if strings.HasSuffix(cmd.ID, "-1") {
					plant.do(t, filepath.Join(dir, "out/s/.s.staging/result.txt"), victim)
				}
			}}
			res, err := runOnce(t, dir, Options{RunID: "r1", Sandbox: sb})
			require.Error(t, err)
			ss := stageState(t, res, dir, "s")
			assert.Equal(t, runstate.StageFailed, ss.Status)
			assert.Contains(t, ss.Error, "resuming from the checkpoint: refusing "+filepath.Join(dir, "out/s/.s.staging"))
			assert.Contains(t, ss.Error, plant.want)
			assert.Equal(t, victimData, readFile(t, victim), "a host file was truncated")
			assert.NoFileExists(t, filepath.Join(dir, "out/s/result.txt"))
		})
	}
}

func stageState(t *testing.T, res *Result, dir, name string) *runstate.StageState {
	t.Helper()
	require.NotNil(t, res)
	ss, err := Layout(load(t, dir)).ReadStage(name)
	require.NoError(t, err)
	return ss
}

func TestPromotionRefusesWhatAProcessorPlanted(t *testing.T) {
	for _, c := range []struct{ name, script, want string }{
		{"symlink", `ln -s "$VICTIM" "$PIPELINE_OUTPUT_DIR/leak.txt"`, "leak.txt: is a symlink"},
		{"hardlink", `printf x > "$PIPELINE_OUTPUT_DIR/a"; ln "$PIPELINE_OUTPUT_DIR/a" "$PIPELINE_OUTPUT_DIR/b"`, "has 2 hard links"},
		{"outside_hardlink", `ln "$VICTIM" "$PIPELINE_OUTPUT_DIR/leak.txt" || exit 9`, "leak.txt: has 2 hard links"},
		{"symlinked_subdir", `ln -s "$(dirname "$VICTIM")" "$PIPELINE_OUTPUT_DIR/sub"`, "sub: is a symlink"},
		{"fifo", `mkfifo "$PIPELINE_OUTPUT_DIR/p"`, "p: is a named pipe (FIFO)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			spec := `{"version": 1, "name": "t", "stages": [` + bashStage(t, "s", c.script, `, "env": {"VICTIM": "VICTIMPATH"}`) + `]}`
			dir := testutil.Workspace(t, map[string]string{"in.txt": "one\n"})
			victim := filepath.Join(dir, "victim.txt")
			testutil.WriteFile(t, victim, victimData)
			require.NoError(t, os.Chmod(victim, 0o666)) // linkable by any uid
			testutil.WriteFile(t, filepath.Join(dir, "pipeline.json"), strings.ReplaceAll(spec, "VICTIMPATH", victim))
			res, err := runOnce(t, dir, Options{RunID: "r1"})
			require.Error(t, err)
			ss := stageState(t, res, dir, "s")
			assert.Equal(t, runstate.StageFailed, ss.Status)
			if len(ss.Attempts) > 0 && ss.Attempts[0].ExitCode == 9 {
				t.Skip("the sandbox refused the hardlink itself")
			}
			assert.Contains(t, ss.Error, "refusing "+filepath.Join(dir, "out/s/.s.staging"))
			assert.Contains(t, ss.Error, c.want)
			ents, _ := os.ReadDir(filepath.Join(dir, "out/s"))
			for _, e := range ents {
				assert.True(t, strings.HasPrefix(e.Name(), "."), "promoted %s", e.Name())
			}
			assert.Equal(t, victimData, readFile(t, victim))
		})
	}
}

func TestPromotedFilesBelongToGuardrun(t *testing.T) {
	spec := `{"version": 1, "name": "t", "stages": [` + bashStage(t, "s",
		`printf x > "$PIPELINE_OUTPUT_DIR/a"; chmod 6777 "$PIPELINE_OUTPUT_DIR/a"`, "") + `]}`
	dir := testutil.Workspace(t, map[string]string{"pipeline.json": spec, "in.txt": "one\n"})
	_, err := runOnce(t, dir, Options{RunID: "r1"})
	require.NoError(t, err)
	fi, err := os.Stat(filepath.Join(dir, "out/s/a"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o755), fi.Mode(), "no setuid, setgid or group/other write")
	st := fi.Sys().(*syscall.Stat_t)
	assert.Equal(t, uint32(os.Getuid()), st.Uid)
	assert.Equal(t, uint32(os.Getgid()), st.Gid)
}

func TestSymlinkedDirsAreRefusedAtUseTime(t *testing.T) {
	spec := `{"version": 1, "name": "t", "stages": [` + bashStage(t, "s", `printf x > "$PIPELINE_OUTPUT_DIR/a"`, "") + `]}`
	dir := testutil.Workspace(t, map[string]string{"pipeline.json": spec, "in.txt": "one\n"})
	p := load(t, dir) // loaded before the symlink exists, as at the start of a run
	elsewhere := filepath.Join(dir, "elsewhere")
	require.NoError(t, os.MkdirAll(elsewhere, 0o755))
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "out"), 0o755))
	require.NoError(t, os.Symlink(elsewhere, filepath.Join(dir, "out/s")))
	_, err := Run(context.Background(), p, Options{RunID: "r1", Sandbox: plainSandbox(t)})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "checking the output dir: refusing "+filepath.Join(dir, "out/s")+": is a symlink")
	ents, _ := os.ReadDir(elsewhere)
	assert.Empty(t, ents, "guardrun wrote through the symlink")

	// The state dir too.
	require.NoError(t, os.Remove(filepath.Join(dir, "out/s")))
	require.NoError(t, os.RemoveAll(p.StateDir))
	require.NoError(t, os.Symlink(elsewhere, p.StateDir))
	_, err = Run(context.Background(), p, Options{RunID: "r2", Sandbox: plainSandbox(t)})
	require.ErrorContains(t, err, "checking the state dir: refusing "+p.StateDir+": is a symlink")
	ents, _ = os.ReadDir(elsewhere)
	assert.Empty(t, ents, "guardrun wrote through the symlink")
}

func TestIrregularInputsAreRefused(t *testing.T) {
	for _, in := range []string{"fifo", "/dev/zero"} {
		t.Run(filepath.Base(in), func(t *testing.T) {
			spec := `{"version": 1, "name": "t", "stages": [{"name": "s", "processor": {"exec": ["bin/copy"]}, "inputs": [%q],
			  "outputDir": "out", "outputs": ["copy.txt"]}]}`
			dir := testutil.Workspace(t, map[string]string{"pipeline.json": fmt.Sprintf(spec, in)})
			require.NoError(t, syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644))
			done := make(chan struct{})
			var res *Result
			var err error
			go func() { res, err = runOnce(t, dir, Options{RunID: "r1"}); close(done) }()
			select {
			case <-done:
			case <-time.After(20 * time.Second):
				t.Fatal("guardrun hangs on a non-regular input")
			}
			require.Error(t, err)
			assert.Regexp(t, "input "+in+": is a (named pipe \\(FIFO\\)|character device): only regular files", err.Error())
			assert.NoFileExists(t, filepath.Join(dir, "out/copy.txt"))
			require.NotNil(t, res)
		})
	}
}

func TestProgressProtocolErrorsFailTheAttempt(t *testing.T) {
	for _, c := range []struct{ name, script, want string }{
		{"long_line", `head -c 200000 /dev/zero | tr '\0' x >&3; echo >&3; sleep 30`, "progress protocol error: a progress line is longer than 65536 bytes"},
		{"past_input", `echo '{"lineOffset":1,"byteOffset":1000000,"outputs":{}}' >&3; sleep 30`, "progress protocol error: byteOffset 1000000 is past the end of the inputs (4 bytes)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			spec := `{"version": 1, "name": "t", "stages": [` + bashStage(t, "s", c.script, "") + `]}`
			dir := testutil.Workspace(t, map[string]string{"pipeline.json": spec, "in.txt": "one\n"})
			start := time.Now()
			res, err := runOnce(t, dir, Options{RunID: "r1"})
			require.Error(t, err)
			assert.Less(t, time.Since(start), 20*time.Second, "the attempt was not ended")
			ss := stageState(t, res, dir, "s")
			require.NotEmpty(t, ss.Attempts)
			assert.Equal(t, runstate.OutcomeFailed, ss.Attempts[0].Outcome)
			assert.Contains(t, ss.Attempts[0].Error, c.want)
		})
	}
}

func TestProcessorOutputIsCappedAndKeptOutOfItsReach(t *testing.T) {
	// 3 MiB of output under a 1.5 MiB cap; the processor tries to truncate
	// and rewrite the log through its stdout.
	script := `: > /proc/self/fd/1; truncate -s 0 /proc/self/fd/1 2>/dev/null; echo FIRST; head -c 3145728 /dev/zero | tr '\0' y; echo; echo LAST`
	spec := `{"version": 1, "name": "t", "stages": [` + bashStage(t, "s", script, "") + `]}`
	dir := testutil.Workspace(t, map[string]string{"pipeline.json": spec, "in.txt": "one\n"})
	logPath := Layout(load(t, dir)).StageLog("s")
	require.NoError(t, os.MkdirAll(filepath.Dir(logPath), 0o755))
	testutil.WriteFile(t, logPath, "EARLIER RUN\n")
	_, err := runOnce(t, dir, Options{RunID: "r1", LogCapBytes: 3 << 19})
	require.NoError(t, err)
	b, err := os.ReadFile(logPath)
	require.NoError(t, err)
	assert.True(t, bytes.HasPrefix(b, []byte("EARLIER RUN\n")), "the processor rewrote the log")
	assert.Contains(t, string(b), "FIRST")
	assert.True(t, bytes.HasSuffix(b, []byte("\nLAST\n")), "the tail is kept")
	assert.Regexp(t, `--- guardrun: \d+ bytes of output dropped here \(log cap 1572864 bytes per attempt`, string(b))
	assert.Less(t, len(b), 1572864+4096)
}

func TestCapWriterKeepsHeadAndTail(t *testing.T) {
	var buf bytes.Buffer
	c := newCapWriter(&buf, 10)
	for _, s := range []string{"0123", "4567", "89ab", "cdefghij", "k"} {
		_, _ = c.Write([]byte(s))
	}
	require.NoError(t, c.Close())
	assert.Equal(t, "01234\n--- guardrun: 11 bytes of output dropped here (log cap 10 bytes per attempt: the first 5 and the last 5 bytes are kept)\nghijk", buf.String())
	buf.Reset()
	c = newCapWriter(&buf, 10)
	_, _ = c.Write([]byte("0123456"))
	_, _ = c.Write([]byte("78"))
	require.NoError(t, c.Close())
	assert.Equal(t, "012345678", buf.String(), "under the cap: everything, in order")
}

// TestProgressFloodCostsLittleAndLogsLittle: 100,000 malformed and 100,000
// valid reports cost guardrun a handful of log lines, and the checkpoint
// is the last report.
func TestProgressFloodCostsLittleAndLogsLittle(t *testing.T) {
	script := `awk 'BEGIN { for (i = 0; i < 100000; i++) { print "not json"; print "{\"lineOffset\":0,\"byteOffset\":0,\"outputs\":{}}" } }' >&3
	echo '{"lineOffset":1,"byteOffset":4,"outputs":{}}' >&3`
	spec := `{"version": 1, "name": "t", "stages": [` + bashStage(t, "s", script, "") + `]}`
	dir := testutil.Workspace(t, map[string]string{"pipeline.json": spec, "in.txt": "one\n"})
	var logBuf bytes.Buffer
	res, err := runOnce(t, dir, Options{RunID: "r1", Logger: slog.New(slog.NewTextHandler(&logBuf, nil))})
	require.NoError(t, err)
	ss := stageState(t, res, dir, "s")
	require.Len(t, ss.Attempts, 1)
	assert.Equal(t, int64(4), ss.Attempts[0].EndByteOffset)
	log := logBuf.String()
	assert.LessOrEqual(t, strings.Count(log, "ignoring malformed progress report"), maxProgressWarnings)
	assert.Contains(t, log, "ignored more malformed or invalid progress reports")
}

// TestStagingIsBounded: a processor cannot make guardrun promote more than
// the staged-file limit (guardrun's memory), nor stage a name guardrun
// reserves for markers, where it could pass for another stage's marker.
func TestStagingIsBounded(t *testing.T) {
	for _, c := range []struct{ name, script, want string }{
		{"too_many", `cd "$PIPELINE_OUTPUT_DIR" && mkdir d && i=0; while [ $i -lt 30 ]; do : > d/f$i; i=$((i+1)); done`,
			"the staging dir holds more than 20 files and directories"},
		{"marker_name", `echo forged > "$PIPELINE_OUTPUT_DIR/.other.done"`,
			"refusing staged output .other.done: the name is reserved"},
	} {
		t.Run(c.name, func(t *testing.T) {
			spec := `{"version": 1, "name": "t", "stages": [` + bashStage(t, "s", c.script, "") + `]}`
			dir := testutil.Workspace(t, map[string]string{"pipeline.json": spec, "in.txt": "one\n"})
			res, err := runOnce(t, dir, Options{RunID: "r1", MaxStagedFiles: 20})
			require.Error(t, err)
			ss := stageState(t, res, dir, "s")
			require.NotEmpty(t, ss.Attempts)
			assert.Contains(t, ss.Error, c.want)
			ents, err := os.ReadDir(filepath.Join(dir, "out", "s"))
			require.NoError(t, err)
			for _, e := range ents {
				assert.True(t, strings.HasSuffix(e.Name(), ".staging"), "promoted %s", e.Name())
			}
		})
	}
}

// TestOutputTail: a failed attempt's tail is its last 20 lines, each cut
// at 512 bytes, valid UTF-8, with the processor's control characters
// (terminal escape sequences) made harmless for the terminal `run`
// prints them on.
func TestOutputTail(t *testing.T) {
	var tb tailBuf
	for i := 1; i <= 30; i++ {
		fmt.Fprintf(&tb, "line %d\n", i)
	}
	fmt.Fprintf(&tb, "\x1b]52;c;ZXZpbA==\x07\x1b[2J fake: succeeded\r\n")
	fmt.Fprintf(&tb, "%s\xff\tend", strings.Repeat("x", 600))
	got := tb.lines()
	require.Len(t, got, outputTailLines)
	assert.Equal(t, "line 13", got[0])
	assert.Equal(t, "\uFFFD]52;c;ZXZpbA==\uFFFD\uFFFD[2J fake: succeeded", got[18])
	assert.Equal(t, strings.Repeat("x", outputTailLineMax)+"...", got[19])
	for _, l := range got {
		assert.True(t, utf8.ValidString(l), l)
		assert.NotContains(t, l, "\x1b")
	}

	var big tailBuf
	_, _ = big.Write([]byte(strings.Repeat("y", outputTailBytes+100) + "\nlast\n"))
	assert.Equal(t, []string{"last"}, big.lines(), "a first line cut by the buffer is dropped")
	var none tailBuf
	assert.Nil(t, none.lines())
}
