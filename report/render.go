package report

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/guardrun/guardrun/internal/atomicfile"
	"github.com/guardrun/guardrun/internal/runstate"
)

//go:embed report.html.tmpl
var pageSource string

// page is the parsed template. It is parsed on first use, not at start-up:
// every guardrun command links this package, few render a report.
var page = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("report").Funcs(template.FuncMap{
		"time":    fmtTime,
		"dur":     fmtDur,
		"seconds": fmtSeconds,
		"ms":      fmtMs,
		"bytes":   fmtBytes,
		"count":   fmtCount,
		"class":   statusClass,
		"short":   shortName,
		"add":     func(a, b float64) float64 { return a + b },
		"sub":     func(a, b float64) float64 { return a - b },
		"mod2":    func(i int) int { return i % 2 },
		"cpu": func(p *float64) string {
			if p == nil {
				return "not reported"
			}
			return fmtSeconds(*p)
		},
		"mem": func(p *int64) string {
			if p == nil {
				return "not reported"
			}
			return fmtBytes(*p)
		},
	}).Parse(pageSource))
})

// view is the Model plus what the template derives from it.
type view struct {
	*Model
	Duration  string
	Timeline  timelineView
	Summary   []summaryItem
	Stages    []stageView
	Generated string
}

type summaryItem struct {
	Label, Value, Class string
}

type stageView struct {
	*Stage
	Class       string
	Duration    string
	ReasonTitle string
	Reasons     []string
	Attempts    []attemptView
	Approx      bool
	Offsets     bool
	Forced      bool
	// ShowError: the error box (a blocked stage's error is its reason).
	ShowError bool
	// ShowMetrics: the stage ran, or was skipped with recorded volumes.
	ShowMetrics bool
}

type attemptView struct {
	Attempt
	Class    string
	At       string // offset from the run start
	Duration string
	Delay    string
	// Tail: the attempt's last output lines, unless the stage shows the
	// same lines above the table.
	Tail []string
}

func newView(m *Model) *view {
	v := &view{Model: m, Timeline: buildTimeline(m), Generated: fmtTime(m.GeneratedAt)}
	t0, t1 := bounds(m)
	switch {
	case !m.EndedAt.IsZero():
		v.Duration = fmtDur(m.EndedAt.Sub(m.StartedAt))
	case !t1.IsZero():
		v.Duration = "at least " + fmtDur(t1.Sub(m.StartedAt)) + " (no end recorded)"
	default:
		v.Duration = "—"
	}
	counts := map[string]int{}
	for i := range m.Stages {
		s := &m.Stages[i]
		counts[s.Status]++
		v.Stages = append(v.Stages, newStageView(m, s, t0))
	}
	v.Summary = append(v.Summary, summaryItem{"Stages", fmt.Sprint(len(m.Stages)), ""})
	for _, st := range []string{"succeeded", "skipped", "failed", "blocked", "interrupted", "pending", "running"} {
		if counts[st] > 0 || st == "succeeded" || st == "failed" {
			v.Summary = append(v.Summary, summaryItem{st, fmt.Sprint(counts[st]), statusClass(st)})
		}
	}
	if t := m.Totals; t != nil {
		v.Summary = append(v.Summary,
			summaryItem{"Attempts", fmt.Sprint(t.Attempts), ""},
			summaryItem{"Retries", fmt.Sprint(t.Retries), ""},
			summaryItem{"CPU", cpuTotal(t.CPUSeconds), ""},
			summaryItem{"Peak memory", memTotal(t.PeakMemoryBytes), ""},
			// This run's volumes: a skipped stage read and wrote nothing.
			summaryItem{"Read", fmtBytes(m.BytesRead), ""},
			summaryItem{"Written", fmtBytes(m.BytesWritten), ""})
	}
	if m.BuildSeconds > 0 {
		v.Summary = append(v.Summary, summaryItem{"Go build", fmtSeconds(m.BuildSeconds), ""})
	}
	return v
}

// Since is t as an offset from the run start, for the event table.
func (v *view) Since(t time.Time) string {
	if t.IsZero() || v.StartedAt.IsZero() {
		return "—"
	}
	d := t.Sub(v.StartedAt)
	if d < 0 {
		return fmtDur(d)
	}
	return "+" + fmtDur(d)
}

func cpuTotal(p *float64) string {
	if p == nil {
		return "—"
	}
	return fmtSeconds(*p)
}

