package audit

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// TestDiskFullLeavesNoPartialRecord fills a tiny tmpfs: the append that hits
// ENOSPC fails, its partial line is cut off again, and the log on disk is a
// chain of whole records that verifies.
func TestDiskFullLeavesNoPartialRecord(t *testing.T) {
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=64k"); err != nil {
		t.Skipf("cannot mount a small tmpfs (needs root): %v", err)
	}
	t.Cleanup(func() { _ = unix.Unmount(dir, unix.MNT_DETACH) })
	p := filepath.Join(dir, "audit.jsonl")
	l, err := Open(p, key1)
	require.NoError(t, err)
	var appendErr error
	for i := 0; i < 1000 && appendErr == nil; i++ {
		_, appendErr = l.Append(Event{Type: "stage.progress", Data: map[string]any{"blob": strings.Repeat(fmt.Sprint(i%10), 5000)}})
	}
	require.Error(t, appendErr, "a 64k tmpfs cannot hold 5 MB")
	assert.ErrorIs(t, appendErr, syscall.ENOSPC)
	seq, hash := l.Head()
	require.NoError(t, l.Close())

	b := mustRead(t, p)
	require.True(t, bytes.HasSuffix(b, []byte("\n")), "a partial record was left at the end")
	res, err := VerifyHead(p, key1, seq, hash)
	require.NoError(t, err)
	assert.Equal(t, seq, res.HeadSeq)
	assert.Greater(t, seq, int64(0))
}

// TestDiskFullThenSpaceAgain: after an append failed with ENOSPC (its
// partial line cut off), the log is exactly what was acknowledged, so once
// space is back the next append passes the identity and size check and
// continues the chain; the record that failed never got a seq.
func TestDiskFullThenSpaceAgain(t *testing.T) {
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=64k"); err != nil {
		t.Skipf("cannot mount a small tmpfs (needs root): %v", err)
	}
	t.Cleanup(func() { _ = unix.Unmount(dir, unix.MNT_DETACH) })
	ballast := filepath.Join(dir, "ballast")
	p := filepath.Join(dir, "audit.jsonl")
	l, err := Open(p, key1)
	require.NoError(t, err)
	defer l.Close()
	_, err = l.Append(Event{Type: "run.start", RunID: "r"})
	require.NoError(t, err)
	// Fill the disk with another file, as a processor would.
	f, err := os.Create(ballast)
	require.NoError(t, err)
	for {
		if _, err := f.Write(bytes.Repeat([]byte("b"), 4096)); err != nil {
			break
		}
	}
	require.NoError(t, f.Close())
	seq0, _ := l.Head()
	_, err = l.Append(Event{Type: "stage.end", RunID: "r", Data: map[string]any{"blob": strings.Repeat("y", 20000)}})
	require.ErrorIs(t, err, syscall.ENOSPC)
	seq1, _ := l.Head()
	assert.Equal(t, seq0, seq1, "a failed append takes no seq")

	require.NoError(t, os.Remove(ballast))
	rec, err := l.Append(Event{Type: "run.end", RunID: "r", Data: map[string]any{"status": "failed", "error": appendErrText(err)}})
	require.NoError(t, err, "space is back: the chain goes on")
	assert.Equal(t, seq0+1, rec.Seq)
	res, err := VerifyHead(p, key1, rec.Seq, rec.Hash)
	require.NoError(t, err)
	assert.Equal(t, rec.Seq, res.HeadSeq)
}

func appendErrText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
