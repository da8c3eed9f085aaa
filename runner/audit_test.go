package runner

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/guardrun/guardrun/audit"
	"github.com/guardrun/guardrun/internal/runstate"
	"github.com/guardrun/guardrun/internal/testutil"
	"github.com/guardrun/guardrun/sandbox"
)

// shellStage is a stage running script with /bin/sh, owning out/<name>.
func shellStage(name, script string) string {
	return fmt.Sprintf(`{"name": %q, "processor": {"exec": ["/bin/sh", "-c", %q]}, "outputDir": "out/%s", "dependsOn": [], "retry": {"maxAttempts": 1}}`,
		name, script, name)
}

func shellSpec(stages ...string) string {
	return `{"version": 1, "name": "audit", "stages": [` + strings.Join(stages, ",\n") + `]}`
}

// auditRecords are the records of the chain with event name.
func auditRecords(t *testing.T, l runstate.Layout, event string) []audit.Record {
	t.Helper()
	var out []audit.Record
	forEachRecord(t, l.AuditLog(), func(r *audit.Record) {
		if r.Event == event {
			out = append(out, *r)
		}
	})
	return out
}

// TestEveryRunRecordAnchorsAHeadInTheChain: run_<id>.json carries the audit
// head from its first write (status running) on, not only at the end, and
// every head it ever recorded is in the chain.
func TestEveryRunRecordAnchorsAHeadInTheChain(t *testing.T) {
	dir := testutil.Workspace(t, map[string]string{"pipeline.json": twoStages, "data/input/sample.txt": "a\nb\n"})
	gate := newGatedSandbox(t, "stage_upper")
	done := make(chan error, 1)
	go func() {
		_, err := Run(context.Background(), load(t, dir), Options{RunID: "r1", Sandbox: gate})
		done <- err
	}()
	select {
	case <-gate.reached:
	case err := <-done:
		t.Fatalf("the run ended before stage_upper started: %v", err)
	}
	l := stateOf(dir)
	var rs *runstate.RunState
	eventually(t, "run_r1.json to record the end of stage_copy", func() bool {
		var err error
		rs, err = l.ReadRun("r1")
		return err == nil && stageStatuses(rs)["stage_copy"] == runstate.StageSucceeded
	})
	require.Equal(t, runstate.RunRunning, rs.Status)
	require.NotNil(t, rs.Audit, "a running record anchors the head too")
	assert.Greater(t, rs.Audit.Seq, int64(0))
	_, err := audit.VerifyHead(l.AuditLog(), nil, rs.Audit.Seq, rs.Audit.Hash)
	require.NoError(t, err)
	mid := *rs.Audit
	close(gate.open)
	require.NoError(t, <-done)
	rs, err = l.ReadRun("r1")
	require.NoError(t, err)
	assert.Greater(t, rs.Audit.Seq, mid.Seq)
	_, err = audit.VerifyWith(l.AuditLog(), nil, audit.VerifyOptions{Anchors: []audit.Anchor{
		{Seq: mid.Seq, Hash: mid.Hash, Source: "mid"}, {Seq: rs.Audit.Seq, Hash: rs.Audit.Hash, Source: "end"}}})
	require.NoError(t, err)
}

