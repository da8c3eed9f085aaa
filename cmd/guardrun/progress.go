package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/guardrun/guardrun/internal/tty"
)

// The live block: on a terminal, one line per running stage under the
// permanent lines, redrawn at most every drawEvery (events and a ticker),
// the cursor left at the end of its last line. Erasing it is "\r\x1b[K"
// (and, for more lines, going up and erasing to the end of the screen); it
// is erased before every permanent line, when the run ends, on the first
// Ctrl-C (and no longer drawn after it) and before a second Ctrl-C aborts.
//
//	[2/4] upper_each  [=========>          ]  12/40 items   30%  elapsed 4s  ETA 9s
//	[1/4] stage_copy  [=====>              ]   27%  1.2 MiB / 4.5 MiB  3.1 MiB/s  elapsed 2s  ETA 4s
//	[3/4] count       running, elapsed 12s
//
// (the rate, the sizes, elapsed and the bar are left out, in that order,
// when the terminal is too narrow).

const (
	barWidth  = 20
	tickEvery = 250 * time.Millisecond // redraw without events: elapsed times move
	maxLive   = 8                      // running stages shown; the rest as "... and N more running"
)

// livePrinter is the printer drawing a live block, if any: the interrupt
// handler erases it through notice and clearLive.
var livePrinter atomic.Pointer[printer]

// notice prints msg as a line of its own on w, erasing the live block
// first and drawing no more of it (the first Ctrl-C).
func notice(w io.Writer, msg string) {
	if p := livePrinter.Load(); p != nil {
		p.mu.Lock()
		p.clear()
		p.frozen = true
		p.mu.Unlock()
	}
	fmt.Fprintln(w, msg)
}

// clearLive erases the live block for good before guardrun aborts (a
// second Ctrl-C). It does not wait long for a printer busy writing (a
// terminal paused with ^S): aborting comes first.
func clearLive() {
	p := livePrinter.Load()
	if p == nil {
		return
	}
	for deadline := time.Now().Add(100 * time.Millisecond); ; time.Sleep(5 * time.Millisecond) {
		if p.mu.TryLock() {
			p.clear()
			p.frozen = true
			p.mu.Unlock()
			return
		}
		if time.Now().After(deadline) {
			return
		}
	}
}

// track returns the progress of a running stage, starting it.
func (p *printer) track(stage string) *stageProgress {
	sp := p.running[stage]
	if sp == nil {
		now := p.now()
		sp = &stageProgress{n: p.ordinal(stage), started: now, since: now, lastPlain: now}
		p.running[stage] = sp
		p.order = append(p.order, stage)
	}
	return sp
}

// ordinal is the stage's n in "stage n of m": stages are numbered as they
// start, skip or are blocked.
func (p *printer) ordinal(stage string) int {
	if p.ordinals == nil {
		p.ordinals = map[string]int{}
	}
	n, ok := p.ordinals[stage]
	if !ok {
		n = len(p.ordinals) + 1
		p.ordinals[stage] = n
	}
	return n
}

// startTicker redraws the live block every tickEvery until close.
func (p *printer) startTicker() {
	p.stopTick, p.tickDone = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(p.tickDone)
		t := time.NewTicker(tickEvery)
		defer t.Stop()
		for {
			select {
			case <-p.stopTick:
				return
			case <-t.C:
				p.mu.Lock()
				if len(p.order) > 0 {
					p.draw(false)
				}
				p.mu.Unlock()
			}
		}
	}()
}

// close erases the live block and stops drawing it. Idempotent.
func (p *printer) close() {
	p.mu.Lock()
	p.clear()
	p.frozen = true
	stop := p.stopTick
	p.stopTick = nil
	p.mu.Unlock()
	if stop != nil {
		close(stop)
		<-p.tickDone
	}
	livePrinter.CompareAndSwap(p, nil)
}

// clear erases the live block; the cursor ends at the start of the line
// its first line was on.
func (p *printer) clear() {
	if !p.live || p.drawn == 0 {
		return
	}
	if p.drawn == 1 {
		io.WriteString(p.w, "\r\x1b[K")
	} else {
		fmt.Fprintf(p.w, "\r\x1b[K\x1b[%dA\x1b[J", p.drawn-1)
	}
	p.drawn = 0
}

// draw redraws the live block (throttled unless force), in one write.
func (p *printer) draw(force bool) {
	if !p.live || p.frozen {
		return
	}
	now := p.now()
	if !force && now.Sub(p.lastDraw) < drawEvery {
		return
	}
	p.lastDraw = now
	b := &p.buf
	b.Reset()
	if p.drawn == 1 {
		b.WriteString("\r\x1b[K")
	} else if p.drawn > 1 {
		fmt.Fprintf(b, "\r\x1b[K\x1b[%dA\x1b[J", p.drawn-1)
	}
	p.drawn = 0
	width := 0
	if p.width != nil {
		width = p.width()
	}
	if width <= 0 {
		width = 80
	}
	nameWidth := 0
	for _, name := range p.order {
		nameWidth = max(nameWidth, min(len(name), 20))
	}
	for i, name := range p.order {
		if i == maxLive {
			b.WriteByte('\n')
			b.WriteString(fit(fmt.Sprintf("... and %d more running", len(p.order)-maxLive), width))
			p.drawn++
			break
		}
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(p.liveLine(name, p.running[name], now, nameWidth, width))
		p.drawn++
	}
	if b.Len() > 0 {
		_, _ = p.w.Write(b.Bytes())
	}
}

