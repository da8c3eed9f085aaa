package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/guardrun/guardrun/audit"
	"github.com/guardrun/guardrun/internal/runstate"
)

// Build collects run runID from stateDir: run_<id>.json (required), the
// stage_<name>.json files that belong to this run, metrics_<id>.json and
// the run's records in audit.jsonl. A missing run is a *RunNotFoundError
// listing the run ids stateDir holds; other missing files become Notes.
func Build(stateDir, runID string) (*Model, error) {
	if !validRunID(runID) {
		return nil, notFound(stateDir, runID)
	}
	layout := runstate.Layout{StateDir: stateDir}
	rs, err := layout.ReadRun(runID)
	if errors.Is(err, os.ErrNotExist) {
		return nil, notFound(stateDir, runID)
	}
	if err != nil {
		return nil, fmt.Errorf("reading run %s: %w", runID, err)
	}
	m := &Model{
		RunID: rs.RunID, Pipeline: rs.Pipeline, Status: rs.Status, SpecHash: rs.SpecHash, Host: rs.Host, PID: rs.PID,
		StartedAt: rs.StartedAt.UTC(), Error: rs.Error, Forced: rs.Forced, BestEffort: rs.BestEffort,
		Enforcement: rs.Enforcement, AuditHead: rs.Audit, GeneratedAt: time.Now().UTC(),
	}
	if m.RunID == "" {
		m.RunID = runID
	}
	if rs.EndedAt != nil {
		m.EndedAt = rs.EndedAt.UTC()
	}

	met, err := layout.ReadMetrics(runID)
	switch {
	case errors.Is(err, os.ErrNotExist):
		m.Notes = append(m.Notes, fmt.Sprintf("metrics_%s.json is missing (the run did not finish): no CPU, memory or volume figures", runID))
	case err != nil:
		m.Notes = append(m.Notes, fmt.Sprintf("metrics unreadable: %v", err))
	default:
		m.Totals = &met.Totals
		for _, s := range met.Stages {
			if !s.Skipped { // files written before Skipped existed list skipped stages too
				m.BytesRead += s.BytesIn
				m.BytesWritten += s.BytesOut
			}
		}
	}

	recs, note := readAudit(layout.AuditLog(), runID)
	if note != "" {
		m.Notes = append(m.Notes, note)
	}
	byStage := map[string][]*audit.Record{}
	var skippedAt time.Time // the run's stages.skipped record
	for _, r := range recs {
		m.Events = append(m.Events, toEvent(r))
		if r.Stage != "" {
			byStage[r.Stage] = append(byStage[r.Stage], r)
		}
		if r.Event == runstate.EvPolicy && r.Stage == "" {
			m.Policy = kvs(r.Data)
		}
		if r.Event == runstate.EvStagesSkipped {
			skippedAt = recTime(r)
		}
	}
	m.HeadCheck, m.HeadOK = checkHead(rs.Audit, recs)

	// A stage builds at most one processor: the one it runs.
	builds := map[string]*runstate.ProcessorBuild{}
	for i := range rs.Builds {
		b := &rs.Builds[i]
		builds[b.Stage] = b
		m.BuildSeconds += b.Seconds
	}
	// Skipped stages are listed by name after the others (run_<id>.json
	// names them apart); runs recorded before list every stage in Stages.
	for _, rst := range rs.AllStages() {
		s := Stage{Name: rst.Name, Status: rst.Status, Reasons: rst.Reasons, Error: rst.Error, OutputTail: rst.OutputTail, Log: rst.Log, AttemptCount: rst.Attempts, Items: rst.Items, Build: builds[rst.Name]}
		if met != nil {
			for i := range met.Stages {
				if met.Stages[i].Name == rst.Name {
					s.Metrics = &met.Stages[i]
					break
				}
			}
		}
		fromAudit(&s, byStage[rst.Name])
		if s.Status == runstate.StageSkipped && s.MarkerAt.IsZero() {
			// One record for all the run's skips (no stage.skip per stage):
			// written at the end of the run.
			s.MarkerAt = skippedAt
		}
		ss, err := layout.ReadStage(rst.Name)
		switch {
		case err == nil && ss.RunID == runID:
			fromStageState(&s, ss)
		case err != nil && !errors.Is(err, os.ErrNotExist):
			m.Notes = append(m.Notes, fmt.Sprintf("stage_%s.json unreadable: %v", rst.Name, err))
		}
		if s.Source == "" {
			s.Source = SourceRunState
		}
		m.Stages = append(m.Stages, s)
	}
	if m.EndedAt.IsZero() && len(m.Events) > 0 {
		m.Notes = append(m.Notes, "the run recorded no end (it is still running or it crashed); the timeline ends at its last audit record")
	}
	return m, nil
}