// TestManyOutputsAreRecordedByDigest: a stage that leaves more outputs than
// fit in one audit record (5,000 files with long names: a 1.5 MB list) gets
// a stage.end record all the same, with their count and digest, the list in
// audit.d/; before, that record was dropped and the chain still verified.
func TestManyOutputsAreRecordedByDigest(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the stages run /bin/sh")
	}
	const n = 5000
	script := `cd "$PIPELINE_OUTPUT_DIR" && i=0 && p=$(printf '%0200d' 0) && while [ $i -lt ` + fmt.Sprint(n) + ` ]; do : > "f$i-$p"; i=$((i+1)); done`
	dir := testutil.Workspace(t, map[string]string{"pipeline.json": shellSpec(shellStage("many", script))})
	res, err := runOnce(t, dir, Options{RunID: "m1"})
	require.NoError(t, err)
	require.Equal(t, runstate.RunSucceeded, res.State.Status)
	l := stateOf(dir)
	ends := auditRecords(t, l, runstate.EvStageEnd)
	require.Len(t, ends, 1, "the stage.end record is in the chain")
	d, err := runstate.DecodeData[runstate.StageEnd](ends[0].Data)
	require.NoError(t, err)
	assert.Equal(t, runstate.StageSucceeded, d.Status)
	assert.Nil(t, d.Outputs)
	assert.Equal(t, n, d.OutputsCount)
	require.NoError(t, l.CheckOutputsFile(d))
	outs, err := l.ReadOutputs(d)
	require.NoError(t, err)
	assert.Len(t, outs, n)
	_, err = audit.VerifyHead(l.AuditLog(), nil, res.State.Audit.Seq, res.State.Audit.Hash)
	require.NoError(t, err)
}

// TestAnOversizedRecordFailsTheRun: a record that cannot be appended (here
// over the line limit) is not dropped: the run stops and ends failed with
// the reason, in its record and in the chain's run.end.
func TestAnOversizedRecordFailsTheRun(t *testing.T) {
	dir := testutil.Workspace(t, map[string]string{"pipeline.json": twoStages, "data/input/sample.txt": "a\n"})
	huge := runstate.PolicyVerdict{Policy: strings.Repeat("p", audit.MaxLineBytes)}
	res, err := runOnce(t, dir, Options{RunID: "big", Preflight: &huge})
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrAudit)
	assert.ErrorIs(t, err, audit.ErrRecordTooLarge)
	var ae *AuditError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, "audit_failed", ae.Code())
	assert.Equal(t, runstate.EvPolicy, ae.Event)
	rs, rerr := stateOf(dir).ReadRun("big")
	require.NoError(t, rerr)
	assert.Equal(t, runstate.RunFailed, rs.Status)
	assert.Contains(t, rs.Error, "recording policy.verdict in the audit chain: appending audit record policy.verdict:")
	assert.Equal(t, res.State.Status, rs.Status)
	ends := auditRecords(t, stateOf(dir), runstate.EvRunEnd)
	require.Len(t, ends, 1)
	d, err := runstate.DecodeData[runstate.RunEnd](ends[0].Data)
	require.NoError(t, err)
	assert.Equal(t, runstate.RunFailed, d.Status)
	assert.Contains(t, d.Error, "exceeds the limit")
	assert.Empty(t, auditRecords(t, stateOf(dir), runstate.EvStageStart), "no stage ran without its records")
}

// hookSandbox runs before, once, when the first processor starts: what a
// processor (or anyone else) does to the state behind guardrun's back
// while a stage runs. The confined sandbox keeps processors themselves
// away from stateDir; the audit log must hold whoever does it.
type hookSandbox struct {
	sandbox.Sandbox
	once   sync.Once
	before func()
}

func (h *hookSandbox) Start(ctx context.Context, c *sandbox.Cmd) (sandbox.Process, error) {
	h.once.Do(h.before)
	return h.Sandbox.Start(ctx, c)
}

