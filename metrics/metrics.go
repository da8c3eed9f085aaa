package metrics

import (
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/guardrun/guardrun/internal/atomicfile"
)

// FormatVersion is written as "version" into metrics_<id>.json.
const FormatVersion = 1

// Stage is one stage's numbers for one run. CPUSeconds and PeakMemoryBytes
// are nil when the platform did not report them (written as null).
type Stage struct {
	Name            string   `json:"name"`
	Status          string   `json:"status"`
	Skipped         bool     `json:"skipped"`
	Attempts        int      `json:"attempts"`
	Retries         int      `json:"retries"`
	WallSeconds     float64  `json:"wallSeconds"`
	CPUSeconds      *float64 `json:"cpuSeconds"`
	PeakMemoryBytes *int64   `json:"peakMemoryBytes"`
	BytesIn         int64    `json:"bytesIn"`
	BytesOut        int64    `json:"bytesOut"`
	LinesIn         int64    `json:"linesIn"`
	LinesOut        int64    `json:"linesOut"`
	// Items sums up a fan-out stage's items (absent for a plain stage).
	Items *Items `json:"items,omitempty"`
}

// Items are a fan-out stage's item counts in one run, and the first
// failed items by id (at most MaxFailedItems).
type Items struct {
	Total       int      `json:"total"`
	Ran         int      `json:"ran"`
	Skipped     int      `json:"skipped"`
	Failed      int      `json:"failed"`
	Blocked     int      `json:"blocked"`
	Interrupted int      `json:"interrupted"`
	Removed     int      `json:"removed"`
	FailedItems []string `json:"failedItems,omitempty"`
}

// MaxFailedItems is how many failed items a stage's metrics name.
const MaxFailedItems = 20

// Totals sums the stages of a run. CPUSeconds sums the stages that reported
// it (nil when none did); PeakMemoryBytes is the largest stage peak (nil
// when none reported), not a sum, since stages may run one after another.
type Totals struct {
	Stages          int      `json:"stages"`
	StagesRun       int      `json:"stagesRun"`
	StagesSkipped   int      `json:"stagesSkipped"`
	StagesFailed    int      `json:"stagesFailed"`
	Attempts        int      `json:"attempts"`
	Retries         int      `json:"retries"`
	StageSeconds    float64  `json:"stageSeconds"`
	CPUSeconds      *float64 `json:"cpuSeconds"`
	PeakMemoryBytes *int64   `json:"peakMemoryBytes"`
	BytesIn         int64    `json:"bytesIn"`
	BytesOut        int64    `json:"bytesOut"`
	LinesIn         int64    `json:"linesIn"`
	LinesOut        int64    `json:"linesOut"`
}

// Skipped sums up the stages a run skipped as up to date. guardrun lists
// them here, not one by one in Run.Stages, so that the metrics of a no-op
// run over thousands of stages stay small; run_<id>.json names them.
// WallSeconds sums the time their skip decisions took; the volume figures
// are those recorded when their outputs were produced.
type Skipped struct {
	Count       int     `json:"count"`
	WallSeconds float64 `json:"wallSeconds"`
	BytesIn     int64   `json:"bytesIn"`
	BytesOut    int64   `json:"bytesOut"`
	LinesIn     int64   `json:"linesIn"`
	LinesOut    int64   `json:"linesOut"`
}

// Add sums up one skipped stage.
func (k *Skipped) Add(s Stage) {
	k.Count++
	k.WallSeconds += s.WallSeconds
	k.BytesIn += s.BytesIn
	k.BytesOut += s.BytesOut
	k.LinesIn += s.LinesIn
	k.LinesOut += s.LinesOut
}

// Run is one run's metrics. EndedAt is left out of the JSON when zero (a
// run still going).
type Run struct {
	RunID       string    `json:"runId"`
	Pipeline    string    `json:"pipeline"`
	Status      string    `json:"status"`
	StartedAt   time.Time `json:"startedAt"`
	EndedAt     time.Time `json:"endedAt,omitzero"`
	WallSeconds float64   `json:"wallSeconds"`
	// Stages are the stages listed one by one: every stage but those
	// summed up in Skipped.
	Stages []Stage `json:"stages"`
	// Skipped sums up the skipped stages not in Stages; absent when none.
	Skipped *Skipped `json:"skipped,omitempty"`
	Totals  Totals   `json:"totals"`
}

// StatusFailed is the stage status ComputeTotals counts as failed.
const StatusFailed = "failed"

// ComputeTotals recomputes r.Totals from r.Stages and r.Skipped, and sets
// r.WallSeconds from StartedAt and EndedAt when it is zero and both are set.
func (r *Run) ComputeTotals() {
	t := Totals{Stages: len(r.Stages)}
	if k := r.Skipped; k != nil {
		t.Stages += k.Count
		t.StagesSkipped += k.Count
		t.StageSeconds += k.WallSeconds
		t.BytesIn += k.BytesIn
		t.BytesOut += k.BytesOut
		t.LinesIn += k.LinesIn
		t.LinesOut += k.LinesOut
	}
	for _, s := range r.Stages {
		if s.Skipped {
			t.StagesSkipped++
		} else {
			t.StagesRun++
		}
		if s.Status == StatusFailed {
			t.StagesFailed++
		}
		t.Attempts += s.Attempts
		t.Retries += s.Retries
		t.StageSeconds += s.WallSeconds
		if s.CPUSeconds != nil {
			v := *s.CPUSeconds
			if t.CPUSeconds != nil {
				v += *t.CPUSeconds
			}
			t.CPUSeconds = &v
		}
		if s.PeakMemoryBytes != nil && (t.PeakMemoryBytes == nil || *s.PeakMemoryBytes > *t.PeakMemoryBytes) {
			v := *s.PeakMemoryBytes
			t.PeakMemoryBytes = &v
		}
		t.BytesIn += s.BytesIn
		t.BytesOut += s.BytesOut
		t.LinesIn += s.LinesIn
		t.LinesOut += s.LinesOut
	}
	r.Totals = t
	if r.WallSeconds == 0 && !r.StartedAt.IsZero() && !r.EndedAt.IsZero() {
		r.WallSeconds = r.EndedAt.Sub(r.StartedAt).Seconds()
	}
}

// file is the on-disk form: a format version in front of the run.
type file struct {
	Version int `json:"version"`
	*Run
}

// MarshalJSONFile returns the bytes WriteJSON writes: indented JSON with a
// trailing newline, times in UTC.
func MarshalJSONFile(r *Run) ([]byte, error) {
	c := *r
	c.StartedAt, c.EndedAt = c.StartedAt.UTC(), c.EndedAt.UTC()
	if c.Stages == nil {
		c.Stages = []Stage{}
	}
	b, err := json.MarshalIndent(file{Version: FormatVersion, Run: &c}, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding metrics of run %s: %w", r.RunID, err)
	}
	return append(b, '\n'), nil
}

// WriteJSON atomically writes r as metrics_<id>.json at path. Call
// ComputeTotals first.
func WriteJSON(path string, r *Run) error {
	b, err := MarshalJSONFile(r)
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(path, b, 0o644)
}

// ReadJSON reads a file written by WriteJSON.
func ReadJSON(path string) (*Run, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading metrics: %w", err)
	}
	var f struct {
		Version int `json:"version"`
		Run
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("reading metrics %s: %w", path, err)
	}
	if f.Version != FormatVersion {
		return nil, fmt.Errorf("reading metrics %s: format version %d, want %d", path, f.Version, FormatVersion)
	}
	return &f.Run, nil
}
