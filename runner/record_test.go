package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/guardrun/guardrun/audit"
	"github.com/guardrun/guardrun/internal/runstate"
	"github.com/guardrun/guardrun/internal/testutil"
	"github.com/guardrun/guardrun/sandbox"
)

// gatedSandbox holds the processor of one stage at its start until open is
// closed; reached is closed when that stage got there.
type gatedSandbox struct {
	sandbox.Sandbox
	stage   string
	reached chan struct{}
	open    chan struct{}
	once    sync.Once
}

func newGatedSandbox(t *testing.T, stage string) *gatedSandbox {
	return &gatedSandbox{Sandbox: plainSandbox(t), stage: stage, reached: make(chan struct{}), open: make(chan struct{})}
}

func (g *gatedSandbox) Start(ctx context.Context, c *sandbox.Cmd) (sandbox.Process, error) {
	if slices.Contains(c.Env, "PIPELINE_STAGE_NAME="+g.stage) {
		g.once.Do(func() { close(g.reached) })
		select {
		case <-g.open:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return g.Sandbox.Start(ctx, c)
}

// eventually polls cond until it holds: it waits for something the code
// under test does, with a deadline only against hanging forever.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestRunRecordFollowsStagesAsTheyEnd: while the second stage is held at
// its start, run_<id>.json already says that the first one succeeded and
// the second one runs; a run killed at that moment leaves that record.
func TestRunRecordFollowsStagesAsTheyEnd(t *testing.T) {
	dir := testutil.Workspace(t, map[string]string{"pipeline.json": twoStages, "data/input/sample.txt": "a\nb\n"})
	gate := newGatedSandbox(t, "stage_upper")
	type outcome struct {
		res *Result
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		res, err := Run(context.Background(), load(t, dir), Options{RunID: "r1", Sandbox: gate})
		done <- outcome{res, err}
	}()
	select {
	case <-gate.reached:
	case o := <-done:
		t.Fatalf("the run ended before stage_upper started: %v", o.err)
	}
	var rs *runstate.RunState
	eventually(t, "run_r1.json to record the end of stage_copy", func() bool {
		var err error
		rs, err = stateOf(dir).ReadRun("r1")
		return err == nil && stageStatuses(rs)["stage_copy"] == runstate.StageSucceeded && stageStatuses(rs)["stage_upper"] == runstate.StageRunning
	})
	assert.Equal(t, runstate.RunRunning, rs.Status)
	assert.Nil(t, rs.EndedAt)
	assert.Equal(t, &runstate.StageCounts{Stages: 2, Ran: 1, Running: 1}, rs.Counts)
	assert.Equal(t, 1, runLine(t, rs, "stage_copy").Attempts)
	close(gate.open)
	o := <-done
	require.NoError(t, o.err)
	rs, err := stateOf(dir).ReadRun("r1")
	require.NoError(t, err)
	assert.Equal(t, runstate.RunSucceeded, rs.Status)
	assert.Equal(t, &runstate.StageCounts{Stages: 2, Ran: 2}, rs.Counts)
	assert.GreaterOrEqual(t, o.res.recordWrites, 3, "running, stage_copy's end, the end of the run")
}

// TestNoopRunWritesItsRecordOnce: a run in which nothing runs writes
// run_<id>.json once, at the end, and names the skipped stages there
// instead of a line each.
func TestNoopRunWritesItsRecordOnce(t *testing.T) {
	dir := testutil.Workspace(t, map[string]string{"pipeline.json": twoStages, "data/input/sample.txt": "a\nb\n"})
	res, err := runOnce(t, dir, Options{RunID: "r1"})
	require.NoError(t, err)
	assert.GreaterOrEqual(t, res.recordWrites, 2)
	res, err = runOnce(t, dir, Options{RunID: "r2"})
	require.NoError(t, err)
	assert.Equal(t, 1, res.recordWrites)
	rs, err := stateOf(dir).ReadRun("r2")
	require.NoError(t, err)
	assert.Empty(t, rs.Stages)
	assert.Equal(t, &runstate.SkippedStages{Count: 2, Names: []string{"stage_copy", "stage_upper"}}, rs.Skipped)
	assert.Equal(t, &runstate.StageCounts{Stages: 2, Skipped: 2}, rs.Counts)

	// The chain and the log have one record of the skips, not one per stage.
	b, err := os.ReadFile(stateOf(dir).AuditLog())
	require.NoError(t, err)
	assert.NotContains(t, string(b), `"event":"stage.skip"`)
	assert.Equal(t, 1, strings.Count(string(b), `"event":"stages.skipped"`))
	assert.Contains(t, string(b), `"names":["stage_copy","stage_upper"]`)
}

// manyStages is a spec of n independent copy stages over tiny files and the
// files, with retention of keep runs.
func manyStages(n, keep int) (string, map[string]string) {
	files := map[string]string{}
	var stages []string
	for i := 1; i <= n; i++ {
		files[fmt.Sprintf("input/f%04d.txt", i)] = fmt.Sprintf("line %d\n", i)
		stages = append(stages, fmt.Sprintf(`{"name": "copy_f%04d", "processor": {"exec": ["bin/copy"]}, "inputs": ["input/f%04d.txt"], "outputDir": "work", "outputs": ["f%04d.txt"], "dependsOn": []}`, i, i, i))
	}
	spec := fmt.Sprintf(`{"version": 1, "name": "many", "retention": {"runs": %d}, "stages": [%s]}`, keep, strings.Join(stages, ",\n"))
	files["pipeline.json"] = spec
	return spec, files
}

func dirSize(t *testing.T, dir string) int64 {
	t.Helper()
	var n int64
	require.NoError(t, filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			n += fi.Size()
		}
		return err
	}))
	return n
}

