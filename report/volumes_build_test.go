package report

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/guardrun/guardrun/internal/atomicfile"
	"github.com/guardrun/guardrun/internal/runstate"
)

// summaryValue is the value of the header's summary item label, as the
// page shows it.
func summaryValue(t *testing.T, html, label string) string {
	t.Helper()
	m := regexp.MustCompile(`<div class="stat[^"]*"><b>([^<]*)</b><span>` + regexp.QuoteMeta(label) + `</span></div>`).FindStringSubmatch(html)
	require.NotNil(t, m, "no summary item %q", label)
	return m[1]
}

// TestReadAndWrittenAreThisRunsVolumes: the header's "Read" and "Written"
// count only the stages that ran. A skipped stage's outputs were recorded
// with the volumes of the run that produced them (metrics totals include
// them), but a no-op run read nothing and must say 0 B.
func TestReadAndWrittenAreThisRunsVolumes(t *testing.T) {
	fx := runFixture(t)
	for _, tc := range []struct {
		run                  string
		read, written        string
		totalsIncludeSkipped bool
	}{
		// r1: copy, flaky and upper ran over 2000 lines; crash failed.
		{run: "r1"},
		// r2: copy, flaky, upper skipped; crash read its input and failed.
		{run: "r2", totalsIncludeSkipped: true},
		// r3: every stage skipped, nothing ran.
		{run: "r3", read: "0 B", written: "0 B", totalsIncludeSkipped: true},
	} {
		t.Run(tc.run, func(t *testing.T) {
			m, err := Build(fx.StateDir, tc.run)
			require.NoError(t, err)
			require.NotNil(t, m.Totals)
			met, err := runstate.Layout{StateDir: fx.StateDir}.ReadMetrics(tc.run)
			require.NoError(t, err)
			var in, out int64
			for _, s := range met.Stages {
				if !s.Skipped {
					in, out = in+s.BytesIn, out+s.BytesOut
				}
			}
			assert.Equal(t, in, m.BytesRead)
			assert.Equal(t, out, m.BytesWritten)
			if tc.totalsIncludeSkipped {
				require.NotNil(t, met.Skipped)
				assert.Positive(t, met.Skipped.BytesIn, "the skipped stages carry recorded volumes")
				assert.Greater(t, m.Totals.BytesIn, m.BytesRead, "the page must not show those as read")
			}
			html := render(t, m)
			if tc.read != "" {
				assert.Equal(t, tc.read, summaryValue(t, html, "Read"))
				assert.Equal(t, tc.written, summaryValue(t, html, "Written"))
			} else {
				assert.Equal(t, fmtBytes(m.BytesRead), summaryValue(t, html, "Read"))
				assert.NotEqual(t, "0 B", summaryValue(t, html, "Read"))
			}
		})
	}
}

// TestGoBuildIsItsOwnPhase: a stage with a build in run_<id>.json's
// "builds" (runner: the stage that built its Go processor) gets a bar of its own
// before the attempts, a line in the stage card and a "Go build" total;
// a failed build is drawn red and said so; a run without builds shows
// none of it.
func TestGoBuildIsItsOwnPhase(t *testing.T) {
	for _, tc := range []struct {
		name        string
		stage       string
		failed      bool
		class, text string
	}{
		{name: "built", stage: "stage_copy", class: `class="bar build"`, text: "built in"},
		{name: "failed", stage: "stage_bad", failed: true, class: `class="bar build failed"`, text: "failed to build after"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyState(t)
			layout := runstate.Layout{StateDir: dir}
			rs, err := layout.ReadRun("r1")
			require.NoError(t, err)
			start := rs.StartedAt.UTC().Add(-2 * time.Second) // before the run record's start: the timeline widens
			rs.Builds = []runstate.ProcessorBuild{{Stage: tc.stage, Package: "processors/copy", StartedAt: start,
				EndedAt: start.Add(1500 * time.Millisecond), Seconds: 1.5, Failed: tc.failed}}
			require.NoError(t, atomicfile.WriteJSON(filepath.Join(dir, "run_r1.json"), rs))

			m, err := Build(dir, "r1")
			require.NoError(t, err)
			s := stageByName(t, m, tc.stage)
			require.NotNil(t, s.Build)
			assert.Equal(t, 1.5, s.Build.Seconds)
			assert.Equal(t, 1.5, m.BuildSeconds)

			v := buildTimeline(m)
			var row *tlRow
			for i := range v.Rows {
				if v.Rows[i].Name == tc.stage {
					row = &v.Rows[i]
				}
			}
			require.NotNil(t, row)
			require.NotNil(t, row.Build)
			assert.Equal(t, v.PlotX, row.Build.X, "the build starts the timeline")
			for _, seg := range row.Segments {
				assert.GreaterOrEqual(t, seg.X, round1(row.Build.X+row.Build.W)-0.1, "attempts come after the build")
			}

			html := render(t, m)
			assert.Equal(t, 1, strings.Count(html, tc.class))
			assert.Equal(t, "1.50 s", summaryValue(t, html, "Go build"))
			assert.Contains(t, html, "Go build 1.50 s · ")
			assert.Contains(t, html, tc.text+" 1.50 s")
			assert.Contains(t, html, "Go build of processors/copy")
			// The other attempts are still drawn as they were.
			assert.Equal(t, 7, strings.Count(html, `<rect class="bar `)-1)
		})
	}
	t.Run("no build", func(t *testing.T) {
		m, err := Build(runFixture(t).StateDir, "r1")
		require.NoError(t, err)
		html := render(t, m)
		assert.Zero(t, m.BuildSeconds)
		assert.NotContains(t, html, `class="bar build`)
		assert.NotContains(t, html, "<span>Go build</span>")
	})
}

