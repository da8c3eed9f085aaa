package runstate

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/guardrun/guardrun/audit"
	"github.com/guardrun/guardrun/sandbox"
)

func TestLayoutNamesEveryFile(t *testing.T) {
	l := Layout{StateDir: "/w/state", LocksDir: "/w/locks"}
	for _, tc := range []struct{ got, want string }{
		{l.RunFile("r1"), "/w/state/run_r1.json"},
		{l.StageFile("s"), "/w/state/stage_s.json"},
		{l.ProgressFile("s"), "/w/state/progress_s.json"},
		{l.MetricsJSON("r1"), "/w/state/metrics_r1.json"},
		{l.MetricsProm("r1"), "/w/state/metrics_r1.prom"},
		{l.AuditLog(), "/w/state/audit.jsonl"},
		{l.LogDir(), "/w/state/logs"},
		{l.StageLog("s"), "/w/state/logs/s.log"},
		{l.GuardrunLog(), "/w/state/guardrun.log"},
		{l.PreflightFile(), "/w/state/preflight.json"},
		{l.HashCache(), "/w/state/hashcache.txt"},
		{l.BinDir("0123456789abcdef0123456789abcdef"), "/w/state/bin/0123456789abcdef01234567"},
		{l.ReportFile("r1"), "/w/state/report_r1.html"},
		{l.AuditDir(), "/w/state/audit.d"},
		{l.OutputsFile("ab12"), "/w/state/audit.d/outputs-ab12.json"},
		{l.PipelineLock(), "/w/locks/pipeline.lock"},
		{l.StageLock("s"), "/w/locks/stage_s.lock"},
		{MarkerFile("/w/out", "s"), "/w/out/.s.done"},
		{StagingDir("/w/out", "s"), "/w/out/.s.staging"},
	} {
		assert.Equal(t, filepath.FromSlash(tc.want), tc.got)
	}
}

func TestIsArtifact(t *testing.T) {
	for name, want := range map[string]bool{
		".s.done": true, ".s.staging": true, ".x.json.12.grtmp": true,
		"s.done": false, "result.txt": false, ".hidden": false, ".done.txt": false,
	} {
		assert.Equal(t, want, IsArtifact(name), name)
	}
	assert.True(t, IsArtifact(MarkerName("stage_x")))
	assert.True(t, IsArtifact(filepath.Base(StagingDir("/o", "stage_x"))))
}

func TestRecordsRoundTripAndBadFilesAreReported(t *testing.T) {
	l := Layout{StateDir: t.TempDir()}
	now := time.Date(2026, 12, 2, 7, 0, 0, 0, time.UTC)
	rs := &RunState{RunID: "r1", Pipeline: "p", Status: RunSucceeded, StartedAt: now, EndedAt: &now,
		Stages: []RunStage{{Name: "s", Status: StageSkipped}}, Audit: &AuditHead{Seq: 3, Hash: "h"}}
	require.NoError(t, l.WriteRun(rs))
	got, err := l.ReadRun("r1")
	require.NoError(t, err)
	assert.Equal(t, rs, got)

	ss := &StageState{Name: "s", RunID: "r1", Status: StageFailed, StartedAt: now, Attempts: []Attempt{{Attempt: 1, Outcome: OutcomeOOMKill}},
		Outputs: []OutputRecord{}, Enforcement: &sandbox.Report{Network: "netns"}}
	require.NoError(t, l.WriteStage(ss))
	gs, err := l.ReadStage("s")
	require.NoError(t, err)
	assert.Equal(t, ss, gs)

	p, err := l.ReadProgress("s")
	assert.NoError(t, err)
	assert.Nil(t, p, "no checkpoint is not an error")
	pr := &Progress{Stage: "s", IdempotencyKey: "k", LineOffset: 5, ByteOffset: 50, Outputs: map[string]int64{"o": 50}, UpdatedAt: now}
	require.NoError(t, l.WriteProgress(pr))
	gp, err := l.ReadProgress("s")
	require.NoError(t, err)
	assert.Equal(t, pr, gp)
	require.NoError(t, l.RemoveProgress("s"))
	require.NoError(t, l.RemoveProgress("s"), "removing twice is fine")

	require.NoError(t, os.WriteFile(l.RunFile("bad"), []byte("{not json"), 0o644))
	_, err = l.ReadRun("bad")
	assert.ErrorContains(t, err, "parsing "+l.RunFile("bad"))
	_, err = l.ReadRun("missing")
	assert.True(t, errors.Is(err, os.ErrNotExist))
	require.NoError(t, os.WriteFile(l.ProgressFile("torn"), []byte(`{"stage":`), 0o644))
	_, err = l.ReadProgress("torn")
	assert.Error(t, err, "a torn checkpoint is reported, not taken as none")
}