// No-op growth bounds of docs/OBSERVABILITY.md ("Bounded state"), for S
// stages: what one no-op run adds to audit.jsonl and guardrun.log (the CLI
// writes the log; cmd/guardrun tests it), and the size of its run record
// and metrics.
const (
	noopAuditBytes   = 3 << 10
	noopRecordBytes  = 1 << 10 // plus noopRecordBytesPerSkip(name) per skipped stage
	noopMetricsBytes = 3 << 10 // metrics_<id>.json and .prom together
)

// noopRecordBytesPerSkip is what a skipped stage adds to run_<id>.json: its
// name in skipped.names, quoted and indented.
func noopRecordBytesPerSkip(name string) int64 { return int64(len(name)) + 12 }

// TestNoopRunsStayBoundedAndRetentionKeepsTheChainVerifiable: 30 no-op runs
// of a generated pipeline add a constant to the audit chain and the log
// each, retention keeps the files of the last runs only, every deleted run
// is summarised in the chain with the head it recorded, and the chain
// verifies against the latest head.
func TestNoopRunsStayBoundedAndRetentionKeepsTheChainVerifiable(t *testing.T) {
	// 100 stages keep the cold run short on a shared CI machine; bench/state.sh
	// measures 4,500 (docs/BENCHMARKS.md).
	const stages, keep, noops = 100, 5, 30
	_, files := manyStages(stages, keep)
	dir := testutil.Workspace(t, files)
	sb := plainSandbox(t)
	l := stateOf(dir)
	_, err := Run(context.Background(), load(t, dir), Options{RunID: "cold", Sandbox: sb})
	require.NoError(t, err)
	heads := map[string]runstate.AuditHead{}
	cold, err := l.ReadRun("cold")
	require.NoError(t, err)
	heads["cold"] = *cold.Audit

	size := func(path string) int64 {
		fi, err := os.Stat(path)
		require.NoError(t, err)
		return fi.Size()
	}
	recordBound := int64(noopRecordBytes) + stages*noopRecordBytesPerSkip("copy_f0001")
	before := dirSize(t, l.StateDir)
	var ids []string
	for i := 1; i <= noops; i++ {
		id := fmt.Sprintf("noop%02d", i)
		ids = append(ids, id)
		auditBefore := size(l.AuditLog())
		res, err := Run(context.Background(), load(t, dir), Options{RunID: id, Sandbox: sb})
		require.NoError(t, err)
		require.Equal(t, stages, res.State.Counts.Skipped)
		assert.Equal(t, 1, res.recordWrites)
		assert.LessOrEqual(t, size(l.AuditLog())-auditBefore, int64(noopAuditBytes), "audit growth of no-op %d", i)
		assert.LessOrEqual(t, size(l.RunFile(id)), recordBound)
		assert.LessOrEqual(t, size(l.MetricsJSON(id))+size(l.MetricsProm(id)), int64(noopMetricsBytes))
		heads[id] = *res.State.Audit
	}
	after := dirSize(t, l.StateDir)

	// Retention: the files of the last keep runs are left.
	assert.Equal(t, ids[noops-keep:], l.RunIDs())
	for _, id := range append([]string{"cold"}, ids[:noops-keep]...) {
		for _, f := range l.RunFiles(id) {
			assert.NoFileExists(t, f)
		}
	}
	// The bound: the audit chain grows by a constant per no-op run; run
	// records and metrics are kept for keep runs only.
	bound := int64(noops)*noopAuditBytes + int64(keep)*(recordBound+noopMetricsBytes)
	assert.LessOrEqual(t, after-before, bound, "state/ grew by %d bytes over %d no-op runs", after-before, noops)

	// Every deleted run left its summary in the chain, with the head it
	// recorded; the chain verifies against the latest run's head and
	// still holds every recorded head.
	latest, err := l.ReadRun(l.LatestRun())
	require.NoError(t, err)
	_, err = audit.VerifyHead(l.AuditLog(), nil, latest.Audit.Seq, latest.Audit.Hash)
	require.NoError(t, err)
	compacted := map[string]runstate.RunCompacted{}
	bySeq := map[int64]string{}
	forEachRecord(t, l.AuditLog(), func(rec *audit.Record) {
		bySeq[rec.Seq] = rec.Hash
		if rec.Event == runstate.EvRunCompacted {
			c, err := runstate.DecodeData[runstate.RunCompacted](rec.Data)
			require.NoError(t, err)
			compacted[c.RunID] = c
		}
	})
	require.Len(t, compacted, noops+1-keep)
	for id, c := range compacted {
		assert.Equal(t, runstate.RunSucceeded, c.Status, id)
		require.NotNil(t, c.Counts, id)
		require.NotNil(t, c.Audit, id)
		assert.Equal(t, heads[id], *c.Audit, id)
		assert.Equal(t, c.Audit.Hash, bySeq[c.Audit.Seq], "%s: the chain still holds the head it recorded", id)
		assert.NotNil(t, c.EndedAt, id)
	}
	assert.Equal(t, stages, compacted["noop01"].Counts.Skipped)
	assert.Equal(t, stages, compacted["cold"].Counts.Ran)
}

// forEachRecord decodes every line of an audit log.
func forEachRecord(t *testing.T, path string, f func(*audit.Record)) {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	for _, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		var rec audit.Record
		dec := json.NewDecoder(strings.NewReader(line))
		dec.UseNumber()
		require.NoError(t, dec.Decode(&rec))
		f(&rec)
	}
}
