package sdk

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// InputBufferSize is the read buffer MapLines uses.
const InputBufferSize = 1 << 20

// timeCheckBudget bounds the work between two looks at the clock (and at a
// pending SIGTERM): each line costs its length plus 1 KiB, so the clock is
// read about every 1024 short lines or every MiB of long ones.
const timeCheckBudget = 1 << 20

// waitForCheckpoints makes periodic checkpoints synchronous (tests and
// benchmarks only): then every due checkpoint is taken exactly on time.
var waitForCheckpoints = false

// ErrInterrupted is returned (wrapped as transient) by MapLines when the
// processor received SIGTERM or SIGINT: it checkpointed and stopped early.
var ErrInterrupted = errors.New("interrupted by signal")

// InputSizes stats the inputs and returns their sizes and total. An input
// that is not a regular file (e.g. a directory, which guardrun should have
// expanded) is an error.
func (e *Env) InputSizes() (sizes []int64, total int64, err error) {
	sizes = make([]int64, len(e.Inputs))
	for i, in := range e.Inputs {
		fi, err := os.Stat(in)
		if err != nil {
			return nil, 0, fmt.Errorf("reading input: %w", err)
		}
		if !fi.Mode().IsRegular() {
			return nil, 0, fmt.Errorf("reading input %s: not a regular file", in)
		}
		sizes[i] = fi.Size()
		total += fi.Size()
	}
	return sizes, total, nil
}

