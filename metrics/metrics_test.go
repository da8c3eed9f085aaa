package metrics

import (
	"bytes"
	"encoding/json"
	"flag"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

func f64(v float64) *float64 { return &v }
func i64(v int64) *int64     { return &v }

// weirdPipeline is a pipeline name a spec may legally carry: quotes,
// backslashes, a newline and non-ASCII all need escaping in the text format.
const weirdPipeline = "demo \"nightly\" C:\\data\nline2 ü"

func sampleRun() *Run {
	r := &Run{
		RunID:     "20260102T030405Z-1a2b",
		Pipeline:  weirdPipeline,
		Status:    "failed",
		StartedAt: time.Date(2026, 1, 2, 4, 4, 5, 250_000_000, time.FixedZone("CET", 3600)),
		EndedAt:   time.Date(2026, 1, 2, 3, 4, 17, 750_000_000, time.UTC),
		Stages: []Stage{
			{Name: "stage_copy", Status: "skipped", Skipped: true},
			{Name: "stage_upper", Status: "succeeded", Attempts: 2, Retries: 1, WallSeconds: 1.25,
				CPUSeconds: f64(0.731), PeakMemoryBytes: i64(12_582_912),
				BytesIn: 1 << 20, BytesOut: 1 << 20, LinesIn: 10_000, LinesOut: 10_000},
			{Name: "stage_count", Status: "failed", Attempts: 3, Retries: 2, WallSeconds: 0.1,
				BytesIn: 1 << 20, LinesIn: 10_000,
				Items: &Items{Total: 5, Ran: 2, Skipped: 1, Failed: 1, Blocked: 0, Interrupted: 0, Removed: 1, FailedItems: []string{`b "odd".txt`}}},
		},
	}
	r.ComputeTotals()
	return r
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", name+".golden")
	if *update {
		require.NoError(t, os.WriteFile(p, got, 0o644))
	}
	want, err := os.ReadFile(p)
	require.NoError(t, err, "run go test ./metrics -update to create it")
	assert.Equal(t, string(want), string(got))
}

func TestComputeTotals(t *testing.T) {
	r := sampleRun()
	assert.Equal(t, Totals{
		Stages: 3, StagesRun: 2, StagesSkipped: 1, StagesFailed: 1, Attempts: 5, Retries: 3,
		StageSeconds: 1.35, CPUSeconds: f64(0.731), PeakMemoryBytes: i64(12_582_912),
		BytesIn: 2 << 20, BytesOut: 1 << 20, LinesIn: 20_000, LinesOut: 10_000,
	}, r.Totals)
	assert.Equal(t, 12.5, r.WallSeconds, "derived from startedAt/endedAt")

	r.WallSeconds = 99
	r.Stages = nil
	r.ComputeTotals()
	assert.Equal(t, Totals{}, r.Totals)
	assert.Nil(t, r.Totals.CPUSeconds, "nothing reported stays null, not 0")
	assert.Equal(t, 99.0, r.WallSeconds, "an explicit wall time is kept")
}

func TestJSONGoldenAndRoundTrip(t *testing.T) {
	r := sampleRun()
	b, err := MarshalJSONFile(r)
	require.NoError(t, err)
	golden(t, "metrics.json", b)

	p := filepath.Join(t.TempDir(), "metrics_x.json")
	require.NoError(t, WriteJSON(p, r))
	onDisk, err := os.ReadFile(p)
	require.NoError(t, err)
	assert.Equal(t, b, onDisk)

	// Generic parse: field names and nulls as DESIGN §7 says.
	var generic map[string]any
	require.NoError(t, json.Unmarshal(onDisk, &generic))
	assert.EqualValues(t, 1, generic["version"])
	assert.Equal(t, "2026-01-02T03:04:05.25Z", generic["startedAt"], "UTC")
	stages := generic["stages"].([]any)
	count := stages[2].(map[string]any)
	for _, k := range []string{"name", "status", "skipped", "attempts", "retries", "wallSeconds", "cpuSeconds",
		"peakMemoryBytes", "bytesIn", "bytesOut", "linesIn", "linesOut"} {
		assert.Contains(t, count, k)
	}
	assert.Nil(t, count["cpuSeconds"])

	back, err := ReadJSON(p)
	require.NoError(t, err)
	assert.True(t, back.StartedAt.Equal(r.StartedAt))
	back.StartedAt, back.EndedAt = r.StartedAt, r.EndedAt
	assert.Equal(t, r, back)
}

func TestJSONOfARunStillGoing(t *testing.T) {
	r := &Run{RunID: "r", Pipeline: "p", Status: "running", StartedAt: time.Unix(1, 0)}
	r.ComputeTotals()
	b, err := MarshalJSONFile(r)
	require.NoError(t, err)
	var generic map[string]any
	require.NoError(t, json.Unmarshal(b, &generic))
	assert.NotContains(t, generic, "endedAt")
	assert.Equal(t, []any{}, generic["stages"])
	assert.NotContains(t, string(MarshalProm(r)), "guardrun_run_end_timestamp_seconds")
}

func TestReadJSONRefusesOtherVersions(t *testing.T) {
	p := filepath.Join(t.TempDir(), "m.json")
	require.NoError(t, os.WriteFile(p, []byte(`{"version":2,"runId":"x"}`), 0o644))
	_, err := ReadJSON(p)
	assert.ErrorContains(t, err, "format version 2")
}

func parseProm(t *testing.T, b []byte) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(b))
	require.NoError(t, err)
	return fams
}

