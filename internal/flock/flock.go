package flock

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// ErrLocked is returned by TryAcquire when another process holds the lock.
var ErrLocked = errors.New("locked")

// Holder describes who holds a lock. It is written into the lock file.
type Holder struct {
	RunID string    `json:"runId"`
	PID   int       `json:"pid"`
	Host  string    `json:"host"`
	Since time.Time `json:"since"`
	What  string    `json:"what,omitempty"`
}

func (h Holder) String() string {
	if h.PID == 0 {
		return "another process"
	}
	return fmt.Sprintf("run %s, pid %d on %s, since %s", h.RunID, h.PID, h.Host, h.Since.UTC().Format(time.RFC3339))
}

// Lock is a held lock; Release drops it.
type Lock struct {
	f    *os.File
	path string
}

// TryAcquire takes the exclusive lock on path without waiting and records h
// in the lock file (a zero h leaves the file as it is). When the lock
// is held elsewhere it returns an error wrapping ErrLocked and the holder as
// recorded in the file (zero if unreadable).
func TryAcquire(path string, h Holder) (*Lock, Holder, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, Holder{}, fmt.Errorf("creating lock dir: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, Holder{}, fmt.Errorf("opening lock %s: %w", path, err)
	}
	if err := lockFile(f); err != nil {
		_ = f.Close()
		if errors.Is(err, ErrLocked) {
			return nil, ReadHolder(path), fmt.Errorf("lock %s: %w", path, ErrLocked)
		}
		return nil, Holder{}, fmt.Errorf("locking %s: %w", path, err)
	}
	l := &Lock{f: f, path: path}
	if h == (Holder{}) {
		// The caller records itself later (SetHolder): what the previous
		// holder left stays readable until then.
		return l, h, nil
	}
	if err := l.writeHolder(h); err != nil {
		_ = l.Release()
		return nil, Holder{}, err
	}
	return l, h, nil
}

// SetHolder records h as the holder in the lock file.
func (l *Lock) SetHolder(h Holder) error { return l.writeHolder(h) }

// Acquire waits for the lock, polling every interval, until ctx is done.
// onWait is called once with the current holder when the lock is busy.
func Acquire(ctx context.Context, path string, h Holder, interval time.Duration, onWait func(Holder)) (*Lock, error) {
	notified := false
	for {
		l, holder, err := TryAcquire(path, h)
		if err == nil {
			return l, nil
		}
		if !errors.Is(err, ErrLocked) {
			return nil, err
		}
		if !notified && onWait != nil {
			onWait(holder)
			notified = true
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for lock %s: %w", path, ctx.Err())
		case <-time.After(interval):
		}
	}
}

// writeHolder replaces the file's content with the holder description. The
// content is informational only; the lock is the kernel's.
func (l *Lock) writeHolder(h Holder) error {
	// Write first, then cut to length: a reader never sees an empty file
	// while a holder is being recorded (at worst the new text followed by
	// the tail of the old, which does not parse and is read again).
	b, _ := json.Marshal(h)
	b = append(b, '\n')
	if _, err := l.f.WriteAt(b, 0); err != nil {
		return fmt.Errorf("writing lock holder: %w", err)
	}
	if err := l.f.Truncate(int64(len(b))); err != nil {
		return fmt.Errorf("writing lock holder: %w", err)
	}
	return nil
}

// Release drops the lock. The file is left in place: removing it would race
// with a process that has just opened it and is about to lock it.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	_ = l.f.Truncate(0)
	err := unlockFile(l.f)
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	l.f = nil
	return err
}

// Path is the lock file's path.
func (l *Lock) Path() string { return l.path }

// ReadHolder reads the holder recorded in a lock file; zero when unknown.
func ReadHolder(path string) Holder {
	for i := 0; i < 3; i++ {
		f, err := os.Open(path)
		if err != nil {
			return Holder{}
		}
		b, _ := io.ReadAll(io.LimitReader(f, 4096))
		_ = f.Close()
		if len(b) == 0 {
			return Holder{} // released cleanly (or never held)
		}
		// Decode into a fresh value each time: a failed Unmarshal may have
		// filled some fields already, and those must not leak out.
		var h Holder
		if json.Unmarshal(b, &h) == nil {
			return h
		}
		time.Sleep(2 * time.Millisecond) // the holder may be mid-write
	}
	return Holder{}
}