// fit cuts s to width-1 columns (a full last column would wrap on some
// terminals and break the erasing).
func fit(s string, width int) string {
	if n := width - 1; n > 0 && len(s) > n {
		return s[:n]
	}
	return s
}

// liveLine is one running stage: stage n of m, then a bar and items or
// bytes when the stage reports them, else how long it has been running.
// What does not fit in width columns goes, least useful first: the rate,
// the sizes, elapsed, the bar.
func (p *printer) liveLine(name string, sp *stageProgress, now time.Time, nameWidth, width int) string {
	var segs []segment
	add := func(prio int, format string, args ...any) {
		segs = append(segs, segment{text: fmt.Sprintf(format, args...), prio: prio})
	}
	if p.stages > 0 {
		add(100, "[%d/%d] %-*s", sp.n, p.stages, nameWidth, name)
	} else {
		add(100, "[%d] %-*s", sp.n, nameWidth, name)
	}
	elapsed := now.Sub(sp.started)
	switch {
	case sp.items && sp.itemsTotal > 0:
		frac := float64(sp.itemsDone) / float64(sp.itemsTotal)
		add(50, "%s", bar(frac))
		add(95, "%d/%d items", sp.itemsDone, sp.itemsTotal)
		add(90, "%3.0f%%", 100*frac)
		add(60, "elapsed %s", shortDur(elapsed))
		if eta, ok := sp.itemsETA(now); ok {
			add(80, "ETA %s", shortDur(eta))
		}
	case sp.total > 0:
		frac := float64(sp.bytes) / float64(sp.total)
		add(50, "%s", bar(frac))
		add(90, "%3.0f%%", 100*frac)
		add(40, "%s / %s", humanBytes(sp.bytes), humanBytes(sp.total))
		rate, ok := sp.rate(now)
		if ok {
			add(30, "%s/s", humanBytes(int64(rate)))
		}
		add(60, "elapsed %s", shortDur(elapsed))
		if ok && sp.total > sp.bytes {
			add(80, "ETA %s", shortDur(time.Duration(float64(sp.total-sp.bytes)/rate*float64(time.Second))))
		}
	case sp.bytes > 0 || sp.lines > 0:
		add(70, "%s lines, %s", humanCount(sp.lines), humanBytes(sp.bytes))
		if rate, ok := sp.rate(now); ok {
			add(30, "%s/s", humanBytes(int64(rate)))
		}
		add(80, "elapsed %s", shortDur(elapsed))
	default:
		add(90, "running, elapsed %s", shortDur(elapsed))
	}
	return joinFit(segs, width-1)
}

// segment is a part of a live line; the lowest prio goes first when the
// line is too wide.
type segment struct {
	text string
	prio int
}

// joinFit joins the segments with two spaces, leaving out the least
// important ones until the line fits in max columns, then cutting it.
func joinFit(segs []segment, max int) string {
	keep := make([]bool, len(segs))
	n := -2
	for i, sg := range segs {
		keep[i] = true
		n += len(sg.text) + 2
	}
	for n > max {
		low := -1
		for i, sg := range segs {
			if keep[i] && i > 0 && (low < 0 || sg.prio < segs[low].prio) {
				low = i
			}
		}
		if low < 0 {
			break
		}
		keep[low] = false
		n -= len(segs[low].text) + 2
	}
	var b strings.Builder
	for i, sg := range segs {
		if !keep[i] {
			continue
		}
		if b.Len() > 0 {
			b.WriteString("  ")
		}
		b.WriteString(sg.text)
	}
	return fit(b.String(), max+1)
}

// rate is this attempt's bytes per second: from the offset it started at
// (a resume's checkpoint), over the time since it started.
func (sp *stageProgress) rate(now time.Time) (float64, bool) {
	el := now.Sub(sp.since).Seconds()
	if el <= 0.2 || sp.bytes <= sp.startBytes {
		return 0, false
	}
	return float64(sp.bytes-sp.startBytes) / el, true
}

// itemsETA is the time the remaining items take at the pace of the items
// that ran so far (skipped items took no time and do not count).
func (sp *stageProgress) itemsETA(now time.Time) (time.Duration, bool) {
	ran := sp.itemsDone - sp.itemsSkip
	el := now.Sub(sp.started)
	left := sp.itemsTotal - sp.itemsDone
	if ran <= 0 || el <= 200*time.Millisecond || left <= 0 {
		return 0, false
	}
	return time.Duration(float64(el) / float64(ran) * float64(left)), true
}

// bar is [=====>     ] for frac in [0, 1].
func bar(frac float64) string {
	frac = min(max(frac, 0), 1)
	full := int(frac * barWidth)
	var b [barWidth + 2]byte
	b[0], b[barWidth+1] = '[', ']'
	for i := 0; i < barWidth; i++ {
		switch {
		case i < full:
			b[i+1] = '='
		case i == full:
			b[i+1] = '>'
		default:
			b[i+1] = ' '
		}
	}
	return string(b[:])
}

// shortDur is 9s, 4m05s, 2h03m.
func shortDur(d time.Duration) string {
	s := int64(d.Round(time.Second) / time.Second)
	switch {
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 3600:
		return fmt.Sprintf("%dm%02ds", s/60, s%60)
	}
	return fmt.Sprintf("%dh%02dm", s/3600, s/60%60)
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && tty.IsTerminal(f)
}
