package metrics

import (
	"bytes"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/guardrun/guardrun/internal/atomicfile"
)

// Prefix starts every metric name.
const Prefix = "guardrun_"

type label struct{ name, value string }

type sample struct {
	labels []label
	value  string
}

type family struct {
	name, help string
	samples    []sample
}

// MarshalProm returns the bytes WriteProm writes: every metric a gauge with
// # HELP and # TYPE lines, labels pipeline and run_id (plus stage, and
// status where the value is a status), samples without timestamps.
// Families without a sample (CPU seconds when no stage reported it) are
// left out.
func MarshalProm(r *Run) []byte {
	runLabels := []label{{"pipeline", r.Pipeline}, {"run_id", r.RunID}}
	stageLabels := func(s Stage, extra ...label) []label {
		return append([]label{{"pipeline", r.Pipeline}, {"run_id", r.RunID}, {"stage", s.Name}}, extra...)
	}
	perStage := func(name, help string, value func(Stage) (string, bool)) family {
		f := family{name: Prefix + name, help: help}
		for _, s := range r.Stages {
			if v, ok := value(s); ok {
				f.samples = append(f.samples, sample{stageLabels(s), v})
			}
		}
		return f
	}
	i64 := func(get func(Stage) int64) func(Stage) (string, bool) {
		return func(s Stage) (string, bool) { return strconv.FormatInt(get(s), 10), true }
	}
	// volume is a stage's input or output in this run: a stage skipped as
	// up to date read and wrote nothing, whatever volumes its outputs
	// were recorded with (metrics_<id>.json keeps those apart).
	volume := func(get func(Stage) int64) func(Stage) (string, bool) {
		return i64(func(s Stage) int64 {
			if s.Skipped {
				return 0
			}
			return get(s)
		})
	}
	one := func(l []label) []sample { return []sample{{l, "1"}} }
	// Stages summed up in r.Skipped have no per-stage samples; the run's
	// count by status includes them.
	skipped := 0
	if r.Skipped != nil {
		skipped = r.Skipped.Count
	}
	counts := map[string]int{}
	var statuses []string
	count := func(status string, n int) {
		if _, ok := counts[status]; !ok {
			statuses = append(statuses, status)
		}
		counts[status] += n
	}
	for _, s := range r.Stages {
		count(s.Status, 1)
	}
	if skipped > 0 {
		count("skipped", skipped)
	}
	sort.Strings(statuses)
	byStatus := family{name: Prefix + "run_stages_by_status", help: "Number of stages of the run that ended with each status (succeeded, skipped, failed, blocked, interrupted, pending)."}
	for _, st := range statuses {
		byStatus.samples = append(byStatus.samples, sample{append(runLabels[:2:2], label{"status", st}), strconv.Itoa(counts[st])})
	}

	fams := []family{
		{Prefix + "run_start_timestamp_seconds", "Unix time at which the run started.",
			[]sample{{runLabels, formatTime(r.StartedAt)}}},
	}
	if !r.EndedAt.IsZero() {
		fams = append(fams, family{Prefix + "run_end_timestamp_seconds", "Unix time at which the run ended.",
			[]sample{{runLabels, formatTime(r.EndedAt)}}})
	}
	fams = append(fams,
		family{Prefix + "run_duration_seconds", "Wall-clock duration of the run in seconds.",
			[]sample{{runLabels, formatFloat(r.WallSeconds)}}},
		family{Prefix + "run_status", "Outcome of the run: 1 for the status it ended with (succeeded, failed, interrupted).",
			one(append(runLabels[:2:2], label{"status", r.Status}))},
		family{Prefix + "run_stages", "Number of stages in the pipeline.",
			[]sample{{runLabels, strconv.Itoa(len(r.Stages) + skipped)}}},
		byStatus,
	)
	statusFam := family{name: Prefix + "stage_status", help: "Outcome of the stage in this run: 1 for its status (succeeded, skipped, failed, blocked, interrupted, pending)."}
	for _, s := range r.Stages {
		statusFam.samples = append(statusFam.samples, sample{stageLabels(s, label{"status", s.Status}), "1"})
	}
	fams = append(fams,
		statusFam,
		perStage("stage_skipped", "1 if the stage was skipped as up to date, else 0.", func(s Stage) (string, bool) {
			if s.Skipped {
				return "1", true
			}
			return "0", true
		}),
		perStage("stage_attempts", "Number of attempts the stage made in this run.",
			i64(func(s Stage) int64 { return int64(s.Attempts) })),
		perStage("stage_retries", "Number of retries (attempts after the first) of the stage in this run.",
			i64(func(s Stage) int64 { return int64(s.Retries) })),
		perStage("stage_duration_seconds", "Wall-clock duration of the stage in seconds, all attempts and retry delays included.",
			func(s Stage) (string, bool) { return formatFloat(s.WallSeconds), true }),
		perStage("stage_cpu_seconds", "CPU time (user and system) used by the stage's processes in seconds; absent when the platform did not report it.",
			func(s Stage) (string, bool) {
				if s.CPUSeconds == nil {
					return "", false
				}
				return formatFloat(*s.CPUSeconds), true
			}),
		perStage("stage_peak_memory_bytes", "Peak memory of the stage's processes in bytes; absent when the platform did not report it.",
			func(s Stage) (string, bool) {
				if s.PeakMemoryBytes == nil {
					return "", false
				}
				return strconv.FormatInt(*s.PeakMemoryBytes, 10), true
			}),
		perStage("stage_input_bytes", "Bytes of input the stage read in this run (0 when skipped as up to date).", volume(func(s Stage) int64 { return s.BytesIn })),
		perStage("stage_output_bytes", "Bytes of output the stage wrote in this run (0 when skipped as up to date).", volume(func(s Stage) int64 { return s.BytesOut })),
		perStage("stage_input_lines", "Lines of input the stage read in this run (a count; 0 when skipped as up to date).", volume(func(s Stage) int64 { return s.LinesIn })),
		perStage("stage_output_lines", "Lines of output the stage wrote in this run (a count; 0 when skipped as up to date).", volume(func(s Stage) int64 { return s.LinesOut })),
	)
	// Fan-out stages: item counts by outcome, and the first failed items
	// (a bounded label set: at most MaxFailedItems per stage).
	items := family{name: Prefix + "stage_items", help: "Items of a fan-out stage in this run by outcome (total, ran, skipped, failed, blocked, interrupted, removed)."}
	failed := family{name: Prefix + "stage_failed_item", help: "1 for each of the first failed items of a fan-out stage in this run."}
	for _, s := range r.Stages {
		it := s.Items
		if it == nil {
			continue
		}
		for _, c := range []struct {
			state string
			n     int
		}{{"total", it.Total}, {"ran", it.Ran}, {"skipped", it.Skipped}, {"failed", it.Failed}, {"blocked", it.Blocked}, {"interrupted", it.Interrupted}, {"removed", it.Removed}} {
			items.samples = append(items.samples, sample{stageLabels(s, label{"state", c.state}), strconv.Itoa(c.n)})
		}
		for _, id := range it.FailedItems {
			failed.samples = append(failed.samples, sample{stageLabels(s, label{"item", id}), "1"})
		}
	}
	fams = append(fams, items, failed)

	return render(fams)
}

