package runstate

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/guardrun/guardrun/internal/atomicfile"
	"github.com/guardrun/guardrun/metrics"
)

// readJSON reads a state file. A missing file returns an error wrapping
// os.ErrNotExist; a file that does not parse is reported, never silently
// replaced.
func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("parsing %s: %w", path, err)
	}
	return nil
}

// ReadRun loads run_<id>.json.
func (l Layout) ReadRun(runID string) (*RunState, error) {
	var rs RunState
	if err := readJSON(l.RunFile(runID), &rs); err != nil {
		return nil, err
	}
	return &rs, nil
}

// WriteRun writes run_<id>.json atomically.
func (l Layout) WriteRun(rs *RunState) error { return atomicfile.WriteJSON(l.RunFile(rs.RunID), rs) }

// ReadStage loads stage_<name>.json.
func (l Layout) ReadStage(stage string) (*StageState, error) {
	var ss StageState
	if err := readJSON(l.StageFile(stage), &ss); err != nil {
		return nil, err
	}
	return &ss, nil
}

// WriteStage writes stage_<name>.json atomically.
func (l Layout) WriteStage(ss *StageState) error {
	return atomicfile.WriteJSON(l.StageFile(ss.Name), ss)
}

// ReadProgress loads progress_<stage>.json; (nil, nil) when there is none.
func (l Layout) ReadProgress(stage string) (*Progress, error) {
	var p Progress
	err := readJSON(l.ProgressFile(stage), &p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &p, nil
}

// WriteProgress writes progress_<stage>.json atomically.
func (l Layout) WriteProgress(p *Progress) error {
	return atomicfile.WriteJSON(l.ProgressFile(p.Stage), p)
}

// RemoveProgress deletes a stage's checkpoint (absent is fine).
func (l Layout) RemoveProgress(stage string) error { return RemoveIfExists(l.ProgressFile(stage)) }

// WriteMetrics writes metrics_<id>.json and metrics_<id>.prom.
func (l Layout) WriteMetricsJSON(m *metrics.Run) error {
	return metrics.WriteJSON(l.MetricsJSON(m.RunID), m)
}

// WriteMetricsProm writes metrics_<id>.prom.
func (l Layout) WriteMetricsProm(m *metrics.Run) error {
	return metrics.WriteProm(l.MetricsProm(m.RunID), m)
}

// WriteMetricsLastProm writes metrics_last.prom for m, a run of a
// pipeline with stages (every stage's name, in order).
func (l Layout) WriteMetricsLastProm(m *metrics.Run, stages []string) error {
	return metrics.WriteLastProm(l.MetricsLastProm(), m, stages)
}

// ReadMetrics loads metrics_<id>.json.
func (l Layout) ReadMetrics(runID string) (*metrics.Run, error) {
	return metrics.ReadJSON(l.MetricsJSON(runID))
}

// ReadMarkerHead reads the marker of stage in outDir up to its key parts,
// which are neither decoded nor kept; (nil, nil) when there is none. A
// marker lists its parts last (a fan-in's are every input it read), so
// the head is usually all that is read of the file.
func ReadMarkerHead(outDir, stage string) (*MarkerHead, error) {
	path := MarkerFile(outDir, stage)
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := &MarkerHead{path: path}
	if err := readHead(json.NewDecoder(bufio.NewReaderSize(f, 64<<10)), h); err != nil {
		return nil, fmt.Errorf("parsing %s: %w", path, err)
	}
	return h, nil
}

// readHead decodes a marker's key, outputs and counters, stopping at its
// parts once the key and outputs are known.
func readHead(d *json.Decoder, h *MarkerHead) error {
	if t, err := d.Token(); err != nil || t != json.Delim('{') {
		return fmt.Errorf("not a JSON object: %v", errOr(err, "no '{'"))
	}
	var haveKey, haveOutputs bool
	for d.More() {
		t, err := d.Token()
		if err != nil {
			return err
		}
		switch t {
		case "key":
			err, haveKey = d.Decode(&h.Key), true
		case "outputs":
			err, haveOutputs = d.Decode(&h.Outputs), true
		case "counters":
			err = d.Decode(&h.Counters)
		case "parts":
			if haveKey && haveOutputs {
				return nil
			}
			fallthrough
		default:
			var skip json.RawMessage
			err = d.Decode(&skip)
		}
		if err != nil {
			return err
		}
	}
	if !haveKey || !haveOutputs {
		return errors.New("no key or no outputs")
	}
	return nil
}

func errOr(err error, s string) any {
	if err != nil {
		return err
	}
	return s
}

// DecodeMarker decodes the whole marker a head was read from.
func (h *MarkerHead) DecodeMarker() (*Marker, error) {
	b, err := os.ReadFile(h.path)
	if err != nil {
		return nil, err
	}
	var m Marker
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	return &m, nil
}

// DecodeParts decodes the marker's parts into parts (a pointer) in one
// pass over the file: DecodeMarker keeps them raw, and decoding them from
// there again cost a fan-in of 10,000 inputs 20 ms more to explain a rerun.
func (h *MarkerHead) DecodeParts(parts any) error {
	b, err := os.ReadFile(h.path)
	if err != nil {
		return err
	}
	// A non-nil pointer in an interface field is decoded into.
	m := struct {
		Parts any `json:"parts"`
	}{Parts: parts}
	return json.Unmarshal(b, &m)
}

// WriteMarker writes <outDir>/.<stage>.done atomically. Its head is
// encoded as JSON and its parts, already JSON (the runner's canonical
// encoding), are appended as they are, on one line: re-encoding them
// (validating, compacting and indenting a fan-in's 10,000 inputs) cost
// 30 ms of a rerun.
func WriteMarker(outDir string, m *Marker) error {
	head := *m
	head.Parts = nil
	b, err := json.Marshal(&head)
	if err != nil {
		return fmt.Errorf("encoding marker: %w", err)
	}
	parts := m.Parts
	if len(parts) == 0 {
		parts = json.RawMessage("null")
	} else if !json.Valid(parts) {
		return errors.New("encoding marker: parts are not JSON")
	}
	// b ends with `"parts":null}` (Parts is last): the parts replace null.
	b, ok := bytes.CutSuffix(b, []byte(`null}`))
	if !ok {
		return errors.New("encoding marker: parts are not last")
	}
	b = append(append(append(b, parts...), '}'), '\n')
	return atomicfile.WriteFile(MarkerFile(outDir, m.Stage), b, 0o644)
}

// RemoveMarker deletes a stage's marker (absent is fine).
func RemoveMarker(outDir, stage string) error { return RemoveIfExists(MarkerFile(outDir, stage)) }

// RemoveIfExists removes path; a missing file is not an error.
func RemoveIfExists(path string) error {
	err := os.Remove(path)
	if err == nil || errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// RunInfo is one run found in the state dir.
type RunInfo struct {
	ID string
	// StartedAt is zero when the run file does not parse (Err says why).
	StartedAt time.Time
	Status    string
	Err       error
}

// Runs lists the runs stateDir holds a run_<id>.json for, oldest first:
// ordered by the startedAt they recorded, then by id. A run file whose head
// (up to startedAt and status) does not parse is listed first, with its
// error.
func (l Layout) Runs() []RunInfo {
	var runs []RunInfo
	for _, id := range l.runFileIDs() {
		ri := RunInfo{ID: id}
		ri.StartedAt, ri.Status, ri.Err = readRunHead(l.RunFile(ri.ID))
		runs = append(runs, ri)
	}
	sort.Slice(runs, func(i, j int) bool {
		if !runs[i].StartedAt.Equal(runs[j].StartedAt) {
			return runs[i].StartedAt.Before(runs[j].StartedAt)
		}
		return runs[i].ID < runs[j].ID
	})
	return runs
}

// ReadRunHead reads only the head of run_<id>.json (startedAt and
// status, a few hundred bytes however many stages it lists). A missing
// file is an error wrapping os.ErrNotExist.
func (l Layout) ReadRunHead(runID string) RunInfo {
	ri := RunInfo{ID: runID}
	ri.StartedAt, ri.Status, ri.Err = readRunHead(l.RunFile(runID))
	return ri
}

// readRunHead reads startedAt and status from the head of a run file. They
// come before the stages in every record guardrun writes, so listing runs
// reads a few hundred bytes per run however many stages their records
// list (retention lists them at the end of every run). A file whose head
// does not parse is an error; the rest is parsed by ReadRun when the run is
// read.
func readRunHead(path string) (time.Time, string, error) {
	var (
		at     time.Time
		status string
	)
	f, err := os.Open(path)
	if err != nil {
		return at, status, err
	}
	defer f.Close()
	bad := func(err error) (time.Time, string, error) {
		return time.Time{}, "", fmt.Errorf("parsing %s: %w", path, err)
	}
	dec := json.NewDecoder(bufio.NewReaderSize(f, 1<<10))
	if t, err := dec.Token(); err != nil {
		return bad(err)
	} else if t != json.Delim('{') {
		return bad(errors.New("not a JSON object"))
	}
	for seen := 0; seen < 2; {
		if !dec.More() {
			if _, err := dec.Token(); err != nil { // the closing brace
				return bad(err)
			}
			break
		}
		t, err := dec.Token()
		if err != nil {
			return bad(err)
		}
		switch t {
		case "startedAt":
			err = dec.Decode(&at)
			seen++
		case "status":
			err = dec.Decode(&status)
			seen++
		default:
			var skip json.RawMessage
			err = dec.Decode(&skip)
		}
		if err != nil {
			return bad(err)
		}
	}
	return at, status, nil
}

// runFileIDs are the ids of the run_<id>.json files in stateDir, unordered.
func (l Layout) runFileIDs() []string {
	ents, err := os.ReadDir(l.StateDir)
	if err != nil {
		return nil
	}
	var ids []string
	for _, e := range ents {
		n := e.Name()
		if !e.Type().IsRegular() || !strings.HasPrefix(n, runPrefix) || !strings.HasSuffix(n, jsonExt) || len(n) == len(runPrefix+jsonExt) {
			continue
		}
		ids = append(ids, strings.TrimSuffix(strings.TrimPrefix(n, runPrefix), jsonExt))
	}
	return ids
}

// RunCount is how many run_<id>.json files stateDir holds, without reading
// them.
func (l Layout) RunCount() int { return len(l.runFileIDs()) }

// RemoveRun deletes the files of run runID (RunFiles), run_<id>.json last:
// after a crash or a failed removal the run is still listed, and the next
// retention pass deletes the rest. Missing files are fine.
func (l Layout) RemoveRun(runID string) error {
	for _, p := range l.RunFiles(runID) {
		if err := RemoveIfExists(p); err != nil {
			return err
		}
	}
	return nil
}

// RunIDs is the ids of Runs, in the same order.
func (l Layout) RunIDs() []string {
	runs := l.Runs()
	ids := make([]string, len(runs))
	for i, r := range runs {
		ids[i] = r.ID
	}
	return ids
}

// LatestRun is the id of the most recently started run whose record
// parses; "" when there is none.
func (l Layout) LatestRun() string {
	runs := l.Runs()
	for i := len(runs) - 1; i >= 0; i-- {
		if runs[i].Err == nil {
			return runs[i].ID
		}
	}
	return ""
}
