package flock_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/guardrun/guardrun/internal/flock"
)

const (
	helperEnv     = "GUARDRUN_FLOCK_HELPER" // "try" or "hold"
	helperPathEnv = "GUARDRUN_FLOCK_PATH"
	helperRunEnv  = "GUARDRUN_FLOCK_RUNID"
)

func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "try":
		helperTry()
		os.Exit(0)
	case "hold":
		helperHold()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// tryResult is what the "try" helper prints.
type tryResult struct {
	Acquired bool         `json:"acquired"`
	Locked   bool         `json:"locked"` // errors.Is(err, ErrLocked)
	Err      string       `json:"err,omitempty"`
	Holder   flock.Holder `json:"holder"`
}

// since is a fixed start time so holders compare exactly after the JSON
// round trip through the lock file.
var since = time.Date(2026, 1, 2, 3, 4, 5, 600, time.UTC)

func helperHolder() flock.Holder {
	host, _ := os.Hostname()
	return flock.Holder{RunID: os.Getenv(helperRunEnv), PID: os.Getpid(), Host: host, Since: since, What: "helper"}
}

// helperTry tries the lock once from another process and reports.
func helperTry() {
	l, h, err := flock.TryAcquire(os.Getenv(helperPathEnv), helperHolder())
	r := tryResult{Acquired: err == nil, Locked: errors.Is(err, flock.ErrLocked), Holder: h}
	if err != nil {
		r.Err = err.Error()
	}
	if l != nil {
		if err := l.Release(); err != nil {
			r.Err = "release: " + err.Error()
		}
	}
	_ = json.NewEncoder(os.Stdout).Encode(r)
}

// helperHold takes the lock, says "ready" and holds it until stdin closes or
// it is killed.
func helperHold() {
	l, _, err := flock.TryAcquire(os.Getenv(helperPathEnv), helperHolder())
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println("ready")
	_, _ = io.Copy(io.Discard, os.Stdin)
	_ = l.Release()
}

func helperCmd(t *testing.T, mode, path, runID string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	require.NoError(t, err)
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+mode, helperPathEnv+"="+path, helperRunEnv+"="+runID)
	return cmd
}

// tryFromOtherProcess runs the "try" helper and returns its report.
func tryFromOtherProcess(t *testing.T, path string) tryResult {
	t.Helper()
	out, err := helperCmd(t, "try", path, "other").Output()
	require.NoError(t, err)
	var r tryResult
	require.NoError(t, json.Unmarshal(out, &r), "helper said %q", out)
	return r
}

// holdInOtherProcess starts the "hold" helper and waits until it holds the
// lock. Closing the returned stdin makes it release and exit.
func holdInOtherProcess(t *testing.T, path, runID string) (*exec.Cmd, io.WriteCloser) {
	t.Helper()
	cmd := helperCmd(t, "hold", path, runID)
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "ready\n", line)
	return cmd, stdin
}

func mainHolder(runID string) flock.Holder {
	return flock.Holder{RunID: runID, PID: os.Getpid(), Host: "test-host", Since: since, What: "pipeline t"}
}

func lockPath(t *testing.T) string {
	return filepath.Join(t.TempDir(), "locks", "pipeline.lock") // locks/ does not exist yet
}