func TestMarkerHeadLeavesPartsForLater(t *testing.T) {
	out := t.TempDir()
	h, err := ReadMarkerHead(out, "s")
	require.NoError(t, err)
	assert.Nil(t, h)
	m := &Marker{Version: MarkerVersion, Stage: "s", Key: "k1", Parts: json.RawMessage(`{"format":1}`),
		Outputs: []MarkerOutput{{OutputRecord: OutputRecord{Path: "o/x", Size: 1, SHA256: "aa"}}}, Counters: &MarkerCounters{BytesIn: 9}}
	require.NoError(t, WriteMarker(out, m))
	h, err = ReadMarkerHead(out, "s")
	require.NoError(t, err)
	assert.Equal(t, "k1", h.Key)
	assert.Equal(t, m.Outputs, h.Outputs)
	assert.Equal(t, int64(9), h.Counters.BytesIn)
	full, err := h.DecodeMarker()
	require.NoError(t, err)
	assert.JSONEq(t, `{"format":1}`, string(full.Parts))
	require.NoError(t, RemoveMarker(out, "s"))
	assert.NoFileExists(t, MarkerFile(out, "s"))
	require.NoError(t, os.WriteFile(MarkerFile(out, "s"), []byte("{"), 0o644))
	_, err = ReadMarkerHead(out, "s")
	assert.ErrorContains(t, err, "parsing")
}

