package report

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/guardrun/guardrun/internal/atomicfile"
	"github.com/guardrun/guardrun/internal/runstate"
)

func stageByName(t *testing.T, m *Model, name string) *Stage {
	t.Helper()
	for i := range m.Stages {
		if m.Stages[i].Name == name {
			return &m.Stages[i]
		}
	}
	t.Fatalf("stage %s not in the model", name)
	return nil
}

func render(t *testing.T, m *Model) string {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, Render(&b, m))
	return b.String()
}

func TestBuildFailedRunWithRetriesAndBlockedStage(t *testing.T) {
	fx := runFixture(t)
	m, err := Build(fx.StateDir, "r1")
	require.NoError(t, err)

	assert.Equal(t, "demo", m.Pipeline)
	assert.Equal(t, "r1", m.RunID)
	assert.Equal(t, runstate.RunFailed, m.Status)
	assert.False(t, m.EndedAt.IsZero())
	assert.True(t, m.EndedAt.After(m.StartedAt))
	status := map[string]string{}
	for _, s := range m.Stages {
		status[s.Name] = s.Status
	}
	assert.Equal(t, map[string]string{"stage_copy": "succeeded", "stage_flaky": "succeeded", "stage_upper": "succeeded",
		"stage_crash": "failed", "stage_bad": "failed", "stage_after": "blocked"}, status)

	// stage_flaky.json still belongs to r1: exact attempts from it.
	ss, err := runstate.Layout{StateDir: fx.StateDir}.ReadStage("stage_flaky")
	require.NoError(t, err)
	require.Equal(t, "r1", ss.RunID)
	fl := stageByName(t, m, "stage_flaky")
	assert.Equal(t, SourceStageState, fl.Source)
	require.Len(t, fl.Attempts, 3)
	for i, a := range fl.Attempts {
		assert.Equal(t, i+1, a.N)
		assert.False(t, a.Approx)
		assert.True(t, a.HasOffsets)
		assert.Equal(t, ss.Attempts[i].DelayMs, a.DelayMs)
		assert.True(t, a.StartedAt.Equal(ss.Attempts[i].StartedAt))
	}
	assert.Equal(t, []string{"transient", "transient", "succeeded"}, []string{fl.Attempts[0].Outcome, fl.Attempts[1].Outcome, fl.Attempts[2].Outcome})
	assert.Equal(t, 75, fl.Attempts[0].ExitCode)
	assert.Equal(t, []int64{0, 150, 300}, []int64{fl.Attempts[0].DelayMs, fl.Attempts[1].DelayMs, fl.Attempts[2].DelayMs})
	assert.Equal(t, []string{"no completion marker (never completed)"}, fl.Reasons)
	require.NotNil(t, fl.Metrics)
	assert.Equal(t, 2, fl.Metrics.Retries)
	assert.Equal(t, int64(2000), fl.Metrics.LinesOut)

	// r2 rewrote stage_crash.json: r1's attempts come from the audit log.
	ss, err = runstate.Layout{StateDir: fx.StateDir}.ReadStage("stage_crash")
	require.NoError(t, err)
	require.Equal(t, "r2", ss.RunID)
	cr := stageByName(t, m, "stage_crash")
	assert.Equal(t, SourceAudit, cr.Source)
	require.Len(t, cr.Attempts, 2)
	for _, a := range cr.Attempts {
		assert.True(t, a.Approx)
		assert.False(t, a.HasOffsets)
		assert.Equal(t, "transient", a.Outcome)
		assert.Equal(t, 75, a.ExitCode)
		assert.Equal(t, "exit code 75 (transient)", a.Error)
		assert.False(t, a.StartedAt.IsZero())
		assert.True(t, a.EndedAt.After(a.StartedAt), "attempt %d ends after it starts", a.N)
	}
	assert.Equal(t, int64(100), cr.Attempts[1].DelayMs)
	assert.False(t, cr.Attempts[1].StartedAt.Before(cr.Attempts[0].EndedAt.Add(100*time.Millisecond)))
	assert.Equal(t, "exit code 75 (transient)", cr.Error)
	assert.NotEmpty(t, cr.IdempotencyKey)

	bad := stageByName(t, m, "stage_bad")
	assert.Contains(t, bad.Error, evilProc)
	after := stageByName(t, m, "stage_after")
	assert.Equal(t, "stage_bad", after.Upstream)
	assert.False(t, after.MarkerAt.IsZero())
	assert.Equal(t, SourceAudit, after.Source)

	require.NotNil(t, m.Enforcement)
	assert.True(t, m.Enforcement.BestEffort)
	assert.Contains(t, m.Policy, KV{"policy", "pass"})
	require.NotNil(t, m.AuditHead)
	assert.True(t, m.HeadOK, m.HeadCheck)
	require.NotNil(t, m.Totals)
	assert.Equal(t, 3, m.Totals.Retries)
	assert.Empty(t, m.Notes)
	for _, e := range m.Events {
		assert.NotEmpty(t, e.Event)
	}
	assert.Equal(t, "run.end", m.Events[len(m.Events)-1].Event)
}