func TestTryAcquireExcludesOthers(t *testing.T) {
	tests := []struct {
		name string
		// second tries the lock while the first holder has it.
		second func(t *testing.T, path string) (acquired, locked bool, holder flock.Holder)
	}{
		{
			name: "another process",
			second: func(t *testing.T, path string) (bool, bool, flock.Holder) {
				r := tryFromOtherProcess(t, path)
				return r.Acquired, r.Locked, r.Holder
			},
		},
		{
			// flock(2) locks belong to the open file description, so the
			// same process opening the file again is excluded as well.
			name: "same process, second open file description",
			second: func(t *testing.T, path string) (bool, bool, flock.Holder) {
				l, h, err := flock.TryAcquire(path, mainHolder("second"))
				if l != nil {
					_ = l.Release()
				}
				if err != nil {
					assert.ErrorContains(t, err, path)
				}
				return err == nil, errors.Is(err, flock.ErrLocked), h
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := lockPath(t)
			want := mainHolder("first")
			l, got, err := flock.TryAcquire(path, want)
			require.NoError(t, err)
			require.NotNil(t, l)
			assert.Equal(t, want, got)
			assert.Equal(t, path, l.Path())

			acquired, locked, holder := tc.second(t, path)
			assert.False(t, acquired, "second acquire must fail while held")
			assert.True(t, locked, "failure must wrap ErrLocked")
			assert.Equal(t, want, holder, "holder read back from the lock file")
			assert.Equal(t, want, flock.ReadHolder(path))

			require.NoError(t, l.Release())
			b, err := os.ReadFile(path)
			require.NoError(t, err, "release leaves the file in place")
			assert.Empty(t, b, "release empties the holder description")

			acquired, locked, _ = tc.second(t, path)
			assert.True(t, acquired, "the lock is free after Release")
			assert.False(t, locked)
		})
	}
}

func TestReleaseIdempotent(t *testing.T) {
	path := lockPath(t)
	l, _, err := flock.TryAcquire(path, mainHolder("r"))
	require.NoError(t, err)
	require.NoError(t, l.Release())
	require.NoError(t, l.Release(), "second release is a no-op")
	var nilLock *flock.Lock
	require.NoError(t, nilLock.Release())

	l2, _, err := flock.TryAcquire(path, mainHolder("r2"))
	require.NoError(t, err)
	require.NoError(t, l.Release(), "a stale Lock must not release its successor")
	r := tryFromOtherProcess(t, path)
	assert.True(t, r.Locked, "still held by l2")
	require.NoError(t, l2.Release())
}

// TestKilledHolderReleases kills the holding process with SIGKILL: the kernel
// drops its lock, so the next TryAcquire succeeds, and the file still names
// the dead holder until then, which is how the runner reports a crashed
// predecessor (it calls ReadHolder before TryAcquire).
func TestKilledHolderReleases(t *testing.T) {
	path := lockPath(t)
	cmd, _ := holdInOtherProcess(t, path, "dead-run")
	pid := cmd.Process.Pid

	l, h, err := flock.TryAcquire(path, mainHolder("next"))
	require.ErrorIs(t, err, flock.ErrLocked)
	require.Nil(t, l)
	assert.Equal(t, "dead-run", h.RunID)
	assert.Equal(t, pid, h.PID)

	require.NoError(t, cmd.Process.Kill())
	_ = cmd.Wait()

	dead := flock.ReadHolder(path)
	assert.Equal(t, "dead-run", dead.RunID)
	assert.Equal(t, pid, dead.PID)
	wantHost, _ := os.Hostname()
	assert.Equal(t, wantHost, dead.Host)
	assert.True(t, since.Equal(dead.Since))
	assert.Equal(t, "helper", dead.What)

	next := mainHolder("next")
	l, got, err := flock.TryAcquire(path, next)
	require.NoError(t, err, "kernel must have dropped the dead holder's lock")
	assert.Equal(t, next, got)
	assert.Equal(t, next, flock.ReadHolder(path), "the new holder overwrote the description")
	require.NoError(t, l.Release())
}

func TestAcquireWaitsForRelease(t *testing.T) {
	path := lockPath(t)
	_, stdin := holdInOtherProcess(t, path, "busy")

	var calls atomic.Int32
	waiting := make(chan flock.Holder, 10)
	type result struct {
		l   *flock.Lock
		err error
	}
	done := make(chan result, 1)
	go func() {
		l, err := flock.Acquire(context.Background(), path, mainHolder("waiter"), 5*time.Millisecond, func(h flock.Holder) {
			calls.Add(1)
			waiting <- h
		})
		done <- result{l, err}
	}()

	select {
	case h := <-waiting:
		assert.Equal(t, "busy", h.RunID)
		assert.NotZero(t, h.PID)
	case <-time.After(10 * time.Second):
		t.Fatal("onWait was not called")
	}
	// Many poll intervals pass while the lock stays busy.
	time.Sleep(100 * time.Millisecond)
	select {
	case r := <-done:
		t.Fatalf("Acquire returned while the lock was held: %v", r.err)
	default:
	}

	require.NoError(t, stdin.Close()) // the helper releases and exits
	var r result
	select {
	case r = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Acquire did not return after release")
	}
	require.NoError(t, r.err)
	require.NotNil(t, r.l)
	assert.Equal(t, int32(1), calls.Load(), "onWait is called exactly once")
	assert.Equal(t, "waiter", flock.ReadHolder(path).RunID)
	require.NoError(t, r.l.Release())
}

