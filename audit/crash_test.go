package audit

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const childEnv = "GUARDRUN_AUDIT_CRASH_CHILD"

// TestCrashChild is the writer that TestKill9 kills; it does nothing in a
// normal test run. It appends records of 1 KiB to 900 KiB (large writes are
// the ones the kernel may cut short when SIGKILL arrives) and prints each
// seq once Append or AppendNoSync has returned.
func TestCrashChild(t *testing.T) {
	path := os.Getenv(childEnv)
	if path == "" {
		t.Skip("helper process for TestKill9")
	}
	l, err := Open(path, key1)
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(3)
	}
	out := bufio.NewWriter(os.Stdout)
	for i := 0; ; i++ {
		ev := Event{Type: "stage.progress", RunID: "crash", Data: map[string]any{"blob": strings.Repeat("x", 1024+rand.IntN(900<<10))}}
		var rec Record
		if i%2 == 0 {
			rec, err = l.Append(ev)
		} else {
			rec, err = l.AppendNoSync(ev)
		}
		if err != nil {
			fmt.Println("append:", err)
			os.Exit(3)
		}
		fmt.Fprintln(out, rec.Seq)
		out.Flush()
	}
}

// TestKill9 kills a writer at random moments. Whatever the moment, the next
// Open succeeds (repairing a torn line if the kill cut a write short), keeps
// every record the writer saw acknowledged, and the log verifies.
// Why that holds: a record is one write(2) of a whole line ending in '\n';
// the kernel keeps whatever reached the page cache when the process dies,
// so the file is a sequence of whole lines possibly followed by one partial
// line (a large write interrupted by SIGKILL), never a partial line between
// whole ones, because the next append only starts after the previous write
// returned. Open cuts exactly that partial line.
func TestKill9(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("kill -9 semantics are Unix")
	}
	p := filepath.Join(t.TempDir(), "audit.jsonl")
	repairs := 0
	var acked int64
	for round := 0; round < 6; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), childEnv+"="+p)
		stdout, err := cmd.StdoutPipe()
		require.NoError(t, err)
		require.NoError(t, cmd.Start())
		sc := bufio.NewScanner(stdout)
		deadline := time.After(time.Duration(20+rand.IntN(200)) * time.Millisecond)
		lines := make(chan string)
		go func() {
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
	read:
		for {
			select {
			case ln, ok := <-lines:
				if !ok {
					break read
				}
				n, err := strconv.ParseInt(ln, 10, 64)
				require.NoError(t, err, "child said %q", ln)
				acked = n
			case <-deadline:
				require.NoError(t, cmd.Process.Kill()) // SIGKILL
				for ln := range lines {
					if n, err := strconv.ParseInt(ln, 10, 64); err == nil {
						acked = n
					}
				}
				break read
			}
		}
		_ = cmd.Wait()

		l, err := Open(p, key1)
		require.NoError(t, err, "round %d", round)
		if rec, ok := l.Repaired(); ok {
			repairs++
			t.Logf("round %d: repaired a torn line of %s bytes", round, rec.Data["droppedBytes"])
		}
		seq, _ := l.Head()
		require.NoError(t, l.Close())
		assert.GreaterOrEqual(t, seq, acked, "an acknowledged record was lost")
		res, err := Verify(p, key1)
		require.NoError(t, err, "round %d", round)
		acked = res.HeadSeq
	}
	t.Logf("%d records, %d repairs after 6 kills", acked, repairs)
}
