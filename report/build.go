package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/guardrun/guardrun/audit"
	"github.com/guardrun/guardrun/metrics"
	"github.com/guardrun/guardrun/runner"
)

// Audit event types the report reads (written by package runner).
const (
	evRunStart     = "run.start"
	evRunEnd       = "run.end"
	evPolicy       = "policy.verdict"
	evStageStart   = "stage.start"
	evStageAttempt = "stage.attempt"
	evStageRetry   = "stage.retry"
	evStageEnd     = "stage.end"
	evStageSkip    = "stage.skip"
	evStageBlocked = "stage.blocked"
)

// Build collects run runID from stateDir: run_<id>.json (required), the
// stage_<name>.json files that belong to this run, metrics_<id>.json and
// the run's records in audit.jsonl. A missing run is a *RunNotFoundError
// listing the run ids stateDir holds; other missing files become Notes.
func Build(stateDir, runID string) (*Model, error) {
	if !validRunID(runID) {
		return nil, notFound(stateDir, runID)
	}
	rs, err := runner.ReadRunState(stateDir, runID)
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

	met, err := metrics.ReadJSON(filepath.Join(stateDir, "metrics_"+runID+".json"))
	switch {
	case errors.Is(err, os.ErrNotExist):
		m.Notes = append(m.Notes, fmt.Sprintf("metrics_%s.json is missing (the run did not finish): no CPU, memory or volume figures", runID))
	case err != nil:
		m.Notes = append(m.Notes, fmt.Sprintf("metrics unreadable: %v", err))
	default:
		m.Totals = &met.Totals
	}

	recs, note := readAudit(filepath.Join(stateDir, "audit.jsonl"), runID)
	if note != "" {
		m.Notes = append(m.Notes, note)
	}
	byStage := map[string][]*audit.Record{}
	for _, r := range recs {
		m.Events = append(m.Events, toEvent(r))
		if r.Stage != "" {
			byStage[r.Stage] = append(byStage[r.Stage], r)
		}
		if r.Event == evPolicy && r.Stage == "" {
			m.Policy = kvs(r.Data)
		}
	}
	m.HeadCheck, m.HeadOK = checkHead(rs.Audit, recs)

	for _, rst := range rs.Stages {
		s := Stage{Name: rst.Name, Status: rst.Status, Reasons: rst.Reasons, Error: rst.Error, AttemptCount: rst.Attempts}
		if met != nil {
			for i := range met.Stages {
				if met.Stages[i].Name == rst.Name {
					s.Metrics = &met.Stages[i]
					break
				}
			}
		}
		fromAudit(&s, byStage[rst.Name])
		ss, err := runner.ReadStageState(stateDir, rst.Name)
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
	return &RunNotFoundError{RunID: runID, StateDir: stateDir, Available: AvailableRuns(stateDir)}
}

// AvailableRuns lists the run ids stateDir has a run_<id>.json for, sorted
// (time-based ids sort oldest first).
func AvailableRuns(stateDir string) []string {
	ents, err := os.ReadDir(stateDir)
	if err != nil {
		return nil
	}
	var ids []string
	for _, e := range ents {
		n := e.Name()
		if e.Type().IsRegular() && strings.HasPrefix(n, "run_") && strings.HasSuffix(n, ".json") && len(n) > len("run_.json") {
			ids = append(ids, strings.TrimSuffix(strings.TrimPrefix(n, "run_"), ".json"))
		}
	}
	sort.Strings(ids)
	return ids
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

func dataInt(d map[string]any, k string) (int64, bool) {
	switch x := d[k].(type) {
	case json.Number:
		n, err := x.Int64()
		return n, err == nil
	case float64:
		return int64(x), true
	}
	return 0, false
}

func dataString(d map[string]any, k string) string {
	s, _ := d[k].(string)
	return s
}

// fromAudit fills times, markers and reconstructed attempts from the
// stage's audit records: an attempt starts at stage.start (the first) or
// at its stage.retry plus the delay, and ends when its stage.attempt
// record was written.
func fromAudit(s *Stage, recs []*audit.Record) {
	if len(recs) == 0 {
		return
	}
	var atts []Attempt
	index := map[int64]int{}
	get := func(n int64) *Attempt {
		if i, ok := index[n]; ok {
			return &atts[i]
		}
		index[n] = len(atts)
		atts = append(atts, Attempt{N: int(n), Approx: true})
		return &atts[len(atts)-1]
	}
	for _, r := range recs {
		t := recTime(r)
		switch r.Event {
		case evStageStart:
			s.StartedAt = t
			s.Processor = dataString(r.Data, "processor")
			s.Version = dataString(r.Data, "version")
		case evStageRetry:
			n, _ := dataInt(r.Data, "attempt")
			d, _ := dataInt(r.Data, "delayMs")
			a := get(n)
			a.DelayMs = d
			a.StartedAt = t.Add(time.Duration(d) * time.Millisecond)
		case evStageAttempt:
			n, _ := dataInt(r.Data, "attempt")
			a := get(n)
			a.EndedAt = t
			a.Outcome = dataString(r.Data, "outcome")
			if c, ok := dataInt(r.Data, "exitCode"); ok {
				a.ExitCode = int(c)
			}
			a.Error = dataString(r.Data, "error")
			if a.N == 1 && a.StartedAt.IsZero() {
				a.StartedAt = s.StartedAt
			}
		case evStageEnd:
			s.EndedAt = t
			s.IdempotencyKey = dataString(r.Data, "idempotencyKey")
		case evStageSkip:
			s.MarkerAt = t
		case evStageBlocked:
			s.MarkerAt = t
			s.Upstream = dataString(r.Data, "upstream")
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
func fromStageState(s *Stage, ss *runner.StageState) {
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
			CPUSeconds: a.CPUSeconds, PeakMemoryBytes: a.PeakMemoryBytes, Notes: a.Notes,
		})
	}
}

// checkHead compares the head the run stored with the run's own records.
func checkHead(h *runner.AuditHead, recs []*audit.Record) (string, bool) {
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
