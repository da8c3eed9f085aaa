package e2e

import (
	"bytes"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const docPath = "../../docs/PROCESSORS.md"

// docBlock returns the first fenced code block of the given language in
// docs/PROCESSORS.md, so that the examples there are the ones tested.
func docBlock(t *testing.T, lang string) string {
	t.Helper()
	doc, err := os.ReadFile(docPath)
	require.NoError(t, err)
	m := regexp.MustCompile("(?s)```" + regexp.QuoteMeta(lang) + "\n(.*?)```").FindSubmatch(doc)
	require.NotNil(t, m, "no %s block in %s", lang, docPath)
	return string(m[1])
}

func reverseLines(b []byte) []byte {
	var out []byte
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		line := b
		if i >= 0 {
			line = b[:i]
		}
		body := slices.Clone(line)
		slices.Reverse(body)
		out = append(out, body...)
		if i < 0 {
			break
		}
		out = append(out, '\n')
		b = b[i+1:]
	}
	return out
}

// TestDocGoExample builds the Go example of docs/PROCESSORS.md inside this
// module and runs it through the kill -9 harness.
func TestDocGoExample(t *testing.T) {
	dir := t.TempDir()
	src := writeFile(t, filepath.Join(dir, "main.go"), []byte(docBlock(t, "go")))
	bin := filepath.Join(dir, "reverse")
	cmd := exec.Command("go", "build", "-o", bin, src)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)

	inputs, all := corpus(t, dir, 200000)
	var want []byte // lines end at the end of each file
	for _, in := range inputs {
		b, err := os.ReadFile(in)
		require.NoError(t, err)
		want = append(want, reverseLines(b)...)
	}
	testKills(t, []string{bin}, inputs, all, want, "reversed.txt", 30*time.Millisecond)
}

// TestDocPythonExample runs the Python processor of docs/PROCESSORS.md
// through the same harness.
func TestDocPythonExample(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 not installed")
	}
	// the interpreter itself, not a wrapper such as a pyenv shim: a killed
	// wrapper would leave the real process running
	exe, err := exec.Command("python3", "-c", "import sys; print(sys.executable)").Output()
	require.NoError(t, err)
	py := string(bytes.TrimSpace(exe))
	dir := t.TempDir()
	src := writeFile(t, filepath.Join(dir, "upper.py"), []byte(docBlock(t, "python")))
	inputs, all := corpus(t, dir, 300000)
	testKills(t, []string{py, src}, inputs, all, upperASCII(all), "result.txt", 300*time.Millisecond)
}

// testKills kills the processor with SIGKILL at random moments a few times,
// resumes it like the runner, and compares the result with want.
func testKills(t *testing.T, argv, inputs []string, all, want []byte, output string, maxKill time.Duration) {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 11))
	outDir := t.TempDir()
	r := &runner{t: t, job: job{argv: argv, inputs: inputs, outDir: outDir, outputs: []string{output}, cpLines: 1000, cpSeconds: "0.01"}}
	for range 6 {
		// Even attempts (the first included) are killed shortly after their
		// first progress report, so that at least one kill lands mid-stream
		// however fast the machine is; odd ones at a random moment.
		after := time.Duration(rng.Int64N(int64(maxKill))) + time.Millisecond
		if r.attempts%2 == 0 {
			after = after/10 + time.Millisecond
		}
		res := r.attempt(killSpec{after: after, sig: syscall.SIGKILL, fromFirstReport: r.attempts%2 == 0})
		if res.code == 0 {
			break
		}
		require.True(t, res.signaled, "exit %d: %s", res.code, res.stderr)
	}
	r.finish()
	got, err := os.ReadFile(filepath.Join(outDir, output))
	require.NoError(t, err)
	require.True(t, bytes.Equal(want, got), "output after %d kills differs (%d vs %d bytes)", r.interrupted, len(got), len(want))
	require.EqualValues(t, len(all), r.state.ByteOffset)
	t.Logf("%d attempts, %d killed, %d resumed mid-stream", r.attempts, r.interrupted, r.resumedMidway)
	require.Positive(t, r.interrupted, "no attempt was actually killed")
}