// TestRunsOneOrdering: status, verify and report all find "the latest run"
// and list runs the same way: by the start time each run recorded, then by
// id; a run file that does not parse is listed first and is never latest.
func TestRunsOneOrdering(t *testing.T) {
	l := Layout{StateDir: t.TempDir()}
	assert.Empty(t, l.Runs())
	assert.Equal(t, "", l.LatestRun())
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for id, at := range map[string]time.Time{
		"zzz-oldest": t0,
		"aaa-newest": t0.Add(2 * time.Hour),
		"mmm":        t0.Add(time.Hour),
		"mmm-tie":    t0.Add(time.Hour),
	} {
		require.NoError(t, l.WriteRun(&RunState{RunID: id, StartedAt: at, Status: RunSucceeded}))
	}
	require.NoError(t, os.WriteFile(l.RunFile("broken"), []byte("{"), 0o644))
	require.NoError(t, os.WriteFile(l.RunFile("badtime"), []byte(`{"runId": "badtime", "startedAt": 5, "status": "x"}`), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(l.StateDir, "run_.json"), []byte("{}"), 0o644))
	require.NoError(t, os.Mkdir(filepath.Join(l.StateDir, "run_dir.json"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(l.StateDir, "stage_x.json"), []byte("{}"), 0o644))
	assert.Equal(t, []string{"badtime", "broken", "zzz-oldest", "mmm", "mmm-tie", "aaa-newest"}, l.RunIDs())
	assert.Equal(t, "aaa-newest", l.LatestRun())
	runs := l.Runs()
	assert.ErrorContains(t, runs[0].Err, "parsing")
	assert.ErrorContains(t, runs[1].Err, "parsing")
	assert.Equal(t, RunSucceeded, runs[2].Status)
	assert.Equal(t, 6, l.RunCount())
}

// payloads is one value of every event payload, with every field set.
func payloads() []Payload {
	waived := 2
	return []Payload{
		RunStart{Pipeline: "p", SpecHash: "h", PID: 7, Host: "x", BestEffort: true},
		RunEnd{Status: RunFailed, Error: "e", Counts: &StageCounts{Stages: 9, Ran: 1, Skipped: 2, Failed: 1, Blocked: 2, Interrupted: 1, Running: 1, Pending: 1}},
		LockAcquired{Path: "/l"},
		LockWait{Holder: "run a"},
		PolicyVerdict{Policy: "pass", Fingerprint: "f", Warnings: 1, Waived: &waived, Netlint: "pass (1 go processors)"},
		SandboxReport{Report: sandbox.Report{Network: "netns", Memory: "cgroup v1", Notes: []string{"n"}, BestEffort: true}},
		Sweep{RecoveredRun: "r0", RecoveredStatus: RunFailed, Reason: "why", Removed: []string{"a"}},
		StageSkip{},
		StageStart{Reasons: []string{"r"}, Processor: "/p", Version: "v"},
		AttemptStart{Attempt: 2},
		StageAttempt{Attempt: 1, Outcome: OutcomeTransient, ExitCode: 75, Error: "exit code 75 (transient)"},
		StageRetry{Attempt: 2, DelayMs: 100},
		StageResume{Attempt: 2, LineOffset: 10, ByteOffset: 100},
		StageCheckpoint{Attempt: 1, LineOffset: 10, ByteOffset: 100},
		StageEnd{Status: StageSucceeded, Attempts: 1, IdempotencyKey: "k", Outputs: []OutputRecord{{Path: "o", Size: 1, SHA256: "s"}},
			OutputsCount: 2, OutputsSHA256: "d", OutputsFile: "audit.d/outputs-d.json"},
		BlockedByUpstream{Upstream: "u"},
		ProgressReport{Lines: 1, Bytes: 2, TotalBytes: 3},
		NewStagesSkipped([]string{"a", "b"}),
		RunCompacted{RunID: "r0", Status: RunSucceeded, StartedAt: time.Date(2026, 12, 1, 7, 0, 0, 5, time.UTC), EndedAt: &compactedEnd,
			Error: "e", Counts: &StageCounts{Stages: 2, Skipped: 2}, Audit: &AuditHead{Seq: 4, Hash: "h"}},
	}
}

var compactedEnd = time.Date(2026, 12, 1, 7, 0, 1, 0, time.UTC)

// TestPayloadsRoundTripThroughTheAuditChain: what the runner records is
// what the report reads back, through a real audit log, typed on both
// ends.
func TestPayloadsRoundTripThroughTheAuditChain(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	al, err := audit.Open(path, nil)
	require.NoError(t, err)
	names := map[string]bool{}
	for _, d := range payloads() {
		assert.False(t, names[d.Event()], "two payload types for %s", d.Event())
		names[d.Event()] = true
		_, err := al.AppendNoSync(audit.Event{Type: d.Event(), RunID: "r", Data: d})
		require.NoError(t, err)
	}
	require.NoError(t, al.Close())
	_, err = audit.Verify(path, nil)
	require.NoError(t, err)

	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	want := payloads()
	i := 0
	for sc.Scan() {
		var rec audit.Record
		dec := json.NewDecoder(strings.NewReader(sc.Text()))
		dec.UseNumber()
		require.NoError(t, dec.Decode(&rec))
		require.Equal(t, want[i].Event(), rec.Event)
		got := decodeAs(t, want[i], rec.Data)
		assert.Equal(t, want[i], got, rec.Event)
		i++
	}
	assert.Equal(t, len(want), i)
}

// decodeAs decodes data into the type of like, through DecodeData.
func decodeAs(t *testing.T, like Payload, data map[string]any) Payload {
	t.Helper()
	var (
		got Payload
		err error
	)
	switch like.(type) {
	case RunStart:
		got, err = DecodeData[RunStart](data)
	case RunEnd:
		got, err = DecodeData[RunEnd](data)
	case LockAcquired:
		got, err = DecodeData[LockAcquired](data)
	case LockWait:
		got, err = DecodeData[LockWait](data)
	case PolicyVerdict:
		got, err = DecodeData[PolicyVerdict](data)
	case SandboxReport:
		got, err = DecodeData[SandboxReport](data)
	case Sweep:
		got, err = DecodeData[Sweep](data)
	case StageSkip:
		got, err = DecodeData[StageSkip](data)
	case StageStart:
		got, err = DecodeData[StageStart](data)
	case AttemptStart:
		got, err = DecodeData[AttemptStart](data)
	case StageAttempt:
		got, err = DecodeData[StageAttempt](data)
	case StageRetry:
		got, err = DecodeData[StageRetry](data)
	case StageResume:
		got, err = DecodeData[StageResume](data)
	case StageCheckpoint:
		got, err = DecodeData[StageCheckpoint](data)
	case StageEnd:
		got, err = DecodeData[StageEnd](data)
	case BlockedByUpstream:
		got, err = DecodeData[BlockedByUpstream](data)
	case ProgressReport:
		got, err = DecodeData[ProgressReport](data)
	case StagesSkipped:
		got, err = DecodeData[StagesSkipped](data)
	case RunCompacted:
		got, err = DecodeData[RunCompacted](data)
	default:
		t.Fatalf("no decode case for %T", like)
	}
	require.NoError(t, err)
	require.Equal(t, reflect.TypeOf(like), reflect.TypeOf(got))
	return got
}

func TestAuditedLeavesLiveEventsOut(t *testing.T) {
	for _, d := range payloads() {
		live := d.Event() == EvProgress || d.Event() == EvLockWait || d.Event() == EvAttemptStart || d.Event() == EvStageSkip
		assert.Equal(t, !live, Audited(d.Event()), d.Event())
		assert.Equal(t, d.Event() != EvProgress && d.Event() != EvStageSkip, Logged(d.Event()), d.Event())
	}
	_, err := DecodeData[StageEnd](map[string]any{"attempts": "three"})
	assert.ErrorContains(t, err, "decoding stage.end data")
}

// TestSkippedStagesAreNamedApart: a run record lists the stages that did
// not skip and names the skipped ones; AllStages gives every line back,
// and the counts add up.
func TestSkippedStagesAreNamedApart(t *testing.T) {
	rs := &RunState{RunID: "r"}
	rs.SetStages([]RunStage{
		{Name: "a", Status: StageSkipped},
		{Name: "b", Status: StageSucceeded, Attempts: 1, Reasons: []string{"never run"}},
		{Name: "c", Status: StageSkipped},
		{Name: "d", Status: StageFailed, Attempts: 3, Error: "boom"},
		{Name: "e", Status: StageBlocked},
		{Name: "f", Status: StageRunning},
		{Name: "g", Status: StagePending},
	})
	assert.Equal(t, []string{"b", "d", "e", "f", "g"}, names(rs.Stages))
	assert.Equal(t, &SkippedStages{Count: 2, Names: []string{"a", "c"}}, rs.Skipped)
	assert.Equal(t, &StageCounts{Stages: 7, Ran: 1, Skipped: 2, Failed: 1, Blocked: 1, Running: 1, Pending: 1}, rs.Counts)
	assert.Equal(t, "1 ran, 2 skipped, 1 failed, 1 blocked, 1 running, 1 pending", rs.Counts.String())
	all := rs.AllStages()
	assert.Equal(t, []string{"b", "d", "e", "f", "g", "a", "c"}, names(all))
	assert.Equal(t, StageSkipped, all[5].Status)

	// Round trip through the file, and a record of an older version (every
	// stage in stages, no counts) gets its counts from Recount.
	l := Layout{StateDir: t.TempDir()}
	require.NoError(t, l.WriteRun(rs))
	back, err := l.ReadRun("r")
	require.NoError(t, err)
	assert.Equal(t, rs, back)
	old := &RunState{RunID: "old", Stages: []RunStage{{Name: "a", Status: StageSkipped}, {Name: "b", Status: StageSucceeded}}}
	assert.Len(t, old.AllStages(), 2)
	old.Recount()
	assert.Equal(t, "1 ran, 1 skipped", old.Counts.String())

	none := &RunState{}
	none.SetStages([]RunStage{{Name: "a", Status: StageSucceeded}})
	assert.Nil(t, none.Skipped)
	none.SetStages([]RunStage{{Name: "a", Status: StageSkipped}})
	assert.NotNil(t, none.Stages, "stages is [] in the file, not null")
}

func names(lines []RunStage) []string {
	var out []string
	for _, s := range lines {
		out = append(out, s.Name)
	}
	return out
}

func TestStagesSkippedNamesFewAndDigestsAll(t *testing.T) {
	few := NewStagesSkipped([]string{"a", "b"})
	assert.Equal(t, []string{"a", "b"}, few.Names)
	assert.Equal(t, "2 stages: a, b", few.Summary())
	var many []string
	for i := 0; i <= MaxSkippedNames; i++ {
		many = append(many, fmt.Sprintf("s%d", i))
	}
	d := NewStagesSkipped(many)
	assert.Nil(t, d.Names, "a record of constant size")
	assert.Equal(t, MaxSkippedNames+1, d.Count)
	assert.Equal(t, SkippedDigest(many), d.NamesSHA256)
	assert.NotEqual(t, SkippedDigest(many[1:]), d.NamesSHA256)
	assert.Equal(t, fmt.Sprintf("%d stages", MaxSkippedNames+1), d.Summary())
	assert.Equal(t, "911169ddaaf146aff539f58c26c489af3b892dff0fe283c1c264c65ae5aa59a2", few.NamesSHA256, "sha256 of \"a\\nb\\n\"")
}

// TestRemoveRunDeletesEveryFileOfTheRunRecordLast: retention deletes the
// report, the metrics and the record; the other runs stay.
func TestRemoveRunDeletesEveryFileOfTheRunRecordLast(t *testing.T) {
	l := Layout{StateDir: t.TempDir()}
	for _, id := range []string{"r1", "r2"} {
		for _, f := range l.RunFiles(id) {
			require.NoError(t, os.WriteFile(f, []byte("{}"), 0o644))
		}
	}
	assert.Equal(t, 2, l.RunCount())
	assert.Equal(t, l.RunFile("r1"), l.RunFiles("r1")[len(l.RunFiles("r1"))-1], "the record goes last")
	require.NoError(t, l.RemoveRun("r1"))
	for _, f := range l.RunFiles("r1") {
		assert.NoFileExists(t, f)
	}
	for _, f := range l.RunFiles("r2") {
		assert.FileExists(t, f)
	}
	assert.Equal(t, []string{"r2"}, l.RunIDs())
	require.NoError(t, l.RemoveRun("r1"), "removing twice is fine")
}

// TestRunsReadOnlyTheHeadOfEachRecord: listing runs reads startedAt and
// status, which every record has before its stages, and nothing after
// them; reading the run itself still reports a damaged record.
func TestRunsReadOnlyTheHeadOfEachRecord(t *testing.T) {
	l := Layout{StateDir: t.TempDir()}
	require.NoError(t, os.WriteFile(l.RunFile("r1"), []byte(`{"runId": "r1", "pipeline": "p", "startedAt": "2026-01-01T00:00:00Z", "status": "failed", "stages": [`), 0o644))
	runs := l.Runs()
	require.Len(t, runs, 1)
	require.NoError(t, runs[0].Err)
	assert.Equal(t, RunFailed, runs[0].Status)
	assert.Equal(t, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), runs[0].StartedAt)
	_, err := l.ReadRun("r1")
	assert.ErrorContains(t, err, "parsing")
}

// BenchmarkRuns lists 50 run records of a 4,500-stage no-op (95 KB each),
// what retention does at the end of every run (docs/BENCHMARKS.md).
func BenchmarkRuns(b *testing.B) {
	l := Layout{StateDir: b.TempDir()}
	names := make([]string, 4500)
	for i := range names {
		names[i] = fmt.Sprintf("copy_f%05d", i)
	}
	for r := 0; r < 50; r++ {
		rs := &RunState{RunID: fmt.Sprint("r", r), StartedAt: time.Now(), Status: RunSucceeded, Stages: []RunStage{}}
		rs.Skipped = &SkippedStages{Count: len(names), Names: names}
		require.NoError(b, l.WriteRun(rs))
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if len(l.Runs()) != 50 {
			b.Fatal("not 50 runs")
		}
	}
}