func TestAcquireFreeLockDoesNotWait(t *testing.T) {
	path := lockPath(t)
	l, err := flock.Acquire(context.Background(), path, mainHolder("free"), time.Hour, func(flock.Holder) {
		t.Error("onWait called for a free lock")
	})
	require.NoError(t, err)
	require.NoError(t, l.Release())
}

func TestAcquireContextEnds(t *testing.T) {
	tests := []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
		// cancelOnWait cancels the context from the onWait callback.
		cancelOnWait bool
		want         error
	}{
		{
			name: "deadline",
			ctx: func() (context.Context, context.CancelFunc) {
				return context.WithTimeout(context.Background(), 150*time.Millisecond)
			},
			want: context.DeadlineExceeded,
		},
		{
			name:         "canceled",
			ctx:          func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) },
			cancelOnWait: true,
			want:         context.Canceled,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := lockPath(t)
			held, _, err := flock.TryAcquire(path, mainHolder("holder"))
			require.NoError(t, err)
			defer held.Release()

			ctx, cancel := tc.ctx()
			defer cancel()
			calls := 0
			start := time.Now()
			l, err := flock.Acquire(ctx, path, mainHolder("waiter"), 10*time.Millisecond, func(h flock.Holder) {
				calls++
				assert.Equal(t, "holder", h.RunID)
				if tc.cancelOnWait {
					cancel()
				}
			})
			require.Error(t, err)
			assert.Nil(t, l)
			assert.ErrorIs(t, err, tc.want)
			assert.ErrorContains(t, err, "waiting for lock")
			assert.Equal(t, 1, calls)
			assert.Less(t, time.Since(start), 5*time.Second)
			assert.Equal(t, "holder", flock.ReadHolder(path).RunID, "the waiter never wrote the file")
		})
	}
}

func TestAcquireNilOnWait(t *testing.T) {
	path := lockPath(t)
	held, _, err := flock.TryAcquire(path, mainHolder("holder"))
	require.NoError(t, err)
	go func() {
		time.Sleep(50 * time.Millisecond)
		_ = held.Release()
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	l, err := flock.Acquire(ctx, path, mainHolder("waiter"), 5*time.Millisecond, nil)
	require.NoError(t, err)
	require.NoError(t, l.Release())
}

// TestOnlyOneWinner races many TryAcquire calls (each its own open file
// description) on a fresh file: exactly one may win.
func TestOnlyOneWinner(t *testing.T) {
	path := lockPath(t)
	const n = 32
	var (
		wg      sync.WaitGroup
		winners atomic.Int32
		start   = make(chan struct{})
		locks   = make(chan *flock.Lock, n)
	)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			l, _, err := flock.TryAcquire(path, mainHolder(fmt.Sprint("g", i)))
			if err == nil {
				winners.Add(1)
				locks <- l
				return
			}
			assert.ErrorIs(t, err, flock.ErrLocked)
		}(i)
	}
	close(start)
	wg.Wait()
	close(locks)
	assert.Equal(t, int32(1), winners.Load())
	for l := range locks {
		require.NoError(t, l.Release())
	}
}

func TestTryAcquireErrors(t *testing.T) {
	t.Run("path is a directory", func(t *testing.T) {
		dir := t.TempDir()
		_, _, err := flock.TryAcquire(dir, mainHolder("x"))
		require.Error(t, err)
		assert.NotErrorIs(t, err, flock.ErrLocked)
		assert.ErrorContains(t, err, "opening lock")
	})
	t.Run("parent is a file", func(t *testing.T) {
		f := filepath.Join(t.TempDir(), "file")
		require.NoError(t, os.WriteFile(f, nil, 0o644))
		_, _, err := flock.TryAcquire(filepath.Join(f, "x.lock"), mainHolder("x"))
		require.Error(t, err)
		assert.NotErrorIs(t, err, flock.ErrLocked)
		assert.ErrorContains(t, err, "creating lock dir")
	})
}

