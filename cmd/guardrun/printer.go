package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/guardrun/guardrun/internal/runstate"
	"github.com/guardrun/guardrun/internal/tty"
)

// printer turns runner events into human lines on stderr. On a terminal
// it keeps a live line per running stage below the permanent lines (stage
// n of m, a bar, done/total in bytes or items, rate, elapsed and ETA; see
// progress.go); elsewhere it prints a plain progress line per running
// stage at most every plainEvery. Every run ends with one summary line
// (counts and wall time). A run of consecutive skipped stages prints its
// first foldSkipsAfter lines and one line for the rest (unless verbose).
//
// Events come from the runner (one at a time), the live block is also
// redrawn by a ticker (elapsed times move without events) and erased by
// the interrupt handler: mu serialises the three.
type printer struct {
	mu       sync.Mutex
	w        io.Writer
	quiet    bool // failures and the summary line only
	silent   bool // failures only
	verbose  bool // every skipped stage
	live     bool
	frozen   bool // live output stopped for good (interrupted, closed)
	start    time.Time
	now      func() time.Time
	width    func() int // terminal columns, 0: unknown
	stages   int        // stages in the pipeline: stage n of m
	ordinals map[string]int
	running  map[string]*stageProgress
	order    []string
	drawn    int // live lines currently on screen
	lastDraw time.Time
	buf      bytes.Buffer // the live block, written in one call
	skips    int          // consecutive skipped stages so far
	folded   int          // of those, not printed
	stopTick chan struct{}
	tickDone chan struct{}
}

// printMode is what the run command's flags ask of the printer.
type printMode struct {
	quiet   bool // --quiet: failures and the summary line
	silent  bool // --silent: failures only
	verbose bool // --verbose: list every skipped stage
	noLive  bool // no live lines even on a terminal (--json, stdout not a terminal)
	stages  int  // how many stages the pipeline has
}

// foldSkipsAfter is how many consecutive skipped stages are listed before
// the rest of them are folded into one line.
const foldSkipsAfter = 10

type stageProgress struct {
	n          int       // stage n of m
	started    time.Time // the stage's start (elapsed)
	since      time.Time // this attempt's start (rate)
	startBytes int64     // the offset this attempt started at (a resume's checkpoint)
	lines      int64
	bytes      int64
	total      int64
	items      bool // a fan-out stage: progress in items
	itemsDone  int
	itemsSkip  int // of itemsDone, skipped as up to date (no time spent)
	itemsTotal int
	lastPlain  time.Time
}

const (
	plainEvery = 5 * time.Second
	drawEvery  = 100 * time.Millisecond
)

func newPrinter(w io.Writer, mode printMode) *printer {
	quiet := mode.quiet || mode.silent
	live := false
	f, isFile := w.(*os.File)
	if isFile && !quiet && !mode.noLive && os.Getenv("TERM") != "dumb" {
		live = tty.IsTerminal(f) && tty.EnableVT(f)
	}
	p := &printer{w: w, quiet: quiet, silent: mode.silent, verbose: mode.verbose, live: live, start: time.Now(), now: time.Now,
		stages: mode.stages, running: map[string]*stageProgress{}}
	if live {
		p.width = func() int { return tty.Width(f) }
		p.startTicker()
		livePrinter.Store(p)
	}
	return p
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
	p.mu.Lock()
	defer p.mu.Unlock()
	switch d := ev.Data.(type) {
	case runstate.StageStart:
		sp := p.track(ev.Stage)
		if d.Items > 0 {
			sp.items, sp.itemsTotal = true, d.Items
		}
	case runstate.StageResume:
		// This attempt starts at the checkpoint: its rate counts only the
		// bytes it reads from there.
		sp := p.track(ev.Stage)
		sp.lines, sp.bytes = d.LineOffset, d.ByteOffset
	case runstate.AttemptStart:
		sp := p.track(ev.Stage)
		sp.since, sp.startBytes, sp.lastPlain = p.now(), sp.bytes, p.now()
	case runstate.ProgressReport:
		if sp := p.running[ev.Stage]; sp != nil {
			sp.lines, sp.bytes, sp.total = d.Lines, d.Bytes, d.TotalBytes
			if sp.startBytes > sp.bytes {
				sp.startBytes = 0
			}
		}
	case runstate.ItemProgress:
		if sp := p.running[ev.Stage]; sp != nil {
			sp.items, sp.itemsDone, sp.itemsSkip, sp.itemsTotal = true, d.Done, d.Skipped, d.Total
		}
	case runstate.StageSkip, runstate.BlockedByUpstream:
		p.ordinal(ev.Stage)
	}
	switch ev.Data.(type) {
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
	case runstate.ProgressReport, runstate.ItemProgress:
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

// describe renders done/total, rate and ETA (the plain progress line).
func (sp *stageProgress) describe(now time.Time) string {
	el := now.Sub(sp.since).Seconds()
	if sp.items && sp.itemsTotal > 0 {
		s := fmt.Sprintf("%d/%d items (%.0f%%)", sp.itemsDone, sp.itemsTotal, 100*float64(sp.itemsDone)/float64(sp.itemsTotal))
		if eta, ok := sp.itemsETA(now); ok {
			s += fmt.Sprintf("  ETA %s", eta.Round(time.Second))
		}
		return s
	}
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
