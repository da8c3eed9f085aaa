package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/guardrun/guardrun/internal/runstate"
	"github.com/guardrun/guardrun/internal/tty"
)

// printer turns runner events into human lines on stderr. On a terminal
// it keeps a live line per running stage (done/total, rate, ETA) below the
// permanent lines; elsewhere it prints a plain progress line per running
// stage at most every plainEvery. Every run ends with one summary line
// (counts and wall time). A run of consecutive skipped stages prints its
// first foldSkipsAfter lines and one line for the rest (unless verbose).
type printer struct {
	w        io.Writer
	quiet    bool // failures and the summary line only
	silent   bool // failures only
	verbose  bool // every skipped stage
	live     bool
	start    time.Time
	now      func() time.Time
	running  map[string]*stageProgress
	order    []string
	drawn    int // live lines currently on screen
	lastDraw time.Time
	skips    int // consecutive skipped stages so far
	folded   int // of those, not printed
}

// printMode is what the run command's flags ask of the printer.
type printMode struct {
	quiet   bool // --quiet: failures and the summary line
	silent  bool // --silent: failures only
	verbose bool // --verbose: list every skipped stage
}

// foldSkipsAfter is how many consecutive skipped stages are listed before
// the rest of them are folded into one line.
const foldSkipsAfter = 10

type stageProgress struct {
	since      time.Time
	startBytes int64
	lines      int64
	bytes      int64
	total      int64
	lastPlain  time.Time
}

const (
	plainEvery = 5 * time.Second
	drawEvery  = 100 * time.Millisecond
)

func newPrinter(w io.Writer, mode printMode) *printer {
	quiet := mode.quiet || mode.silent
	live := false
	if f, ok := w.(*os.File); ok && !quiet && os.Getenv("TERM") != "dumb" {
		live = tty.IsTerminal(f)
	}
	return &printer{w: w, quiet: quiet, silent: mode.silent, verbose: mode.verbose, live: live, start: time.Now(), now: time.Now,
		running: map[string]*stageProgress{}}
}

// line prints a permanent line (above the live block); it ends a run of
// skipped stages.
func (p *printer) line(format string, args ...any) {
	p.clear()
	p.endSkips()
	fmt.Fprintf(p.w, format+"\n", args...)
	p.draw(true)
}

// skipped prints the line of a skipped stage, or folds it.
func (p *printer) skipped(stage string) {
	p.skips++
	if !p.verbose && p.skips > foldSkipsAfter {
		p.folded++
		return
	}
	p.clear()
	fmt.Fprintf(p.w, "%-20s skipped (up to date)\n", stage)
	p.draw(true)
}

// endSkips prints the folded rest of a run of skipped stages.
func (p *printer) endSkips() {
	if p.folded > 0 {
		fmt.Fprintf(p.w, "... %d more stages skipped (up to date; --verbose lists them)\n", p.folded)
	}
	p.skips, p.folded = 0, 0
}

