package runner

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// DefaultLogCap is how many bytes of a processor's stdout and stderr one
// attempt keeps in stateDir/logs/<stage>.log (Options.LogCapBytes).
const DefaultLogCap = 64 << 20

// logTailMax is how much of the end of an attempt's output is kept when
// the output exceeds the cap: the first cap-logTailMax bytes and the last
// logTailMax bytes are kept, with a marker line between them.
const logTailMax = 1 << 20

// attemptLog carries one attempt's stdout and stderr into the stage log.
// The processor gets the write end of a pipe, never the log file: it can
// neither rewrite nor truncate the log, nor grow it past the cap.
type attemptLog struct {
	w    *os.File // the processor's stdout and stderr; nil: the null device
	r    *os.File
	file io.WriteCloser
	cw   *capWriter
	tail tailBuf // the last bytes of the output, for a failure's record
	done chan struct{}
}

// Tail bounds: a failed attempt's record keeps the last outputTailLines
// lines of its output, each at most outputTailLineMax bytes, from its
// last outputTailBytes bytes.
const (
	outputTailLines   = 20
	outputTailLineMax = 512
	outputTailBytes   = 8 << 10
)

// tailBuf keeps the last outputTailBytes bytes written to it.
type tailBuf struct{ b []byte }

func (t *tailBuf) Write(p []byte) (int, error) {
	n := len(p)
	if len(p) >= outputTailBytes {
		p = p[len(p)-outputTailBytes:]
		t.b = t.b[:0]
	}
	if over := len(t.b) + len(p) - outputTailBytes; over > 0 {
		t.b = append(t.b[:0], t.b[over:]...)
	}
	t.b = append(t.b, p...)
	return n, nil
}

// lines returns the last outputTailLines complete or final lines, as
// valid UTF-8, each cut at outputTailLineMax bytes; nil for no output.
func (t *tailBuf) lines() []string {
	s := strings.TrimRight(string(t.b), "\n")
	if s == "" {
		return nil
	}
	all := strings.Split(s, "\n")
	if len(t.b) == outputTailBytes && len(all) > 1 {
		all = all[1:] // the first may be cut
	}
	if len(all) > outputTailLines {
		all = all[len(all)-outputTailLines:]
	}
	out := make([]string, len(all))
	for i, l := range all {
		l = strings.TrimRight(l, "\r")
		if len(l) > outputTailLineMax {
			l = l[:outputTailLineMax] + "..."
		}
		out[i] = printable(strings.ToValidUTF8(l, "\uFFFD"))
	}
	return out
}

// printable replaces control characters (C0 but tab, DEL, C1) with
// U+FFFD: the processor wrote these lines, and `run` prints them on the
// user's terminal, where an escape sequence could rewrite what the user
// sees (a fake "succeeded" line) or reach the clipboard (OSC 52).
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if (r < 0x20 && r != '\t') || r == 0x7f || (r >= 0x80 && r <= 0x9f) {
			return '\uFFFD'
		}
		return r
	}, s)
}

// outputTail is the attempt's last output lines (after finish).
func (l *attemptLog) outputTail() []string { return l.tail.lines() }

// startLog opens the stage log and the pipe feeding it.
func (se *stageExec) startLog() *attemptLog {
	l := &attemptLog{file: se.openLog(), done: make(chan struct{})}
	limit := se.r.logCap()
	if se.isItem && (limit < 0 || limit > itemLogCap) {
		limit = itemLogCap
	}
	l.cw = newCapWriter(l.file, limit)
	r, w, err := os.Pipe()
	if err != nil {
		close(l.done)
		return l
	}
	l.r, l.w = r, w
	go func() {
		defer close(l.done)
		buf := make([]byte, 64<<10)
		_, _ = io.CopyBuffer(io.MultiWriter(l.cw, &l.tail), onlyReader{r}, buf)
	}()
	return l
}

// out is what the processor's stdout and stderr are.
func (l *attemptLog) out() io.Writer {
	if l.w == nil {
		return nil
	}
	return l.w
}

// started drops guardrun's copy of the write end once the processor has
// its own (or failed to start).
func (l *attemptLog) started() {
	if l.w != nil {
		_ = l.w.Close()
		l.w = nil
	}
}

// finish waits for the processor's output (at most grace after the tree
// is gone: a leftover holder of the pipe cannot keep guardrun waiting),
// then writes the kept tail and closes the log.
func (l *attemptLog) finish(grace time.Duration) {
	l.started()
	if l.r != nil {
		_ = l.r.SetReadDeadline(time.Now().Add(grace))
	}
	<-l.done
	if l.r != nil {
		_ = l.r.Close()
	}
	_ = l.cw.Close()
	_ = l.file.Close()
}

// onlyReader hides WriterTo/ReaderFrom so CopyBuffer uses its buffer.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

// logCap is the per-attempt log cap in bytes; < 0 is unlimited.
func (r *Runner) logCap() int64 {
	switch c := r.opts.LogCapBytes; {
	case c == 0:
		return DefaultLogCap
	case c < 0:
		return -1
	default:
		return c
	}
}

// capWriter writes at most limit bytes to w: the first limit-tailMax as
// they come, and the last tailMax bytes kept in a ring until Close, which
// writes a marker line with the number of bytes dropped, then the tail.
type capWriter struct {
	w       io.Writer
	limit   int64 // < 0: unlimited
	headMax int64
	head    int64
	ring    []byte
	pos     int
	filled  int
	dropped int64
}

func newCapWriter(w io.Writer, limit int64) *capWriter {
	c := &capWriter{w: w, limit: limit}
	if limit >= 0 {
		tail := int64(logTailMax)
		if tail > limit/2 {
			tail = limit / 2
		}
		c.headMax = limit - tail
		c.ring = make([]byte, tail)
	}
	return c
}

func (c *capWriter) Write(p []byte) (int, error) {
	n := len(p)
	if c.limit < 0 {
		_, _ = c.w.Write(p)
		return n, nil
	}
	if room := c.headMax - c.head; room > 0 {
		k := int64(len(p))
		if k > room {
			k = room
		}
		_, _ = c.w.Write(p[:k]) // a full disk loses log lines, not the attempt
		c.head += k
		p = p[k:]
	}
	size := len(c.ring)
	if len(p) == 0 {
		return n, nil
	}
	if size == 0 {
		c.dropped += int64(len(p))
		return n, nil
	}
	if len(p) >= size {
		c.dropped += int64(c.filled + len(p) - size)
		copy(c.ring, p[len(p)-size:])
		c.pos, c.filled = 0, size
		return n, nil
	}
	if over := c.filled + len(p) - size; over > 0 {
		c.dropped += int64(over)
	}
	k := copy(c.ring[c.pos:], p)
	copy(c.ring, p[k:])
	c.pos = (c.pos + len(p)) % size
	c.filled = min(c.filled+len(p), size)
	return n, nil
}

// Close writes the marker (when bytes were dropped) and the kept tail.
func (c *capWriter) Close() error {
	if c.limit < 0 {
		return nil
	}
	if c.dropped > 0 {
		fmt.Fprintf(c.w, "\n--- guardrun: %d bytes of output dropped here (log cap %d bytes per attempt: the first %d and the last %d bytes are kept)\n",
			c.dropped, c.limit, c.headMax, len(c.ring))
	}
	if c.filled < len(c.ring) {
		_, _ = c.w.Write(c.ring[:c.filled])
	} else if c.filled > 0 {
		_, _ = c.w.Write(c.ring[c.pos:])
		_, _ = c.w.Write(c.ring[:c.pos])
	}
	c.filled = 0
	return nil
}