// TestBuildBarAndSkipMarkerDoNotOverlap: a stage skipped after its
// processor was rebuilt has both a build bar and a skip marker; the
// marker's label goes where it does not cover the bar.
func TestBuildBarAndSkipMarkerDoNotOverlap(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	build := func(from, to int) *runstate.ProcessorBuild {
		return &runstate.ProcessorBuild{Stage: "s", Package: "processors/x", StartedAt: at(from), EndedAt: at(to), Seconds: float64(to-from) / 1000}
	}
	for _, tc := range []struct {
		name           string
		build          *runstate.ProcessorBuild
		marker         int
		anchor         string
		labelLeftOfBar bool
		noLabel        bool
	}{
		// A late marker's text is left of it, where the bar is: it moves before the bar.
		{name: "late marker after a long build", build: build(400, 990), marker: 1000, anchor: "end", labelLeftOfBar: true},
		// The bar spans the plot: no room for the text anywhere.
		{name: "early marker, bar covering the plot", build: build(0, 1000), marker: 10, noLabel: true},
		// Nothing in the way: unchanged.
		{name: "short build far from the marker", build: build(0, 100), marker: 1000, anchor: "end"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := &Model{StartedAt: t0, EndedAt: at(1000), Stages: []Stage{
				{Name: "s", Status: "skipped", MarkerAt: at(tc.marker), Build: tc.build},
			}}
			row := buildTimeline(m).Rows[0]
			require.NotNil(t, row.Build)
			require.NotNil(t, row.Marker)
			mk, b := row.Marker, row.Build
			assert.Equal(t, "skipped · up to date at "+fmtTime(at(tc.marker)), mk.Title, "the title always says it")
			if tc.noLabel {
				assert.Empty(t, mk.Label)
				return
			}
			assert.Equal(t, "skipped · up to date", mk.Label)
			assert.Equal(t, tc.anchor, mk.Anchor)
			w := float64(len([]rune(mk.Label))) * 6.5
			lo, hi := mk.TextX, mk.TextX+w
			if mk.Anchor == "end" {
				lo, hi = mk.TextX-w, mk.TextX
			}
			assert.True(t, hi <= b.X || lo >= b.X+b.W, "label [%v, %v] clear of the bar [%v, %v]", lo, hi, b.X, b.X+b.W)
			if tc.labelLeftOfBar {
				assert.LessOrEqual(t, hi, b.X)
			}
		})
	}
}

// TestEveryFailedAttemptShowsItsOutput: the stage card shows the last
// attempt's output lines; an earlier attempt that failed otherwise has
// its own lines in the attempts table (folded), escaped like every value.
func TestEveryFailedAttemptShowsItsOutput(t *testing.T) {
	t.Run("from the stage state", func(t *testing.T) {
		dir := copyState(t)
		layout := runstate.Layout{StateDir: dir}
		ss, err := layout.ReadStage("stage_flaky")
		require.NoError(t, err)
		require.Len(t, ss.Attempts, 3)
		ss.Attempts[0].OutputTail = []string{"first try: <b>disk busy</b>"}
		ss.Attempts[1].OutputTail = []string{"second try: lock held"}
		require.NoError(t, layout.WriteStage(ss))
		m, err := Build(dir, "r1")
		require.NoError(t, err)
		fl := stageByName(t, m, "stage_flaky")
		assert.Equal(t, []string{"first try: <b>disk busy</b>"}, fl.Attempts[0].OutputTail)
		html := render(t, m)
		assert.Contains(t, html, "first try: &lt;b&gt;disk busy&lt;/b&gt;")
		assert.Contains(t, html, "second try: lock held")
		assert.NotContains(t, html, "<b>disk busy")
	})
	t.Run("not twice", func(t *testing.T) {
		t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		m := &Model{RunID: "r", Pipeline: "p", Status: "failed", StartedAt: t0, EndedAt: t0.Add(time.Second), Stages: []Stage{{
			Name: "s", Status: "failed", OutputTail: []string{"same ending"}, Attempts: []Attempt{
				{N: 1, Outcome: "transient", OutputTail: []string{"an earlier ending"}, StartedAt: t0, EndedAt: t0.Add(100 * time.Millisecond)},
				{N: 2, Outcome: "failed", OutputTail: []string{"same ending"}, StartedAt: t0.Add(200 * time.Millisecond), EndedAt: t0.Add(time.Second)},
			}}}}
		html := render(t, m)
		assert.Equal(t, 1, strings.Count(html, "last output lines</summary>"))
		assert.Contains(t, html, "an earlier ending")
		assert.Equal(t, 1, strings.Count(html, "same ending"), "the last attempt's lines are shown once, above the table")
	})
}