func labels(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, l := range m.GetLabel() {
		out[l.GetName()] = l.GetValue()
	}
	return out
}

func TestPromGoldenAndRealParser(t *testing.T) {
	r := sampleRun()
	b := MarshalProm(r)
	golden(t, "metrics.prom", b)

	p := filepath.Join(t.TempDir(), "metrics_x.prom")
	require.NoError(t, WriteProm(p, r))
	onDisk, err := os.ReadFile(p)
	require.NoError(t, err)
	require.Equal(t, b, onDisk)
	require.True(t, bytes.HasSuffix(onDisk, []byte("\n")))

	fams := parseProm(t, onDisk)
	wantFamilies := []string{
		"run_start_timestamp_seconds", "run_end_timestamp_seconds", "run_duration_seconds", "run_status", "run_stages",
		"run_stages_by_status", "stage_status", "stage_skipped", "stage_attempts", "stage_retries", "stage_duration_seconds",
		"stage_cpu_seconds", "stage_peak_memory_bytes", "stage_input_bytes", "stage_output_bytes",
		"stage_input_lines", "stage_output_lines", "stage_items", "stage_failed_item",
	}
	require.Len(t, fams, len(wantFamilies))
	// A fan-out stage's items by outcome and its failed items, parsed back.
	items := map[string]float64{}
	for _, m := range fams[Prefix+"stage_items"].GetMetric() {
		items[labels(m)["state"]] = m.GetGauge().GetValue()
	}
	assert.Equal(t, map[string]float64{"total": 5, "ran": 2, "skipped": 1, "failed": 1, "blocked": 0, "interrupted": 0, "removed": 1}, items)
	require.Len(t, fams[Prefix+"stage_failed_item"].GetMetric(), 1)
	assert.Equal(t, `b "odd".txt`, labels(fams[Prefix+"stage_failed_item"].GetMetric()[0])["item"])
	for _, name := range wantFamilies {
		f := fams[Prefix+name]
		require.NotNil(t, f, name)
		assert.NotEmpty(t, f.GetHelp(), "%s has no # HELP", name)
		assert.Equal(t, dto.MetricType_GAUGE, f.GetType(), "%s has no # TYPE gauge", name)
		for _, m := range f.GetMetric() {
			assert.Nil(t, m.TimestampMs, "node_exporter skips a textfile whose samples carry timestamps")
			l := labels(m)
			assert.Equal(t, weirdPipeline, l["pipeline"], "label value escaped and parsed back")
			assert.Equal(t, r.RunID, l["run_id"])
			if strings.HasPrefix(name, "stage_") {
				assert.Contains(t, []string{"stage_copy", "stage_upper", "stage_count"}, l["stage"])
			} else {
				assert.NotContains(t, l, "stage")
			}
		}
	}

	value := func(name, stage string) float64 {
		for _, m := range fams[Prefix+name].GetMetric() {
			if stage == "" || labels(m)["stage"] == stage {
				return m.GetGauge().GetValue()
			}
		}
		t.Fatalf("no %s for %q", name, stage)
		return 0
	}
	assert.Equal(t, 1.25, value("stage_duration_seconds", "stage_upper"))
	assert.Equal(t, 0.731, value("stage_cpu_seconds", "stage_upper"))
	assert.Equal(t, float64(12_582_912), value("stage_peak_memory_bytes", "stage_upper"))
	assert.Equal(t, 1.0, value("stage_skipped", "stage_copy"))
	assert.Equal(t, 0.0, value("stage_skipped", "stage_upper"))
	assert.Equal(t, 3.0, value("stage_attempts", "stage_count"))
	assert.Equal(t, float64(r.StartedAt.UnixMilli())/1000, value("run_start_timestamp_seconds", ""))
	assert.Equal(t, 12.5, value("run_duration_seconds", ""))
	assert.Len(t, fams[Prefix+"stage_cpu_seconds"].GetMetric(), 1, "unreported CPU time is absent, not 0")
	assert.Equal(t, "failed", labels(fams[Prefix+"run_status"].GetMetric()[0])["status"])
	statuses := map[string]string{}
	for _, m := range fams[Prefix+"stage_status"].GetMetric() {
		statuses[labels(m)["stage"]] = labels(m)["status"]
		assert.Equal(t, 1.0, m.GetGauge().GetValue())
	}
	assert.Equal(t, map[string]string{"stage_copy": "skipped", "stage_upper": "succeeded", "stage_count": "failed"}, statuses)

	// Prometheus' own linter (naming, HELP, units) has nothing to say.
	problems, err := promlint.New(bytes.NewReader(onDisk)).Lint()
	require.NoError(t, err)
	assert.Empty(t, problems)
}