func TestBuildSkippedRerun(t *testing.T) {
	fx := runFixture(t)
	m, err := Build(fx.StateDir, "r2")
	require.NoError(t, err)
	for _, name := range []string{"stage_copy", "stage_flaky", "stage_upper"} {
		s := stageByName(t, m, name)
		assert.Equal(t, "skipped", s.Status, name)
		assert.False(t, s.MarkerAt.IsZero(), "%s has its skip time", name)
		assert.Empty(t, s.Attempts, "%s: stage_%s.json belongs to r1 and must not leak into r2", name, name)
		assert.Nil(t, s.Metrics, "%s: skipped stages are summed up in the metrics, not listed", name)
	}
	require.NotNil(t, m.Totals)
	assert.Equal(t, 3, m.Totals.StagesSkipped)
	cr := stageByName(t, m, "stage_crash")
	assert.Equal(t, SourceStageState, cr.Source)
	assert.Len(t, cr.Attempts, 2)

	// r3: nothing ran at all, so nothing was sandboxed.
	m, err = Build(fx.StateDir, "r3")
	require.NoError(t, err)
	assert.Equal(t, runstate.RunSucceeded, m.Status)
	assert.Nil(t, m.Enforcement)
	require.Len(t, m.Stages, 3)
	html := render(t, m)
	assert.Contains(t, html, "No stage ran in this run")
	assert.Equal(t, 3, strings.Count(html, ">skipped · up to date</text>"))
}

func TestMissingRunNamesTheAvailableOnes(t *testing.T) {
	fx := runFixture(t)
	for _, id := range []string{"nope", "../state/run_r1", ""} {
		_, err := Build(fx.StateDir, id)
		var nf *RunNotFoundError
		require.ErrorAs(t, err, &nf, id)
		assert.ErrorIs(t, err, ErrRunNotFound)
		assert.Contains(t, err.Error(), `run "`+id+`" not found`)
		assert.Contains(t, err.Error(), "available run ids: r1, r2, r3")
	}
	_, err := Build(t.TempDir(), "r1")
	assert.ErrorContains(t, err, `run "r1" not found`)
	assert.ErrorContains(t, err, "no runs recorded")
	assert.Error(t, Write(fx.StateDir, "nope", filepath.Join(t.TempDir(), "x.html")))
}

func TestRenderShowsTheRunAndEscapesEverything(t *testing.T) {
	fx := runFixture(t)
	m, err := Build(fx.StateDir, "r1")
	require.NoError(t, err)
	html := render(t, m)

	// The stage error holding markup is text, never markup.
	assert.Contains(t, html, "&lt;script&gt;alert(1)&lt;/script&gt;")
	assert.NotContains(t, html, "<script")
	// Self-contained: nothing loaded from anywhere.
	for _, s := range []string{"<link", " src=", "@import", "url(http", "href=\"http"} {
		assert.NotContains(t, html, s)
	}
	for _, s := range []string{
		"<h1>demo</h1>", `class="badge big bad" id="run-status">failed</span>`,
		"wait 150 ms", "wait 300 ms", "wait 100 ms", // retry delays labelled in the timeline
		"blocked by stage_bad", "no completion marker (never completed)", "upstream stage stage_bad did not succeed",
		"exit code 75 (transient)", "Network", "cgroup v1", "best effort", "matches",
		m.AuditHead.Hash, "pass (0 go processors)", "stage.retry",
		"≈ stage_stage_crash.json belongs to another run",
	} {
		assert.Contains(t, html, s)
	}
	for _, s := range m.Stages {
		assert.Contains(t, html, `id="stage-`+s.Name+`"`)
	}
	// One bar per attempt that ran: 1 + 3 + 1 + 2.
	assert.Equal(t, 7, strings.Count(html, `<rect class="bar `))
}

