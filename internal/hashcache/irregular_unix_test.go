//go:build unix

package hashcache

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNonRegularFilesAreRefusedWithoutBlocking(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "fifo")
	require.NoError(t, syscall.Mkfifo(fifo, 0o644))
	done := make(chan error, 3)
	go func() { _, err := File(fifo); done <- err }()
	go func() { _, _, err := Open(filepath.Join(t.TempDir(), "c")).Sum(fifo); done <- err }()
	go func() { done <- NewIncremental(fifo).Advance(10) }()
	for i := 0; i < 3; i++ {
		select {
		case err := <-done:
			assert.ErrorIs(t, err, ErrNotRegular)
			assert.ErrorContains(t, err, fifo+": refused: a named pipe (FIFO)")
		case <-time.After(5 * time.Second):
			t.Fatal("hashing a FIFO blocked")
		}
	}
	_, _, err := Open(filepath.Join(t.TempDir(), "c")).Sum("/dev/zero")
	assert.ErrorContains(t, err, "a character device")
}

func TestHashingStopsWithItsContext(t *testing.T) {
	path := filepath.Join(t.TempDir(), "big")
	require.NoError(t, os.WriteFile(path, make([]byte, 4<<20), 0o644))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := FileContext(ctx, path)
	assert.ErrorIs(t, err, context.Canceled)
	_, _, err = Open(filepath.Join(t.TempDir(), "c")).SumContext(ctx, path)
	assert.ErrorIs(t, err, context.Canceled)
}