// TestSkippedStagesAreSummedUp: stages skipped as up to date are one
// summary in the JSON and no per-stage samples in the text format, yet
// every total and count includes them.
func TestSkippedStagesAreSummedUp(t *testing.T) {
	r := &Run{RunID: "r", Pipeline: "p", Status: "succeeded", StartedAt: time.Unix(10, 0), EndedAt: time.Unix(12, 0),
		Stages: []Stage{{Name: "a", Status: "succeeded", Attempts: 1, WallSeconds: 0.5, BytesIn: 10, BytesOut: 10, LinesIn: 1, LinesOut: 1}}}
	var k Skipped
	for i := 0; i < 3; i++ {
		k.Add(Stage{Name: "s", Status: "skipped", Skipped: true, WallSeconds: 0.25, BytesIn: 100, BytesOut: 50, LinesIn: 7, LinesOut: 3})
	}
	r.Skipped = &k
	r.ComputeTotals()
	assert.Equal(t, Totals{Stages: 4, StagesRun: 1, StagesSkipped: 3, Attempts: 1, StageSeconds: 1.25,
		BytesIn: 310, BytesOut: 160, LinesIn: 22, LinesOut: 10}, r.Totals)

	b, err := MarshalJSONFile(r)
	require.NoError(t, err)
	var generic map[string]any
	require.NoError(t, json.Unmarshal(b, &generic))
	assert.Len(t, generic["stages"], 1)
	assert.Equal(t, map[string]any{"count": 3.0, "wallSeconds": 0.75, "bytesIn": 300.0, "bytesOut": 150.0, "linesIn": 21.0, "linesOut": 9.0}, generic["skipped"])

	fams := parseProm(t, MarshalProm(r))
	assert.Equal(t, 4.0, fams[Prefix+"run_stages"].GetMetric()[0].GetGauge().GetValue())
	byStatus := map[string]float64{}
	for _, m := range fams[Prefix+"run_stages_by_status"].GetMetric() {
		byStatus[labels(m)["status"]] = m.GetGauge().GetValue()
	}
	assert.Equal(t, map[string]float64{"succeeded": 1, "skipped": 3}, byStatus)
	assert.Len(t, fams[Prefix+"stage_status"].GetMetric(), 1, "no per-stage samples for the skipped stages")
}

// TestSkippedStageReadNothing: a skipped stage listed one by one (files
// written before Skipped existed) reports 0 bytes and lines in and out in
// the text format, not the volumes its outputs were recorded with.
func TestSkippedStageReadNothing(t *testing.T) {
	r := &Run{RunID: "r", Pipeline: "p", Status: "succeeded", StartedAt: time.Unix(10, 0), EndedAt: time.Unix(12, 0),
		Stages: []Stage{
			{Name: "ran", Status: "succeeded", Attempts: 1, BytesIn: 10, BytesOut: 20, LinesIn: 1, LinesOut: 2},
			{Name: "old", Status: "skipped", Skipped: true, BytesIn: 100, BytesOut: 50, LinesIn: 7, LinesOut: 3},
		}}
	r.ComputeTotals()
	fams := parseProm(t, MarshalProm(r))
	for _, tc := range []struct {
		family   string
		ran, old float64
	}{
		{"stage_input_bytes", 10, 0}, {"stage_output_bytes", 20, 0},
		{"stage_input_lines", 1, 0}, {"stage_output_lines", 2, 0},
	} {
		got := map[string]float64{}
		for _, m := range fams[Prefix+tc.family].GetMetric() {
			got[labels(m)["stage"]] = m.GetGauge().GetValue()
		}
		assert.Equal(t, map[string]float64{"ran": tc.ran, "old": tc.old}, got, tc.family)
		assert.Contains(t, fams[Prefix+tc.family].GetHelp(), "0 when skipped", tc.family)
	}
}