func TestValuesFromStateFilesAreEscaped(t *testing.T) {
	evil := `<img src=x onerror=alert(1)>&"'`
	m := &Model{RunID: evil, Pipeline: evil, Status: evil, Error: evil, Forced: []string{evil}, Notes: []string{evil},
		StartedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		Policy:    []KV{{evil, evil}},
		Stages: []Stage{{Name: evil, Status: "failed", Reasons: []string{evil}, Error: evil, Processor: evil,
			Attempts: []Attempt{{N: 1, Outcome: evil, Error: evil, Notes: []string{evil},
				StartedAt: time.Date(2026, 1, 1, 0, 0, 1, 0, time.UTC), EndedAt: time.Date(2026, 1, 1, 0, 0, 2, 0, time.UTC)}}}},
		Events: []Event{{Seq: 1, Event: evil, Stage: evil, Details: []KV{{evil, evil}}}},
	}
	html := render(t, m)
	assert.NotContains(t, html, "<img")
	assert.Contains(t, html, "&lt;img src=x onerror=alert(1)&gt;&amp;&#34;&#39;")
}

func TestBuildCopesWithMissingAndForeignFiles(t *testing.T) {
	t.Run("no metrics, no audit log", func(t *testing.T) {
		dir := copyState(t)
		require.NoError(t, os.Remove(filepath.Join(dir, "metrics_r1.json")))
		require.NoError(t, os.Remove(filepath.Join(dir, "audit.jsonl")))
		m, err := Build(dir, "r1")
		require.NoError(t, err)
		require.Len(t, m.Notes, 2)
		assert.Contains(t, m.Notes[0], "metrics_r1.json is missing")
		assert.Contains(t, m.Notes[1], "audit.jsonl is missing")
		assert.Nil(t, m.Totals)
		assert.Empty(t, m.Events)
		// Exact attempts still come from the stage state; crash's do not.
		assert.Len(t, stageByName(t, m, "stage_flaky").Attempts, 3)
		assert.Empty(t, stageByName(t, m, "stage_crash").Attempts)
		assert.Equal(t, SourceRunState, stageByName(t, m, "stage_crash").Source)
		assert.False(t, m.HeadOK)
		html := render(t, m)
		assert.Contains(t, html, "metrics_r1.json is missing")
		assert.Contains(t, html, "audit.jsonl holds no record of this run")
	})
	t.Run("audit head no longer in the log", func(t *testing.T) {
		dir := copyState(t)
		rs, err := runstate.Layout{StateDir: dir}.ReadRun("r1")
		require.NoError(t, err)
		rs.Audit.Hash = strings.Repeat("ab", 32)
		require.NoError(t, atomicfile.WriteJSON(filepath.Join(dir, "run_r1.json"), rs))
		m, err := Build(dir, "r1")
		require.NoError(t, err)
		assert.False(t, m.HeadOK)
		assert.Contains(t, m.HeadCheck, "different hash")
		assert.Contains(t, render(t, m), "mismatch")
	})
	t.Run("torn audit line of the run", func(t *testing.T) {
		dir := copyState(t)
		f, err := os.OpenFile(filepath.Join(dir, "audit.jsonl"), os.O_APPEND|os.O_WRONLY, 0)
		require.NoError(t, err)
		_, err = f.WriteString(`{"seq":99,"time":"2026-11-22T09:00:00Z","runId":"r1","event":"stage.st`)
		require.NoError(t, err)
		require.NoError(t, f.Close())
		m, err := Build(dir, "r1")
		require.NoError(t, err)
		require.Len(t, m.Notes, 1)
		assert.Contains(t, m.Notes[0], "1 line(s) of this run do not parse")
	})
	t.Run("run without an end", func(t *testing.T) {
		dir := copyState(t)
		rs, err := runstate.Layout{StateDir: dir}.ReadRun("r1")
		require.NoError(t, err)
		rs.Status, rs.EndedAt, rs.Audit = runstate.RunRunning, nil, nil
		require.NoError(t, atomicfile.WriteJSON(filepath.Join(dir, "run_r1.json"), rs))
		m, err := Build(dir, "r1")
		require.NoError(t, err)
		assert.True(t, m.EndedAt.IsZero())
		html := render(t, m)
		assert.Contains(t, html, "no end recorded")
		assert.Contains(t, html, "the run stored no audit head")
	})
	t.Run("unparsable run state", func(t *testing.T) {
		dir := copyState(t)
		require.NoError(t, os.WriteFile(filepath.Join(dir, "run_r1.json"), []byte("{"), 0o644))
		_, err := Build(dir, "r1")
		assert.ErrorContains(t, err, "reading run r1")
	})
}