// TestSwappedAuditLogFailsTheRun: the audit log renamed away and replaced
// by a fresh file, or truncated, while a stage runs does not make guardrun
// go on appending to the old inode or after the cut: the next append
// fails, the run stops and ends failed with that reason.
func TestSwappedAuditLogFailsTheRun(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the stages run /bin/sh")
	}
	for _, tc := range []struct {
		name   string
		tamper func(t *testing.T, state string)
		reason string
	}{
		{"swap", func(t *testing.T, state string) {
			require.NoError(t, os.Rename(filepath.Join(state, "audit.jsonl"), filepath.Join(state, "audit.old")))
			require.NoError(t, os.WriteFile(filepath.Join(state, "audit.jsonl"), nil, 0o644))
		}, "was replaced"},
		{"truncate", func(t *testing.T, state string) {
			require.NoError(t, os.Truncate(filepath.Join(state, "audit.jsonl"), 0))
		}, "was truncated to 0 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := testutil.Workspace(t, map[string]string{"pipeline.json": shellSpec(
				shellStage("evil", "echo x > \"$PIPELINE_OUTPUT_DIR/x\""),
				strings.Replace(shellStage("later", "echo x > \"$PIPELINE_OUTPUT_DIR/x\""), `"dependsOn": []`, `"dependsOn": ["evil"]`, 1))})
			state := filepath.Join(dir, "state")
			var oldSize int64
			sb := &hookSandbox{Sandbox: plainSandbox(t), before: func() {
				tc.tamper(t, state)
				if fi, err := os.Stat(filepath.Join(state, "audit.old")); err == nil {
					oldSize = fi.Size()
				}
			}}
			res, err := runOnce(t, dir, Options{RunID: "s1", Sandbox: sb})
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrAudit)
			assert.ErrorIs(t, err, audit.ErrLogChanged)
			assert.Contains(t, err.Error(), tc.reason)
			require.NotNil(t, res)
			assert.Equal(t, runstate.RunFailed, res.State.Status)
			rs, rerr := stateOf(dir).ReadRun("s1")
			require.NoError(t, rerr)
			assert.Equal(t, runstate.RunFailed, rs.Status)
			assert.Contains(t, rs.Error, tc.reason)
			assert.NotEqual(t, runstate.StageSucceeded, stageStatuses(rs)["later"], "the run stopped")
			if tc.name == "swap" {
				fi, err := os.Stat(filepath.Join(state, "audit.old"))
				require.NoError(t, err)
				assert.Equal(t, oldSize, fi.Size(), "appended to the old inode")
			}
			b, err := os.ReadFile(filepath.Join(state, "audit.jsonl"))
			require.NoError(t, err)
			assert.Empty(t, string(b), "nothing was appended after the swap")
		})
	}
}

// TestUnendedRunIsRecoveredFromTheChain: a run that exited without
// recording its end (the lock file is clean: guardrun exited on its own,
// e.g. with the disk full) left its record running and the chain without
// its run.end. The next run marks it failed with the reason and records
// that in the chain; a record that said how it ended gets the chain record
// only.
func TestUnendedRunIsRecoveredFromTheChain(t *testing.T) {
	for _, status := range []string{runstate.RunRunning, runstate.RunFailed} {
		t.Run(status, func(t *testing.T) {
			dir := testutil.Workspace(t, map[string]string{"pipeline.json": twoStages, "data/input/sample.txt": "a\n"})
			l := stateOf(dir)
			require.NoError(t, os.MkdirAll(l.StateDir, 0o755))
			al, err := audit.Open(l.AuditLog(), nil)
			require.NoError(t, err)
			_, err = al.Append(audit.Event{Type: runstate.EvRunStart, RunID: "gone"})
			require.NoError(t, err)
			_, err = al.Append(audit.Event{Type: runstate.EvStageStart, RunID: "gone", Stage: "stage_copy"})
			require.NoError(t, err)
			seq, h := al.Head()
			require.NoError(t, al.Close())
			gone := &runstate.RunState{RunID: "gone", Status: status, Audit: &runstate.AuditHead{Seq: seq, Hash: h},
				Stages: []runstate.RunStage{{Name: "stage_copy", Status: runstate.StageRunning}}}
			if status == runstate.RunFailed {
				gone.Error = "recording stage.end in the audit chain: no space left on device"
			}
			require.NoError(t, l.WriteRun(gone))

			_, err = runOnce(t, dir, Options{RunID: "next"})
			require.NoError(t, err)
			rs, err := l.ReadRun("gone")
			require.NoError(t, err)
			assert.Equal(t, runstate.RunFailed, rs.Status)
			sweeps := auditRecords(t, l, runstate.EvSweep)
			require.Len(t, sweeps, 1)
			sw, err := runstate.DecodeData[runstate.Sweep](sweeps[0].Data)
			require.NoError(t, err)
			assert.Equal(t, "gone", sw.RecoveredRun)
			assert.Equal(t, runstate.RunFailed, sw.RecoveredStatus)
			assert.Contains(t, sw.Reason, fmt.Sprintf("its end is not in the audit chain, which stops at seq %d (stage.start)", seq))
			if status == runstate.RunRunning {
				assert.Contains(t, rs.Error, "run ended without recording its end")
				assert.Equal(t, runstate.StageInterrupted, rs.Stages[0].Status)
				assert.Equal(t, sweeps[0].Seq, rs.Audit.Seq, "the rewritten record anchors the recovery")
			} else {
				assert.Equal(t, gone.Error, rs.Error, "a record that said how it ended is left alone")
				assert.Contains(t, sw.Reason, "its record says: "+gone.Error)
			}
			next, err := l.ReadRun("next")
			require.NoError(t, err)
			_, err = audit.VerifyWith(l.AuditLog(), nil, audit.VerifyOptions{Anchors: []audit.Anchor{
				{Seq: rs.Audit.Seq, Hash: rs.Audit.Hash}, {Seq: next.Audit.Seq, Hash: next.Audit.Hash}}})
			require.NoError(t, err)

			// Recovered once: the run after does not record it again.
			_, err = runOnce(t, dir, Options{RunID: "third"})
			require.NoError(t, err)
			assert.Len(t, auditRecords(t, l, runstate.EvSweep), 1)
		})
	}
}

