package audit

import (
	"bytes"
	"fmt"
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
