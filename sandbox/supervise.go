package sandbox

import (
	"context"
	"errors"
	"sync"
)

// supervisor is the part of a started attempt that every platform shares.
// It owns the watch of the context passed to Start, killing the tree (at
// most once, and never once the tree was reaped: its pid, process group or
// job handle may then belong to something else), waiting once with the
// result cached for every later Wait, and the Killed and TimedOut
// bookkeeping that ends up in Result. The platform supplies only how to
// kill its tree and how to wait for it, reap it and describe how it ended.
type supervisor struct {
	// killFn kills the whole tree. It runs with mu held, at most once, and
	// only while the tree is not reaped.
	killFn func() error
	// reapFn waits until the whole tree has exited, reaps it and releases
	// its resources. It must call markReaped at the point from which a
	// kill would no longer be safe (or useful); Wait marks it afterwards
	// in any case.
	reapFn func() (Result, error)
	done   chan struct{} // closed once reaped: ends the context watch

	mu       sync.Mutex
	reaped   bool // no kill from now on
	killSent bool // killFn has run
	killed   bool // Kill was called or the context ended
	timedOut bool // the context's deadline expired

	waitOnce sync.Once
	res      Result
	err      error
}

// supervise returns the supervisor of a started tree and kills that tree
// when ctx ends before it is reaped.
func supervise(ctx context.Context, kill func() error, reap func() (Result, error)) *supervisor {
	s := &supervisor{killFn: kill, reapFn: reap, done: make(chan struct{})}
	go func() {
		select {
		case <-ctx.Done():
			_ = s.kill(errors.Is(ctx.Err(), context.DeadlineExceeded))
		case <-s.done:
		}
	}()
	return s
}

// Kill kills the whole tree unless it was already reaped.
func (s *supervisor) Kill() error { return s.kill(false) }

// kill records a kill request (deadline: the context's deadline expired)
// and kills the tree unless it is reaped or was killed already.
func (s *supervisor) kill(deadline bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.reaped {
		return nil
	}
	s.killed = true
	s.timedOut = s.timedOut || deadline
	if s.killSent {
		return nil
	}
	s.killSent = true
	return s.killFn()
}

// unlessReaped runs f with kills shut out, unless the tree was reaped. It
// is for kills of the platform's own (e.g. a memory limit violation), so
// that they, too, never run after the tree was reaped.
func (s *supervisor) unlessReaped(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.reaped {
		f()
	}
}

// markReaped ends killing: release, when not nil, runs first with kills
// shut out (e.g. closing the handle kills use). It returns whether the
// tree was killed and whether by the deadline, which no longer change.
func (s *supervisor) markReaped(release func()) (killed, timedOut bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.reaped {
		if release != nil {
			release()
		}
		s.reaped = true
		close(s.done)
	}
	return s.killed, s.timedOut
}

// Wait reaps the tree once; every call returns that same result.
func (s *supervisor) Wait() (Result, error) {
	s.waitOnce.Do(func() {
		res, err := s.reapFn()
		res.Killed, res.TimedOut = s.markReaped(nil)
		s.res, s.err = res, err
	})
	return s.res, s.err
}