func memTotal(p *int64) string {
	if p == nil {
		return "—"
	}
	return fmtBytes(*p)
}

func newStageView(m *Model, s *Stage, t0 time.Time) stageView {
	sv := stageView{Stage: s, Class: statusClass(s.Status), Reasons: s.Reasons, Forced: slices.Contains(m.Forced, s.Name)}
	switch s.Status {
	case "skipped":
		sv.ReasonTitle = "Why it was skipped"
		if len(sv.Reasons) == 0 {
			sv.Reasons = []string{"up to date: the completion marker matches the idempotency key and every recorded output is unchanged"}
		}
	case "blocked":
		sv.ReasonTitle = "Why it did not run"
		switch {
		case len(sv.Reasons) > 0:
		case s.Upstream != "":
			sv.Reasons = []string{"upstream stage " + s.Upstream + " did not succeed"}
		case s.Error != "":
			sv.Reasons = []string{s.Error}
		}
	case "pending":
		sv.ReasonTitle = "Why it did not run"
		if len(sv.Reasons) == 0 {
			sv.Reasons = []string{"the run ended before the stage could start"}
		}
	default:
		sv.ReasonTitle = "Why it ran"
		if sv.Forced {
			sv.Reasons = append([]string{"forced with --force"}, sv.Reasons...)
		}
	}
	sv.ShowError = s.Error != "" && s.Status != "blocked"
	sv.ShowMetrics = s.Metrics != nil && (s.AttemptCount > 0 || len(s.Attempts) > 0 || s.Metrics.Skipped || s.Metrics.BytesIn > 0)
	switch {
	case s.Metrics != nil && !s.Metrics.Skipped && s.Metrics.WallSeconds > 0:
		sv.Duration = fmtSeconds(s.Metrics.WallSeconds)
	case !s.StartedAt.IsZero() && !s.EndedAt.IsZero():
		sv.Duration = fmtDur(s.EndedAt.Sub(s.StartedAt))
	}
	for _, a := range s.Attempts {
		av := attemptView{Attempt: a, Class: statusClass(a.Outcome), At: "—", Duration: "—", Delay: "—"}
		if !slices.Equal(a.OutputTail, s.OutputTail) {
			av.Tail = a.OutputTail
		}
		if a.Outcome == "" {
			av.Outcome, av.Class = "no end recorded", "open"
		}
		if !a.StartedAt.IsZero() {
			av.At = "+" + fmtDur(a.StartedAt.Sub(t0))
		}
		if !a.StartedAt.IsZero() && !a.EndedAt.IsZero() {
			av.Duration = fmtDur(a.EndedAt.Sub(a.StartedAt))
		}
		if a.N > 1 {
			av.Delay = fmtMs(a.DelayMs)
		}
		if a.Approx {
			sv.Approx = true
			if av.At != "—" {
				av.At = "≈ " + av.At
			}
			if av.Duration != "—" {
				av.Duration = "≈ " + av.Duration
			}
		}
		if a.HasOffsets {
			sv.Offsets = true
		}
		sv.Attempts = append(sv.Attempts, av)
	}
	return sv
}

// shortName fits a stage name into the timeline's label column.
func shortName(s string) string {
	const max = 24
	r := []rune(s)
	if len(r) <= max {
		return s
	}
	return string(r[:max-1]) + "…"
}

// Render writes m as one self-contained HTML page. Every value from the
// state files is escaped by html/template.
func Render(w io.Writer, m *Model) error {
	if err := page().Execute(w, newView(m)); err != nil {
		return fmt.Errorf("rendering report of run %s: %w", m.RunID, err)
	}
	return nil
}

// DefaultPath is where `guardrun report` writes by default:
// stateDir/report_<id>.html.
func DefaultPath(stateDir, runID string) string {
	return runstate.Layout{StateDir: stateDir}.ReportFile(runID)
}

// Write builds and renders run runID of stateDir into outPath (when empty,
// DefaultPath), atomically: a reader never sees half a page.
func Write(stateDir, runID, outPath string) error {
	m, err := Build(stateDir, runID)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := Render(&buf, m); err != nil {
		return err
	}
	if outPath == "" {
		outPath = DefaultPath(stateDir, runID)
	}
	if err := atomicfile.WriteFile(outPath, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("writing report: %w", err)
	}
	return nil
}