// MapLines streams the concatenation of e.Inputs, in order, line by line,
// from e.ByteOffset on (the line count starts at e.LineOffset), calling fn
// for each line with out as the writer. A line ends after '\n' or at the end
// of an input file; line includes its '\n' when it has one and is only valid
// during the call.
//
// Every e.CheckpointLines lines or e.CheckpointEvery, whichever comes first,
// MapLines syncs out and reports the position and out's size; it syncs and
// reports once more at the end. On SIGTERM or SIGINT it checkpoints and
// returns an error wrapping ErrInterrupted and ErrTransient. Errors from fn
// are returned wrapped (errors.Is/As still see them).
//
// fn must write only to w (or to out) so that out's size after a line is
// exactly the output for the input up to that line. MapLines does not close
// out.
func MapLines(e *Env, out *Output, fn func(line []byte, w io.Writer) error) error {
	sizes, total, err := e.InputSizes()
	if err != nil {
		return err
	}
	if e.ByteOffset > total {
		return fmt.Errorf("%s=%d is past the end of the inputs (%d bytes): inputs changed since the checkpoint", EnvByteOffset, e.ByteOffset, total)
	}

	var stop atomic.Bool
	sigs := make(chan os.Signal, 1)
	done := make(chan struct{})
	signal.Notify(sigs, syscall.SIGTERM, os.Interrupt)
	go func() {
		select {
		case <-sigs:
			stop.Store(true)
		case <-done:
		}
	}()
	defer func() {
		signal.Stop(sigs)
		close(done)
	}()

	reporting := e.HasProgress()
	periodic := reporting && e.CheckpointsEnabled()
	lines, pos := e.LineOffset, e.ByteOffset
	var sinceCheckpoint int64
	budget := int64(timeCheckBudget)
	lastCheckpoint := time.Now()
	reported := int64(-1) // byte offset of the last report
	bg := &backgroundSync{e: e, out: out}
	defer bg.wg.Wait()
	progress := func() Progress {
		return Progress{
			LineOffset: lines,
			ByteOffset: pos,
			Outputs:    map[string]int64{out.Name(): out.Size()},
			TotalBytes: total,
		}
	}
	// periodic checkpoints run in the background: the line loop never waits
	// for the disk, and one that falls due while the previous is in flight
	// is taken as soon as that one is done.
	checkpointAsync := func() error {
		if err := bg.failed(); err != nil {
			return err
		}
		if err := out.Flush(); err != nil {
			return err
		}
		bg.start(progress())
		sinceCheckpoint = 0
		lastCheckpoint = time.Now()
		reported = pos
		if waitForCheckpoints {
			return bg.wait()
		}
		return nil
	}
	// the final checkpoint (and the one on SIGTERM) is synchronous
	checkpoint := func() error {
		if err := bg.wait(); err != nil {
			return err
		}
		if reported == pos {
			return nil
		}
		if err := out.Sync(); err != nil {
			return err
		}
		reported = pos
		return e.Report(progress())
	}

	r := bufio.NewReaderSize(nil, InputBufferSize)
	var long []byte // holds lines longer than the read buffer
	var w io.Writer = out
	start := int64(0) // stream offset of the current file's first byte
	for i, in := range e.Inputs {
		fileStart := start
		start += sizes[i]
		if e.ByteOffset >= start {
			continue // entirely processed already (or empty)
		}
		f, err := os.Open(in)
		if err != nil {
			return fmt.Errorf("reading input: %w", err)
		}
		if skip := e.ByteOffset - fileStart; skip > 0 {
			if _, err := f.Seek(skip, io.SeekStart); err != nil {
				f.Close()
				return fmt.Errorf("seeking input %s to %d: %w", in, skip, err)
			}
		}
		r.Reset(f)
		for {
			line, rerr := r.ReadSlice('\n')
			if rerr == bufio.ErrBufferFull {
				long = append(long[:0], line...)
				for rerr == bufio.ErrBufferFull {
					line, rerr = r.ReadSlice('\n')
					long = append(long, line...)
				}
				line = long
			}
			if rerr != nil && rerr != io.EOF {
				f.Close()
				return fmt.Errorf("reading input %s: %w", in, rerr)
			}
			if len(line) == 0 { // io.EOF at a line boundary
				break
			}
			if err := fn(line, w); err != nil {
				f.Close()
				return fmt.Errorf("processing line %d (%s): %w", lines+1, in, err)
			}
			lines++
			pos += int64(len(line))
			budget -= int64(len(line)) + 1024
			due := false
			if periodic && e.CheckpointLines > 0 {
				sinceCheckpoint++
				due = sinceCheckpoint >= e.CheckpointLines
			}
			if budget <= 0 {
				budget = timeCheckBudget
				if stop.Load() {
					f.Close()
					if reporting {
						if err := checkpoint(); err != nil {
							return err
						}
					} else if err := out.Flush(); err != nil {
						return err
					}
					return Transient(fmt.Errorf("stopped at line %d: %w", lines, ErrInterrupted))
				}
				if periodic && e.CheckpointEvery > 0 && time.Since(lastCheckpoint) >= e.CheckpointEvery {
					due = true
				}
			}
			if due && !bg.busy.Load() {
				if err := checkpointAsync(); err != nil {
					f.Close()
					return err
				}
			}
			if rerr == io.EOF {
				break
			}
		}
		if err := f.Close(); err != nil {
			return fmt.Errorf("reading input %s: %w", in, err)
		}
	}
	if reporting {
		return checkpoint()
	}
	return out.Flush()
}

// backgroundSync fsyncs an output and then sends its report, off the line
// loop. At most one runs at a time; reports therefore stay in order.
type backgroundSync struct {
	e    *Env
	out  *Output
	busy atomic.Bool
	wg   sync.WaitGroup
	mu   sync.Mutex
	err  error
}

// start syncs out (already flushed up to p) and then reports p.
func (b *backgroundSync) start(p Progress) {
	b.busy.Store(true)
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		defer b.busy.Store(false)
		err := b.out.syncFile()
		if err == nil {
			err = b.e.Report(p)
		}
		if err != nil {
			b.mu.Lock()
			if b.err == nil {
				b.err = err
			}
			b.mu.Unlock()
		}
	}()
}

func (b *backgroundSync) failed() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err
}

func (b *backgroundSync) wait() error {
	b.wg.Wait()
	return b.failed()
}