func TestHolderString(t *testing.T) {
	tests := []struct {
		name string
		h    flock.Holder
		want string
	}{
		{name: "zero", h: flock.Holder{}, want: "another process"},
		{name: "unknown pid", h: flock.Holder{RunID: "r"}, want: "another process"},
		{
			name: "full",
			h:    flock.Holder{RunID: "20260102-abc", PID: 4242, Host: "box", Since: time.Date(2026, 1, 2, 3, 4, 5, 999, time.UTC), What: "pipeline p"},
			want: "run 20260102-abc, pid 4242 on box, since 2026-01-02T03:04:05Z",
		},
		{
			name: "converted to UTC",
			h:    flock.Holder{RunID: "r", PID: 1, Host: "h", Since: time.Date(2026, 1, 2, 5, 4, 5, 0, time.FixedZone("X", 2*3600))},
			want: "run r, pid 1 on h, since 2026-01-02T03:04:05Z",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, tc.h.String())
		})
	}
}

func TestReadHolder(t *testing.T) {
	valid := mainHolder("ok")
	validJSON, err := json.Marshal(valid)
	require.NoError(t, err)
	tests := []struct {
		name    string
		content *string // nil: no file
		want    flock.Holder
	}{
		{name: "missing file"},
		{name: "empty file", content: ptr("")},
		{name: "garbage", content: ptr("\x00\x01not json at all")},
		{name: "truncated json", content: ptr(string(validJSON[:len(validJSON)/2]))},
		{name: "wrong field types", content: ptr(`{"runId":"half","pid":"not a number"}`)},
		{name: "json array", content: ptr(`[1,2]`)},
		{name: "valid", content: ptr(string(validJSON) + "\n"), want: valid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "x.lock")
			if tc.content != nil {
				require.NoError(t, os.WriteFile(path, []byte(*tc.content), 0o644))
			}
			assert.Equal(t, tc.want, flock.ReadHolder(path))
		})
	}
}

func ptr(s string) *string { return &s }

// TestZeroHolderKeepsPredecessorTrace is the runner's start-up sequence:
// take the lock with a zero Holder so the file keeps naming the crashed
// predecessor, recover, then record itself with SetHolder.
func TestZeroHolderKeepsPredecessorTrace(t *testing.T) {
	path := lockPath(t)
	cmd, _ := holdInOtherProcess(t, path, "crashed-run")
	pid := cmd.Process.Pid
	require.NoError(t, cmd.Process.Kill())
	_ = cmd.Wait()

	l, got, err := flock.TryAcquire(path, flock.Holder{})
	require.NoError(t, err)
	assert.Equal(t, flock.Holder{}, got)
	prev := flock.ReadHolder(path)
	assert.Equal(t, "crashed-run", prev.RunID, "the dead holder is still recorded while we hold the lock")
	assert.Equal(t, pid, prev.PID)

	// Held, even before SetHolder: others are excluded and see the old
	// description.
	r := tryFromOtherProcess(t, path)
	assert.True(t, r.Locked)
	assert.Equal(t, "crashed-run", r.Holder.RunID)

	me := mainHolder("recovering-run")
	require.NoError(t, l.SetHolder(me))
	assert.Equal(t, me, flock.ReadHolder(path))
	r = tryFromOtherProcess(t, path)
	assert.True(t, r.Locked)
	assert.Equal(t, me, r.Holder)

	// A shorter holder replaces a longer one completely.
	short := flock.Holder{RunID: "s", PID: 1}
	require.NoError(t, l.SetHolder(short))
	assert.Equal(t, short, flock.ReadHolder(path))

	require.NoError(t, l.Release())
	assert.Equal(t, flock.Holder{}, flock.ReadHolder(path))
}