func (p *printer) event(ev runstate.Event) {
	switch d := ev.Data.(type) {
	case runstate.AttemptStart:
		sp := p.running[ev.Stage]
		if sp == nil {
			sp = &stageProgress{}
			p.running[ev.Stage] = sp
			p.order = append(p.order, ev.Stage)
		}
		sp.since, sp.startBytes, sp.lastPlain = p.now(), sp.bytes, p.now()
	case runstate.ProgressReport:
		if sp := p.running[ev.Stage]; sp != nil {
			sp.lines, sp.bytes, sp.total = d.Lines, d.Bytes, d.TotalBytes
			if sp.startBytes > sp.bytes {
				sp.startBytes = 0
			}
		}
	case runstate.StageEnd, runstate.StageSkip:
		if _, ok := p.running[ev.Stage]; ok {
			delete(p.running, ev.Stage)
			for i, n := range p.order {
				if n == ev.Stage {
					p.order = append(p.order[:i], p.order[i+1:]...)
					break
				}
			}
		}
	}
	if p.quiet {
		switch d := ev.Data.(type) {
		case runstate.StageEnd:
			if d.Error != "" {
				fmt.Fprintf(p.w, "%-20s %s: %s\n", ev.Stage, d.Status, d.Error)
			}
		case runstate.RunEnd:
			if !p.silent {
				p.summary(ev.RunID, d)
			}
		}
		return
	}
	switch d := ev.Data.(type) {
	case runstate.LockWait:
		p.line("waiting for the pipeline lock held by %s", d.Holder)
	case runstate.StageSkip:
		p.skipped(ev.Stage)
	case runstate.StageStart:
		if d.Items > 0 {
			p.line("%-20s running (fan-out over %d items)", ev.Stage, d.Items)
		}
	case runstate.StageResume:
		p.line("%-20s resuming from checkpoint at line %d, byte %d", ev.Stage, d.LineOffset, d.ByteOffset)
	case runstate.AttemptStart:
		if d.Attempt == 1 {
			p.line("%-20s running", ev.Stage)
		} else {
			p.line("%-20s running (attempt %d)", ev.Stage, d.Attempt)
		}
	case runstate.StageRetry:
		p.line("%-20s retrying in %s (attempt %d)", ev.Stage, time.Duration(d.DelayMs)*time.Millisecond, d.Attempt)
	case runstate.BlockedByUpstream:
		p.line("%-20s not run: upstream %s did not succeed", ev.Stage, d.Upstream)
	case runstate.StageEnd:
		status := d.Status
		if d.Items != nil {
			status += " (" + d.Items.Text() + ")"
		}
		if d.Error != "" {
			p.line("%-20s %s: %s", ev.Stage, status, d.Error)
		} else {
			p.line("%-20s %s", ev.Stage, status)
		}
	case runstate.ProgressReport:
		if p.live {
			p.draw(false)
			return
		}
		if sp := p.running[ev.Stage]; sp != nil && p.now().Sub(sp.lastPlain) >= plainEvery {
			sp.lastPlain = p.now()
			fmt.Fprintf(p.w, "%-20s %s\n", ev.Stage, sp.describe(p.now()))
		}
	case runstate.RunEnd:
		p.clear()
		p.endSkips()
		p.summary(ev.RunID, d)
	}
}

// summary prints the run's last line: status, wall time and how many stages
// ran, skipped, failed, were blocked (the counts of run.end).
func (p *printer) summary(runID string, d runstate.RunEnd) {
	s := fmt.Sprintf("run %s %s in %s", runID, d.Status, p.now().Sub(p.start).Round(time.Millisecond))
	if d.Counts != nil {
		s += ": " + d.Counts.String()
	}
	fmt.Fprintln(p.w, s)
}

// clear erases the live block.
func (p *printer) clear() {
	if !p.live || p.drawn == 0 {
		return
	}
	fmt.Fprintf(p.w, "\x1b[%dA\x1b[J", p.drawn)
	p.drawn = 0
}

// draw redraws the live block (throttled unless force).
func (p *printer) draw(force bool) {
	if !p.live {
		return
	}
	now := p.now()
	if !force && now.Sub(p.lastDraw) < drawEvery {
		return
	}
	p.clear()
	p.lastDraw = now
	for _, name := range p.order {
		fmt.Fprintf(p.w, "  > %-18s %s\n", name, p.running[name].describe(now))
		p.drawn++
	}
}

// describe renders done/total, rate and ETA.
func (sp *stageProgress) describe(now time.Time) string {
	el := now.Sub(sp.since).Seconds()
	if sp.bytes == 0 && sp.lines == 0 {
		return fmt.Sprintf("started %s ago", time.Duration(el*float64(time.Second)).Round(time.Second))
	}
	s := fmt.Sprintf("%s lines, %s", humanCount(sp.lines), humanBytes(sp.bytes))
	if sp.total > 0 {
		s = fmt.Sprintf("%3.0f%%  %s / %s, %s lines", 100*float64(sp.bytes)/float64(sp.total), humanBytes(sp.bytes), humanBytes(sp.total), humanCount(sp.lines))
	}
	if el > 0.2 && sp.bytes > sp.startBytes {
		rate := float64(sp.bytes-sp.startBytes) / el
		s += fmt.Sprintf("  %s/s", humanBytes(int64(rate)))
		if sp.total > sp.bytes && rate > 0 {
			eta := time.Duration(float64(sp.total-sp.bytes) / rate * float64(time.Second))
			s += fmt.Sprintf("  ETA %s", eta.Round(time.Second))
		}
	}
	return s
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}

func humanCount(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.1fG", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.1fM", float64(n)/1e6)
	case n >= 1e4:
		return fmt.Sprintf("%.1fk", float64(n)/1e3)
	}
	return fmt.Sprint(n)
}