func TestPromFamiliesWithoutSamplesAreLeftOut(t *testing.T) {
	r := &Run{RunID: "r", Pipeline: "p", Status: "succeeded", StartedAt: time.Unix(10, 0), EndedAt: time.Unix(12, 0),
		Stages: []Stage{{Name: "a", Status: "succeeded", Attempts: 1}}}
	r.ComputeTotals()
	fams := parseProm(t, MarshalProm(r))
	assert.NotContains(t, fams, Prefix+"stage_cpu_seconds")
	assert.NotContains(t, fams, Prefix+"stage_peak_memory_bytes")
	assert.Contains(t, fams, Prefix+"stage_duration_seconds")
}

func TestEscapeLabelValue(t *testing.T) {
	cases := map[string]string{
		`plain`:        `plain`,
		`say "hi"`:     `say \"hi\"`,
		`C:\dir`:       `C:\\dir`,
		"a\nb":         `a\nb`,
		"tab\tok":      "tab\tok",
		"bad\xffutf8":  "bad\uFFFDutf8",
		`\"` + "\n":    `\\\"\n`,
		"unicode ü 日本": "unicode ü 日本",
	}
	for in, want := range cases {
		assert.Equal(t, want, EscapeLabelValue(in), "%q", in)
		// And the real parser reads the original back (modulo invalid UTF-8).
		text := "# HELP x x\n# TYPE x gauge\nx{l=\"" + EscapeLabelValue(in) + "\"} 1\n"
		fams := parseProm(t, []byte(text))
		assert.Equal(t, strings.ToValidUTF8(in, "\uFFFD"), labels(fams["x"].GetMetric()[0])["l"])
	}
}

func TestFormatFloat(t *testing.T) {
	for v, want := range map[float64]string{
		0: "0", 1.25: "1.25", 1e21: "1e+21", 1767323045.25: "1.76732304525e+09",
		math.Inf(1): "+Inf", math.Inf(-1): "-Inf",
	} {
		assert.Equal(t, want, formatFloat(v))
	}
	assert.Equal(t, "NaN", formatFloat(math.NaN()))
}

// seriesOf is every series of a text file: name and labels.
func seriesOf(t *testing.T, b []byte) []string {
	t.Helper()
	var out []string
	for name, f := range parseProm(t, b) {
		for _, m := range f.GetMetric() {
			l := labels(m)
			keys := make([]string, 0, len(l))
			for k := range l {
				keys = append(keys, k+"="+l[k])
			}
			sort.Strings(keys)
			out = append(out, name+"{"+strings.Join(keys, ",")+"}")
		}
	}
	sort.Strings(out)
	return out
}

// TestLastPromStableSeries: the latest-run file has no run_id, a sample
// for every stage and status, and the very same series after a run that
// skipped every stage as after one that ran and failed.
func TestLastPromStableSeries(t *testing.T) {
	stages := []string{"stage_copy", "stage_upper", "stage_count"}
	r := sampleRun()
	b := MarshalLastProm(r, stages)
	golden(t, "metrics_last.prom", b)
	assert.NotContains(t, string(b), "run_id")
	fams := parseProm(t, b)
	for name, f := range fams {
		assert.True(t, strings.HasPrefix(name, Prefix+"last_run_"), name)
		assert.Equal(t, dto.MetricType_GAUGE, f.GetType(), name)
	}
	status := map[string]float64{}
	for _, m := range fams[Prefix+"last_run_stage_status"].GetMetric() {
		l := labels(m)
		status[l["stage"]+"/"+l["status"]] = m.GetGauge().GetValue()
	}
	assert.Len(t, status, 3*6)
	assert.Equal(t, 1.0, status["stage_count/failed"])
	assert.Equal(t, 0.0, status["stage_count/succeeded"])
	assert.Equal(t, 1.0, status["stage_copy/skipped"])

	noop := &Run{RunID: "other", Pipeline: r.Pipeline, Status: "succeeded", StartedAt: r.StartedAt, EndedAt: r.EndedAt,
		Skipped: &Skipped{Count: 3, BytesIn: 1 << 30}}
	noop.ComputeTotals()
	nb := MarshalLastProm(noop, stages)
	assert.Equal(t, seriesOf(t, b), seriesOf(t, nb), "the same series whatever the run did")
	assert.Contains(t, string(nb), `guardrun_last_run_stage_input_bytes{pipeline="demo \"nightly\" C:\\data\nline2 ü",stage="stage_upper"} 0`,
		"a skipped stage read nothing")
}