func TestWriteIsAtomicAndDefaultsIntoStateDir(t *testing.T) {
	dir := copyState(t)
	require.NoError(t, Write(dir, "r1", ""))
	b, err := os.ReadFile(filepath.Join(dir, "report_r1.html"))
	require.NoError(t, err)
	assert.True(t, bytes.HasPrefix(b, []byte("<!DOCTYPE html>")))
	assert.True(t, bytes.HasSuffix(bytes.TrimSpace(b), []byte("</html>")))
	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range ents {
		assert.False(t, strings.HasSuffix(e.Name(), atomicfile.TempSuffix), "leftover %s", e.Name())
	}
	assert.Error(t, Write(dir, "r1", filepath.Join(dir, "no", "such", "dir", "r.html")))
}

func TestTimelineGeometry(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	m := &Model{StartedAt: t0, EndedAt: at(1000), Stages: []Stage{
		{Name: "a", Status: "succeeded", Attempts: []Attempt{
			{N: 1, StartedAt: at(0), EndedAt: at(250), Outcome: "transient", ExitCode: 75},
			{N: 2, StartedAt: at(500), EndedAt: at(1000), Outcome: "succeeded", DelayMs: 250},
		}},
		{Name: "b", Status: "skipped", MarkerAt: at(100)},
		{Name: "c", Status: "pending"},
		{Name: "d", Status: "running", Attempts: []Attempt{{N: 1, StartedAt: at(900)}}},
	}}
	v := buildTimeline(m)
	px := func(ms float64) float64 { return round1(v.PlotX + ms/1000*v.PlotW) }
	require.Len(t, v.Rows, 4)
	a := v.Rows[0]
	require.Len(t, a.Segments, 2)
	assert.Equal(t, px(0), a.Segments[0].X)
	assert.InDelta(t, px(250)-px(0), a.Segments[0].W, 0.11)
	assert.Equal(t, "warn", a.Segments[0].Class)
	assert.Equal(t, "#1 exit 75", a.Segments[0].Label)
	assert.Equal(t, "ok", a.Segments[1].Class)
	require.Len(t, a.Gaps, 1)
	assert.Equal(t, px(250), a.Gaps[0].X1)
	assert.Equal(t, px(500), a.Gaps[0].X2)
	assert.Equal(t, "wait 250 ms", a.Gaps[0].Label)
	require.NotNil(t, v.Rows[1].Marker)
	assert.Equal(t, px(100), v.Rows[1].Marker.X)
	assert.Equal(t, "skipped · up to date", v.Rows[1].Marker.Label)
	assert.Equal(t, "not started (the run ended first)", v.Rows[2].Note)
	d := v.Rows[3].Segments[0]
	assert.True(t, d.Open)
	assert.Equal(t, px(1000), round1(d.X+d.W), "an attempt without an end runs to the end of the timeline")
	var labels []string
	for _, tk := range v.Ticks {
		labels = append(labels, tk.Label)
	}
	assert.Equal(t, []string{"0", "200 ms", "400 ms", "600 ms", "800 ms", "1 s"}, labels)
}

func TestFormatting(t *testing.T) {
	for _, c := range []struct {
		n    int64
		want string
	}{{0, "0 B"}, {1023, "1023 B"}, {1024, "1.0 KiB"}, {1536, "1.5 KiB"}, {12 << 20, "12.0 MiB"}, {300 << 30, "300 GiB"}} {
		assert.Equal(t, c.want, fmtBytes(c.n), "%d bytes", c.n)
	}
	for _, c := range []struct {
		d    time.Duration
		want string
	}{
		{400 * time.Microsecond, "0.4 ms"}, {125 * time.Millisecond, "125 ms"}, {1250 * time.Millisecond, "1.25 s"},
		{42 * time.Second, "42.0 s"}, {125 * time.Second, "2 min 05 s"}, {62 * time.Minute, "1 h 02 min"},
	} {
		assert.Equal(t, c.want, fmtDur(c.d))
	}
	assert.Equal(t, "1,234,567", fmtCount(1234567))
	assert.Equal(t, "999", fmtCount(999))
	for _, c := range []struct {
		span, step time.Duration
	}{{time.Millisecond, 200 * time.Microsecond}, {809 * time.Millisecond, 200 * time.Millisecond},
		{10 * time.Second, 2 * time.Second}, {90 * time.Minute, 15 * time.Minute}} {
		assert.Equal(t, c.step, tickStep(c.span, 8), "span %s", c.span)
	}
}

// The model is plain data: it serialises (for a future --json).
func TestModelIsPlainData(t *testing.T) {
	fx := runFixture(t)
	m, err := Build(fx.StateDir, "r1")
	require.NoError(t, err)
	_, err = json.Marshal(m)
	require.NoError(t, err)
}