func validRunID(id string) bool {
	return id != "" && !strings.ContainsAny(id, `/\`+"\x00") && id != "." && id != ".."
}

func notFound(stateDir, runID string) error {
	return &RunNotFoundError{RunID: runID, StateDir: stateDir, Available: runstate.Layout{StateDir: stateDir}.RunIDs()}
}

// readAudit returns the records of runID, in log order. It streams the
// log (it grows across runs) and decodes only lines that mention the run.
// Problems (no log, a torn or foreign line) come back as a note: the rest
// of the page does not depend on the log.
func readAudit(path, runID string) ([]*audit.Record, string) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, "audit.jsonl is missing: no event timeline, attempt times only from the stage state"
	}
	if err != nil {
		return nil, fmt.Sprintf("audit log unreadable: %v", err)
	}
	defer f.Close()
	var idJSON bytes.Buffer
	enc := json.NewEncoder(&idJSON)
	enc.SetEscapeHTML(false) // as the log writes it
	_ = enc.Encode(runID)
	needle := append([]byte(`"runId":`), bytes.TrimSpace(idJSON.Bytes())...)

	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), audit.MaxLineBytes)
	var recs []*audit.Record
	bad := 0
	for sc.Scan() {
		line := sc.Bytes()
		if !bytes.Contains(line, needle) {
			continue
		}
		var r audit.Record
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.UseNumber()
		if err := dec.Decode(&r); err != nil || r.RunID != runID {
			if err != nil {
				bad++
			}
			continue
		}
		recs = append(recs, &r)
	}
	note := ""
	if err := sc.Err(); err != nil {
		note = fmt.Sprintf("audit log read stopped early: %v", err)
	} else if bad > 0 {
		note = fmt.Sprintf("audit log: %d line(s) of this run do not parse and were left out (run `guardrun verify`)", bad)
	}
	return recs, note
}

func recTime(r *audit.Record) time.Time {
	t, err := time.Parse(time.RFC3339Nano, r.Time)
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}

func toEvent(r *audit.Record) Event {
	return Event{Seq: r.Seq, Time: recTime(r), Event: r.Event, Stage: r.Stage, Details: kvs(r.Data)}
}

// kvs formats data as sorted key/value pairs.
func kvs(data map[string]any) []KV {
	if len(data) == 0 {
		return nil
	}
	keys := make([]string, 0, len(data))
	for k := range data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]KV, 0, len(keys))
	for _, k := range keys {
		if v := data[k]; v == nil || v == "" {
			continue // e.g. the empty "error" of a successful attempt
		}
		out = append(out, KV{Key: k, Value: formatValue(data[k])})
	}
	return out
}

func formatValue(v any) string {
	switch x := v.(type) {
	case nil:
		return "—"
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = formatValue(e)
		}
		return strings.Join(parts, ", ")
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // html/template escapes on output
	if err := enc.Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSpace(b.String())
}

// fromAudit fills times, markers and reconstructed attempts from the
// stage's audit records: an attempt starts at stage.start (the first) or
// at its stage.retry plus the delay, and ends when its stage.attempt
// record was written. A record whose data does not decode as its event's
// payload is left out of the reconstruction (the event list still shows
// it).
func fromAudit(s *Stage, recs []*audit.Record) {
	if len(recs) == 0 {
		return
	}
	var atts []Attempt
	index := map[int]int{}
	get := func(n int) *Attempt {
		if i, ok := index[n]; ok {
			return &atts[i]
		}
		index[n] = len(atts)
		atts = append(atts, Attempt{N: n, Approx: true})
		return &atts[len(atts)-1]
	}
	for _, r := range recs {
		t := recTime(r)
		switch r.Event {
		case runstate.EvStageStart:
			s.StartedAt = t
			if d, err := runstate.DecodeData[runstate.StageStart](r.Data); err == nil {
				s.Processor, s.Version = d.Processor, d.Version
			}
		case runstate.EvStageRetry:
			if d, err := runstate.DecodeData[runstate.StageRetry](r.Data); err == nil {
				a := get(d.Attempt)
				a.DelayMs = d.DelayMs
				a.StartedAt = t.Add(time.Duration(d.DelayMs) * time.Millisecond)
			}
		case runstate.EvStageAttempt:
			if d, err := runstate.DecodeData[runstate.StageAttempt](r.Data); err == nil {
				a := get(d.Attempt)
				a.EndedAt, a.Outcome, a.ExitCode, a.Error = t, d.Outcome, d.ExitCode, d.Error
				if a.N == 1 && a.StartedAt.IsZero() {
					a.StartedAt = s.StartedAt
				}
			}
		case runstate.EvStageEnd:
			s.EndedAt = t
			if d, err := runstate.DecodeData[runstate.StageEnd](r.Data); err == nil {
				s.IdempotencyKey = d.IdempotencyKey
			}
		case runstate.EvStageSkip:
			s.MarkerAt = t
		case runstate.EvStageBlocked:
			s.MarkerAt = t
			if d, err := runstate.DecodeData[runstate.BlockedByUpstream](r.Data); err == nil {
				s.Upstream = d.Upstream
			}
		}
	}
	if len(atts) > 0 && atts[0].N == 1 && atts[0].StartedAt.IsZero() {
		atts[0].StartedAt = s.StartedAt
	}
	sort.Slice(atts, func(i, j int) bool { return atts[i].N < atts[j].N })
	s.Attempts = atts
	s.Source = SourceAudit
}

// fromStageState replaces the audit reconstruction with the stage state's
// exact attempts (the state belongs to this run).
func fromStageState(s *Stage, ss *runstate.StageState) {
	s.Source = SourceStageState
	s.StartedAt = ss.StartedAt.UTC()
	if ss.EndedAt != nil {
		s.EndedAt = ss.EndedAt.UTC()
	}
	if len(s.Reasons) == 0 {
		s.Reasons = ss.Reasons
	}
	if s.Error == "" {
		s.Error = ss.Error
	}
	s.IdempotencyKey = ss.IdempotencyKey
	s.Limits = ss.Limits
	s.Outputs = ss.Outputs
	s.Attempts = nil
	for _, a := range ss.Attempts {
		s.Attempts = append(s.Attempts, Attempt{
			N: a.Attempt, StartedAt: a.StartedAt.UTC(), EndedAt: a.EndedAt.UTC(), Outcome: a.Outcome, ExitCode: a.ExitCode,
			Signal: a.Signal, Error: a.Error, DelayMs: a.DelayMs, HasOffsets: true,
			StartLineOffset: a.StartLineOffset, StartByteOffset: a.StartByteOffset, EndLineOffset: a.EndLineOffset,
			CPUSeconds: a.CPUSeconds, PeakMemoryBytes: a.PeakMemoryBytes, Notes: a.Notes, OutputTail: a.OutputTail,
		})
	}
}

// checkHead compares the head the run stored with the run's own records.
func checkHead(h *runstate.AuditHead, recs []*audit.Record) (string, bool) {
	if h == nil {
		return "the run stored no audit head (it did not finish)", false
	}
	for _, r := range recs {
		if r.Seq == h.Seq {
			if r.Hash == h.Hash {
				return fmt.Sprintf("audit.jsonl holds this record (seq %d, %s)", r.Seq, r.Event), true
			}
			return fmt.Sprintf("audit.jsonl has a different hash at seq %d: the log was rewritten; run `guardrun verify`", h.Seq), false
		}
	}
	return fmt.Sprintf("no record of this run with seq %d in audit.jsonl: records cut off or log replaced; run `guardrun verify`", h.Seq), false
}
