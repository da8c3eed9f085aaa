package atomicfile_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/guardrun/guardrun/internal/atomicfile"
)

const (
	helperEnv     = "GUARDRUN_ATOMICFILE_CRASH_HELPER"
	helperPathEnv = "GUARDRUN_ATOMICFILE_CRASH_PATH"
)

type crashDoc struct {
	Gen   string   `json:"gen"`
	Lines []string `json:"lines"`
}

// crashDocs are the two documents the helper alternates between. They differ
// in length so that a torn or truncated write can never pass for either one.
func crashDocs() [2]crashDoc {
	var d [2]crashDoc
	for i, n := range []int{2000, 2600} {
		d[i].Gen = string(rune('A' + i))
		d[i].Lines = make([]string, n)
		for j := range d[i].Lines {
			d[i].Lines[j] = fmt.Sprintf("%s-%06d-the quick brown fox jumps over the lazy dog", d[i].Gen, j)
		}
	}
	return d
}

// encoded is what WriteJSON writes for v.
func encoded(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	require.NoError(t, err)
	return append(b, '\n')
}

// crashHelperMain writes the two documents to the same path, alternately and
// forever, until it is killed. It says "ready" once the target exists.
func crashHelperMain() {
	path := os.Getenv(helperPathEnv)
	docs := crashDocs()
	if err := atomicfile.WriteJSON(path, docs[0]); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println("ready")
	for i := 1; ; i++ {
		if err := atomicfile.WriteJSON(path, docs[i%2]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
}

// TestCrashSafety kills a writer with SIGKILL at random moments: the target
// must always hold one complete document, and Sweep must remove whatever
// temporary file the dead writer left.
func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns 30 writer processes")
	}
	exe, err := os.Executable()
	require.NoError(t, err)
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	docs := crashDocs()
	want := [2][]byte{encoded(t, docs[0]), encoded(t, docs[1])}

	// 30 kills, continued (up to 200) until at least one kill has landed
	// during a write: a slow machine or -race may spend most of the random
	// window encoding JSON.
	const iterations, maxIterations = 30, 200
	seen := map[string]int{}
	killedMidWrite := 0
	i := 0
	for ; i < iterations || (killedMidWrite == 0 && i < maxIterations); i++ {
		cmd := exec.Command(exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), helperEnv+"=1", helperPathEnv+"="+path)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.StdoutPipe()
		require.NoError(t, err)
		require.NoError(t, cmd.Start())
		line, err := bufio.NewReader(out).ReadString('\n')
		if err != nil || line != "ready\n" {
			_ = cmd.Process.Kill()
			_ = cmd.Wait() // stderr may be read only after Wait
			t.Fatalf("helper did not get ready: %q, %v: %s", line, err, stderr.String())
		}

		time.Sleep(time.Duration(1+rand.IntN(30)) * time.Millisecond)
		require.NoError(t, cmd.Process.Kill())
		err = cmd.Wait()
		require.Error(t, err, "helper must die by the signal, not exit: %s", stderr.String())
		require.Empty(t, stderr.String())

		got, err := os.ReadFile(path)
		require.NoError(t, err, "iteration %d", i)
		switch {
		case bytes.Equal(got, want[0]):
			seen["A"]++
		case bytes.Equal(got, want[1]):
			seen["B"]++
		default:
			t.Fatalf("iteration %d: target is not a complete document (%d bytes, valid JSON %v)", i, len(got), json.Valid(got))
		}

		var leftovers []string
		for _, n := range listDir(t, dir) {
			if n == "state.json" {
				continue
			}
			require.True(t, atomicfile.IsTemp(n), "unexpected file %q", n)
			require.True(t, strings.HasPrefix(n, ".state.json."), n)
			leftovers = append(leftovers, filepath.Join(dir, n))
		}
		if len(leftovers) > 0 {
			killedMidWrite++
		}
		removed, err := atomicfile.Sweep(dir)
		require.NoError(t, err)
		assert.ElementsMatch(t, leftovers, removed)
		require.Equal(t, []string{"state.json"}, listDir(t, dir), "iteration %d: sweep left files", i)
	}
	t.Logf("%d kills: final content A=%d B=%d, %d kills left a temp file behind", i, seen["A"], seen["B"], killedMidWrite)
	// The test proves nothing unless some kills hit the write window.
	assert.Positive(t, killedMidWrite, "no kill landed during a write")
}
