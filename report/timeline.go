package report

import (
	"fmt"
	"time"

	"github.com/guardrun/guardrun/internal/runstate"
)

// Timeline geometry, in SVG user units (the SVG scales to the page width;
// at 1280 px it is drawn at about 1:1).
const (
	tlWidth  = 1140.0
	tlLabel  = 200.0 // stage name column
	tlPadR   = 28.0
	tlTop    = 30.0 // axis labels
	tlRowH   = 46.0
	tlBarY   = 20.0 // bar offset inside a row
	tlBarH   = 16.0
	tlBottom = 10.0
	tlTicks  = 8
	tlMinBar = 2.0 // a bar never thinner than this
)

type timelineView struct {
	Width, Height float64
	PlotX, PlotW  float64
	Span          string
	Ticks         []tlTick
	Rows          []tlRow
}

type tlTick struct {
	X     float64
	Label string
}

type tlRow struct {
	Y, BarY, MidY, TextY, SubY float64
	Name, Status, Class        string
	Segments                   []tlSegment
	Gaps                       []tlGap
	Marker                     *tlMarker
	Note                       string // shown in the plot when nothing is drawn
	NoteX                      float64
	// Build is the Go processor's build before the first attempt.
	Build *tlSegment
}

type tlSegment struct {
	X, W   float64
	Class  string
	Label  string // drawn inside the bar when it fits
	LabelX float64
	Title  string
	Open   bool // no end recorded
}

type tlGap struct {
	X1, X2, LabelX float64
	Label          string
	Title          string
}

type tlMarker struct {
	X, TextX float64
	Anchor   string
	Class    string
	Label    string
	Title    string
}

// bounds returns the time span the timeline covers: the run's start to its
// end, widened to anything recorded outside it.
func bounds(m *Model) (time.Time, time.Time) {
	t0, t1 := m.StartedAt, m.EndedAt
	see := func(t time.Time) {
		if t.IsZero() {
			return
		}
		if t0.IsZero() || t.Before(t0) {
			t0 = t
		}
		if t1.IsZero() || t.After(t1) {
			t1 = t
		}
	}
	for _, e := range m.Events {
		see(e.Time)
	}
	for _, s := range m.Stages {
		see(s.StartedAt)
		see(s.EndedAt)
		see(s.MarkerAt)
		if b := s.Build; b != nil {
			see(b.StartedAt.UTC())
			see(b.EndedAt.UTC())
		}
		for _, a := range s.Attempts {
			see(a.StartedAt)
			see(a.EndedAt)
		}
	}
	return t0, t1
}

func buildTimeline(m *Model) timelineView {
	t0, t1 := bounds(m)
	span := t1.Sub(t0)
	if span < time.Millisecond {
		span = time.Millisecond
	}
	v := timelineView{Width: tlWidth, PlotX: tlLabel, PlotW: tlWidth - tlLabel - tlPadR, Span: fmtDur(t1.Sub(t0))}
	x := func(t time.Time) float64 {
		f := float64(t.Sub(t0)) / float64(span)
		if f < 0 {
			f = 0
		}
		if f > 1 {
			f = 1
		}
		return round1(v.PlotX + f*v.PlotW)
	}
	step := tickStep(span, tlTicks)
	for d := time.Duration(0); d <= span; d += step {
		v.Ticks = append(v.Ticks, tlTick{X: x(t0.Add(d)), Label: fmtAxis(d, step)})
	}
	for i, s := range m.Stages {
		y := tlTop + float64(i)*tlRowH
		r := tlRow{Y: y, BarY: y + tlBarY, MidY: y + tlBarY + tlBarH/2, TextY: y + 21, SubY: y + 37,
			Name: s.Name, Status: s.Status, Class: statusClass(s.Status)}
		if b := s.Build; b != nil && !b.StartedAt.IsZero() && !b.EndedAt.IsZero() {
			r.Build = buildSegment(b, x)
		}
		var prevEnd time.Time
		for _, a := range s.Attempts {
			if a.StartedAt.IsZero() {
				continue
			}
			end, open := a.EndedAt, a.EndedAt.IsZero()
			if open {
				end = t1
			}
			sx, ex := x(a.StartedAt), x(end)
			w := ex - sx
			if w < tlMinBar {
				w = tlMinBar
			}
			seg := tlSegment{X: sx, W: round1(w), Class: statusClass(a.Outcome), Open: open, Title: attemptTitle(a, end)}
			if open {
				seg.Class = "open"
			}
			label := fmt.Sprintf("#%d", a.N)
			if a.Outcome != "" && a.Outcome != "succeeded" && a.ExitCode > 0 {
				label = fmt.Sprintf("#%d exit %d", a.N, a.ExitCode)
			}
			if w >= float64(len(label))*6.5+8 {
				seg.Label, seg.LabelX = label, round1(sx+w/2)
			}
			r.Segments = append(r.Segments, seg)
			if a.N > 1 && !prevEnd.IsZero() {
				gx1, gx2 := x(prevEnd), sx
				r.Gaps = append(r.Gaps, tlGap{X1: gx1, X2: gx2, LabelX: round1((gx1 + gx2) / 2),
					Label: "wait " + fmtMs(a.DelayMs),
					Title: fmt.Sprintf("retry delay before attempt %d: %s", a.N, fmtMs(a.DelayMs))})
			}
			prevEnd = end
		}
		if len(r.Segments) == 0 {
			switch {
			case r.Build != nil && s.MarkerAt.IsZero():
				// The build is what the stage did (a failed build: all it did).
			case !s.MarkerAt.IsZero():
				mx := x(s.MarkerAt)
				mk := &tlMarker{X: mx, TextX: mx + 9, Anchor: "start", Class: statusClass(s.Status)}
				switch s.Status {
				case "skipped":
					mk.Label = "skipped · up to date"
				case "blocked":
					mk.Label = "blocked"
					if s.Upstream != "" {
						mk.Label = "blocked by " + s.Upstream
					}
				default:
					mk.Label = s.Status
				}
				mk.Title = mk.Label + " at " + fmtTime(s.MarkerAt)
				if mx > v.PlotX+v.PlotW*0.7 {
					mk.TextX, mk.Anchor = mx-9, "end"
				}
				if r.Build != nil {
					clearOfBuild(mk, r.Build, v.PlotX, v.Width)
				}
				r.Marker = mk
			case !s.StartedAt.IsZero():
				r.Note, r.NoteX = "started, no attempt recorded", x(s.StartedAt)+4
			default:
				r.Note, r.NoteX = notDrawn(s.Status), v.PlotX+4
			}
		}
		v.Rows = append(v.Rows, r)
	}
	v.Height = tlTop + float64(len(m.Stages))*tlRowH + tlBottom
	return v
}