// TestRunEndedInTheChainButRecordedRunningIsRepaired: the run recorded
// run.end but could not write its record (disk full at the last moment):
// the next run gives the record the status and error run.end says.
func TestRunEndedInTheChainButRecordedRunningIsRepaired(t *testing.T) {
	dir := testutil.Workspace(t, map[string]string{"pipeline.json": twoStages, "data/input/sample.txt": "a\n"})
	l := stateOf(dir)
	require.NoError(t, os.MkdirAll(l.StateDir, 0o755))
	al, err := audit.Open(l.AuditLog(), nil)
	require.NoError(t, err)
	_, err = al.Append(audit.Event{Type: runstate.EvRunStart, RunID: "late"})
	require.NoError(t, err)
	seq, h := al.Head()
	_, err = al.Append(audit.Event{Type: runstate.EvRunEnd, RunID: "late", Data: runstate.RunEnd{Status: runstate.RunFailed, Error: "stage failed: x"}})
	require.NoError(t, err)
	require.NoError(t, al.Close())
	require.NoError(t, l.WriteRun(&runstate.RunState{RunID: "late", Status: runstate.RunRunning, Audit: &runstate.AuditHead{Seq: seq, Hash: h},
		Stages: []runstate.RunStage{{Name: "stage_copy", Status: runstate.StageRunning}}}))

	_, err = runOnce(t, dir, Options{RunID: "next"})
	require.NoError(t, err)
	rs, err := l.ReadRun("late")
	require.NoError(t, err)
	assert.Equal(t, runstate.RunFailed, rs.Status)
	assert.Equal(t, "stage failed: x", rs.Error)
	sweeps := auditRecords(t, l, runstate.EvSweep)
	require.Len(t, sweeps, 1)
	sw, err := runstate.DecodeData[runstate.Sweep](sweeps[0].Data)
	require.NoError(t, err)
	assert.Equal(t, "late", sw.RecoveredRun)
	assert.Contains(t, sw.Reason, "its record could not be written when it ended (its run.end, seq 2, says failed: stage failed: x)")
	assert.Equal(t, sweeps[0].Seq, rs.Audit.Seq)
}

// recordedRunEnd is the run.end record of run id, if the chain has one.
func recordedRunEnd(t *testing.T, l runstate.Layout, id string) (runstate.RunEnd, bool) {
	t.Helper()
	for _, r := range auditRecords(t, l, runstate.EvRunEnd) {
		if r.RunID == id {
			d, err := runstate.DecodeData[runstate.RunEnd](r.Data)
			require.NoError(t, err)
			return d, true
		}
	}
	return runstate.RunEnd{}, false
}
