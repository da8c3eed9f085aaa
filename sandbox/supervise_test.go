package sandbox

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// endableCtx is a context the test ends by hand, with the error it
// chooses: no clock is involved.
type endableCtx struct {
	done chan struct{}
	once sync.Once
	mu   sync.Mutex
	err  error
}

func newEndableCtx() *endableCtx { return &endableCtx{done: make(chan struct{})} }

func (c *endableCtx) Deadline() (time.Time, bool) { return time.Time{}, false }
func (c *endableCtx) Done() <-chan struct{}       { return c.done }
func (c *endableCtx) Value(any) any               { return nil }

func (c *endableCtx) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func (c *endableCtx) end(err error) {
	c.once.Do(func() {
		c.mu.Lock()
		c.err = err
		c.mu.Unlock()
		close(c.done)
	})
}

var errFakeReap = errors.New("fake reap failed")

// fakeTree stands for a started process tree: its kill only counts, and
// its reap blocks until the test lets the tree exit.
type fakeTree struct {
	s     *supervisor
	ctx   *endableCtx
	kills atomic.Int32
	// killed receives a value each time the kill function runs.
	killed chan struct{}
	// exit is closed by the test to let reap return.
	exit  chan struct{}
	reaps atomic.Int32
	// noMark makes reap return without calling markReaped.
	noMark bool
	// afterMark, when set, runs inside reap right after markReaped.
	afterMark func(*fakeTree)
}

func startFake(tr *fakeTree) *fakeTree {
	tr.ctx = newEndableCtx()
	tr.killed = make(chan struct{}, 16)
	tr.exit = make(chan struct{})
	tr.s = supervise(tr.ctx, func() error {
		tr.kills.Add(1)
		tr.killed <- struct{}{}
		return nil
	}, func() (Result, error) {
		n := tr.reaps.Add(1)
		<-tr.exit
		if !tr.noMark {
			tr.s.markReaped(nil)
			if tr.afterMark != nil {
				tr.afterMark(tr)
			}
		}
		// A second reap would return a different result.
		return Result{ExitCode: int(n), Notes: []string{"fake"}}, errFakeReap
	})
	return tr
}

func TestSupervisor(t *testing.T) {
	// endCtx ends the context with err, waits for the kill it causes and
	// lets the tree exit.
	endCtx := func(err error) func(*testing.T, *fakeTree) {
		return func(t *testing.T, tr *fakeTree) {
			tr.ctx.end(err)
			<-tr.killed
			close(tr.exit)
		}
	}
	tests := []struct {
		name string
		// noMark and afterMark configure the fake reap (see fakeTree).
		noMark    bool
		afterMark func(*fakeTree)
		// run drives the tree; it must let it exit (close exit).
		run          func(t *testing.T, tr *fakeTree)
		wantKills    int32
		wantKilled   bool
		wantTimedOut bool
	}{
		{
			name: "kill before reap kills once",
			run: func(t *testing.T, tr *fakeTree) {
				require.NoError(t, tr.s.Kill())
				require.NoError(t, tr.s.Kill())
				close(tr.exit)
			},
			wantKills: 1, wantKilled: true,
		},
		{
			name:      "context canceled",
			run:       endCtx(context.Canceled),
			wantKills: 1, wantKilled: true,
		},
		{
			name:      "context deadline",
			run:       endCtx(context.DeadlineExceeded),
			wantKills: 1, wantKilled: true, wantTimedOut: true,
		},
		{
			name: "deadline then kill kills once",
			run: func(t *testing.T, tr *fakeTree) {
				tr.ctx.end(context.DeadlineExceeded)
				<-tr.killed
				require.NoError(t, tr.s.Kill())
				close(tr.exit)
			},
			wantKills: 1, wantKilled: true, wantTimedOut: true,
		},
		{
			name: "exit without kill",
			run: func(t *testing.T, tr *fakeTree) {
				close(tr.exit)
			},
		},
		{
			name: "kill and context end after Wait are no-ops",
			run: func(t *testing.T, tr *fakeTree) {
				close(tr.exit)
				_, _ = tr.s.Wait()
				require.NoError(t, tr.s.Kill())
				tr.ctx.end(context.DeadlineExceeded)
			},
		},
		{
			name:      "kill once marked reaped, before reap returns, is a no-op",
			afterMark: func(tr *fakeTree) { _ = tr.s.Kill() },
			run: func(t *testing.T, tr *fakeTree) {
				close(tr.exit)
			},
		},
		{
			name:   "Wait marks reaped when reap did not",
			noMark: true,
			run: func(t *testing.T, tr *fakeTree) {
				close(tr.exit)
				_, _ = tr.s.Wait()
				require.NoError(t, tr.s.Kill())
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := startFake(&fakeTree{noMark: tt.noMark, afterMark: tt.afterMark})
			tt.run(t, tr)
			res, err := tr.s.Wait()
			require.ErrorIs(t, err, errFakeReap)
			assert.Equal(t, 1, res.ExitCode, "the fake's own result")
			assert.Equal(t, []string{"fake"}, res.Notes)
			assert.Equal(t, tt.wantKilled, res.Killed, "Killed")
			assert.Equal(t, tt.wantTimedOut, res.TimedOut, "TimedOut")
			// Kills run synchronously (Kill) or before the test goes on
			// (<-killed), so the count is final here.
			assert.Equal(t, tt.wantKills, tr.kills.Load(), "calls of the kill function")
			select {
			case <-tr.s.done:
			default:
				t.Error("context watch not ended after Wait")
			}
		})
	}
}

func TestSupervisorWaitOnce(t *testing.T) {
	tests := []struct {
		name    string
		waiters int // goroutines calling Wait at the same time
		calls   int // Wait calls of each
	}{
		{"twice in a row", 1, 2},
		{"concurrently", 8, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := startFake(&fakeTree{})
			type got struct {
				res Result
				err error
			}
			results := make(chan got, tt.waiters*tt.calls)
			var wg sync.WaitGroup
			for range tt.waiters {
				wg.Go(func() {
					for range tt.calls {
						res, err := tr.s.Wait()
						results <- got{res, err}
					}
				})
			}
			close(tr.exit)
			wg.Wait()
			close(results)
			assert.Equal(t, int32(1), tr.reaps.Load(), "reaps")
			n := 0
			for g := range results {
				n++
				assert.Equal(t, 1, g.res.ExitCode)
				assert.Equal(t, []string{"fake"}, g.res.Notes)
				assert.Same(t, errFakeReap, g.err)
			}
			assert.Equal(t, tt.waiters*tt.calls, n)
		})
	}
}