// clearOfBuild moves a marker's label off the build bar of its row: to
// the marker's other side, else before the bar; with no room anywhere the
// label is left out (the marker's title still says it).
func clearOfBuild(mk *tlMarker, b *tlSegment, minX, maxX float64) {
	w := float64(len([]rune(mk.Label))) * 6.5
	overlaps := func(x float64, anchor string) bool {
		lo, hi := x, x+w
		if anchor == "end" {
			lo, hi = x-w, x
		}
		return hi > b.X && lo < b.X+b.W
	}
	fits := func(x float64, anchor string) bool {
		if anchor == "end" {
			return x-w >= minX
		}
		return x+w <= maxX
	}
	if !overlaps(mk.TextX, mk.Anchor) {
		return
	}
	for _, c := range []struct {
		x      float64
		anchor string
	}{{mk.X + 9, "start"}, {mk.X - 9, "end"}, {b.X - 6, "end"}} {
		if fits(c.x, c.anchor) && !overlaps(c.x, c.anchor) {
			mk.TextX, mk.Anchor = c.x, c.anchor
			return
		}
	}
	mk.Label = ""
}

// buildSegment is the bar of a Go processor's build.
func buildSegment(b *runstate.ProcessorBuild, x func(time.Time) float64) *tlSegment {
	sx, ex := x(b.StartedAt.UTC()), x(b.EndedAt.UTC())
	w := max(ex-sx, tlMinBar)
	d := b.EndedAt.Sub(b.StartedAt)
	seg := &tlSegment{X: sx, W: round1(w), Class: "build", Title: "Go build of " + b.Package + ": " + fmtDur(d)}
	label := "build"
	if b.Failed {
		seg.Class = "build failed"
		seg.Title = "Go build of " + b.Package + " failed after " + fmtDur(d)
		label = "build failed"
	}
	if w >= float64(len(label))*6.5+8 {
		seg.Label, seg.LabelX = label, round1(sx+w/2)
	}
	return seg
}

func notDrawn(status string) string {
	switch status {
	case "pending":
		return "not started (the run ended first)"
	case "skipped":
		return "skipped · up to date (no time recorded)"
	case "blocked":
		return "blocked (no time recorded)"
	case "failed":
		return "failed before any attempt (no time recorded)"
	}
	return "no timing recorded"
}

func attemptTitle(a Attempt, end time.Time) string {
	s := fmt.Sprintf("attempt %d: %s", a.N, a.Outcome)
	if a.Outcome == "" {
		s = fmt.Sprintf("attempt %d: no end recorded", a.N)
	}
	if a.Outcome != "" && a.Outcome != "succeeded" {
		s += fmt.Sprintf(", exit code %d", a.ExitCode)
	}
	s += ", " + fmtDur(end.Sub(a.StartedAt))
	if a.Error != "" {
		s += " — " + a.Error
	}
	return s
}

func round1(f float64) float64 { return float64(int64(f*10+0.5)) / 10 }