// render writes families in the text format: # HELP and # TYPE gauge
// lines, then the samples; families without samples are left out.
func render(fams []family) []byte {
	var b bytes.Buffer
	for _, f := range fams {
		if len(f.samples) == 0 {
			continue
		}
		b.WriteString("# HELP " + f.name + " " + helpEscaper.Replace(f.help) + "\n")
		b.WriteString("# TYPE " + f.name + " gauge\n")
		for _, s := range f.samples {
			b.WriteString(f.name)
			b.WriteByte('{')
			for i, l := range s.labels {
				if i > 0 {
					b.WriteByte(',')
				}
				b.WriteString(l.name + `="` + EscapeLabelValue(l.value) + `"`)
			}
			b.WriteString("} " + s.value + "\n")
		}
	}
	return b.Bytes()
}

// Statuses a run and a stage can end with: the last-run file has a
// sample for each, 1 for the one that holds, so its series never change.
var (
	runStatuses   = []string{"succeeded", "failed", "interrupted"}
	stageStatuses = []string{"succeeded", "skipped", "failed", "blocked", "interrupted", "pending"}
)

// MarshalLastProm is the stable Prometheus file of a pipeline's latest run
// (metrics_last.prom): the same figures as MarshalProm under
// guardrun_last_run_* names, without a run_id label, and with a sample
// for every stage of the pipeline (stages, in order) and every status, so
// that the series stay the same run after run. Stages summed up in
// r.Skipped count as skipped with their recorded volumes unknown (0).
func MarshalLastProm(r *Run, stages []string) []byte {
	pl := []label{{"pipeline", r.Pipeline}}
	byName := map[string]Stage{}
	for _, s := range r.Stages {
		byName[s.Name] = s
	}
	all := make([]Stage, len(stages))
	for i, name := range stages {
		s, ok := byName[name]
		if !ok {
			s = Stage{Name: name, Status: "skipped", Skipped: true}
		}
		all[i] = s
	}
	stageLabels := func(s Stage, extra ...label) []label {
		return append([]label{{"pipeline", r.Pipeline}, {"stage", s.Name}}, extra...)
	}
	perStage := func(name, help string, value func(Stage) string) family {
		f := family{name: Prefix + "last_run_" + name, help: help}
		for _, s := range all {
			f.samples = append(f.samples, sample{stageLabels(s), value(s)})
		}
		return f
	}
	i64 := func(v int64) string { return strconv.FormatInt(v, 10) }
	end := r.EndedAt
	if end.IsZero() {
		end = r.StartedAt
	}
	fams := []family{
		{Prefix + "last_run_end_timestamp_seconds", "Unix time at which the latest run ended.", []sample{{pl, formatTime(end)}}},
		{Prefix + "last_run_duration_seconds", "Wall-clock duration of the latest run in seconds.", []sample{{pl, formatFloat(r.WallSeconds)}}},
	}
	status := family{name: Prefix + "last_run_status", help: "Outcome of the latest run: 1 for the status it ended with, 0 for the others (succeeded, failed, interrupted)."}
	for _, st := range runStatuses {
		v := "0"
		if r.Status == st {
			v = "1"
		}
		status.samples = append(status.samples, sample{append(pl[:1:1], label{"status", st}), v})
	}
	stageStatus := family{name: Prefix + "last_run_stage_status", help: "Outcome of each stage in the latest run: 1 for its status, 0 for the others (succeeded, skipped, failed, blocked, interrupted, pending)."}
	for _, s := range all {
		for _, st := range stageStatuses {
			v := "0"
			if s.Status == st {
				v = "1"
			}
			stageStatus.samples = append(stageStatus.samples, sample{stageLabels(s, label{"status", st}), v})
		}
	}
	fams = append(fams, status, stageStatus,
		perStage("stage_duration_seconds", "Wall-clock duration of each stage in the latest run in seconds (0 when skipped).",
			func(s Stage) string { return formatFloat(s.WallSeconds) }),
		perStage("stage_attempts", "Attempts each stage made in the latest run.", func(s Stage) string { return i64(int64(s.Attempts)) }),
		perStage("stage_input_bytes", "Bytes of input each stage read in the latest run (0 when skipped as up to date).", func(s Stage) string {
			if s.Skipped {
				return "0"
			}
			return i64(s.BytesIn)
		}),
		perStage("stage_output_bytes", "Bytes of output each stage wrote in the latest run (0 when skipped).", func(s Stage) string {
			if s.Skipped {
				return "0"
			}
			return i64(s.BytesOut)
		}),
		perStage("stage_failed_items", "Failed items of each fan-out stage in the latest run (0 for a plain stage).", func(s Stage) string {
			if s.Items == nil {
				return "0"
			}
			return strconv.Itoa(s.Items.Failed)
		}),
	)
	return render(fams)
}

// WriteLastProm atomically writes MarshalLastProm(r, stages) at path.
func WriteLastProm(path string, r *Run, stages []string) error {
	return atomicfile.WriteFile(path, MarshalLastProm(r, stages), 0o644)
}

// WriteProm atomically writes r as metrics_<id>.prom at path. The temporary
// file's name does not end in .prom, so node_exporter's textfile collector
// never reads a half-written file.
func WriteProm(path string, r *Run) error {
	return atomicfile.WriteFile(path, MarshalProm(r), 0o644)
}

var (
	labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
)

// EscapeLabelValue escapes v for a label value in the text format:
// backslash, double quote and line feed; invalid UTF-8 becomes U+FFFD.
func EscapeLabelValue(v string) string {
	return labelEscaper.Replace(strings.ToValidUTF8(v, "\uFFFD"))
}

func formatFloat(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

func formatTime(t time.Time) string {
	if t.IsZero() {
		return "0"
	}
	return formatFloat(float64(t.Unix()) + float64(t.Nanosecond())/1e9)
}
