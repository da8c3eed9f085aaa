package runner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/guardrun/guardrun/audit"
	"github.com/guardrun/guardrun/internal/runstate"
	"github.com/guardrun/guardrun/internal/testutil"
)

// TestDiskFullRunEndsFailedOrIsRepaired: a processor fills the disk that
// holds the state dir. The run cannot record its stage's end; it must not
// leave a record saying running and a chain that verifies as if nothing
// happened: it ends failed with the reason, or, when even that cannot be
// written, the next run (once there is space) marks it failed and records
// why in the chain. Either way every run record's head is in the chain.
func TestDiskFullRunEndsFailedOrIsRepaired(t *testing.T) {
	dir := testutil.Workspace(t, nil)
	full := filepath.Join(dir, "full")
	require.NoError(t, os.MkdirAll(full, 0o755))
	if err := unix.Mount("tmpfs", full, "tmpfs", 0, "size=1m"); err != nil {
		t.Skipf("cannot mount a small tmpfs (needs root): %v", err)
	}
	t.Cleanup(func() { _ = unix.Unmount(full, unix.MNT_DETACH) })
	// The disk fills up while the stage runs (a processor writing a huge
	// output would do the same; here the test fills it from outside, so
	// that the next run has its space back).
	ballast := filepath.Join(full, "ballast")
	spec := `{"version": 1, "name": "full", "stateDir": "full/state", "stages": [` +
		strings.Replace(shellStage("filler", `echo x > "$PIPELINE_OUTPUT_DIR/x"`), `"outputDir": "out/filler"`, `"outputDir": "full/out/filler"`, 1) + `]}`
	testutil.WriteFile(t, filepath.Join(dir, "pipeline.json"), spec)
	l := runstate.Layout{StateDir: filepath.Join(full, "state"), LocksDir: filepath.Join(dir, "locks")}
	sb := &hookSandbox{Sandbox: plainSandbox(t), before: func() {
		f, err := os.Create(ballast)
		require.NoError(t, err)
		for {
			if _, err := f.Write(make([]byte, 64<<10)); err != nil {
				break
			}
		}
		require.NoError(t, f.Close())
	}}

	_, err := runOnce(t, dir, Options{RunID: "d1", Sandbox: sb})
	require.Error(t, err, "a run that could not record its stage cannot succeed")
	t.Logf("first run: %v", err)
	rs, rerr := l.ReadRun("d1")
	require.NoError(t, rerr, "the record written before the disk filled up")
	first := rs.Status
	if first != runstate.RunRunning {
		assert.Equal(t, runstate.RunFailed, rs.Status)
		assert.Contains(t, rs.Error, "no space left on device")
	}

	require.NoError(t, os.Remove(ballast))
	_, err = runOnce(t, dir, Options{RunID: "d2"})
	require.NoError(t, err)
	rs, err = l.ReadRun("d1")
	require.NoError(t, err)
	assert.Equal(t, runstate.RunFailed, rs.Status, "no record says running after the next run")
	assert.NotEmpty(t, rs.Error)
	// The chain says how d1 ended: its run.end, or the next run's recovery.
	end, ended := recordedRunEnd(t, l, "d1")
	var recovered bool
	for _, r := range auditRecords(t, l, runstate.EvSweep) {
		sw, err := runstate.DecodeData[runstate.Sweep](r.Data)
		require.NoError(t, err)
		if sw.RecoveredRun == "d1" {
			recovered = true
			assert.Equal(t, runstate.RunFailed, sw.RecoveredStatus)
			assert.NotEmpty(t, sw.Reason)
		}
	}
	assert.True(t, ended || recovered, "the chain says how d1 ended")
	if first == runstate.RunRunning {
		assert.True(t, recovered, "a record left running is repaired, and the repair recorded")
	}
	if ended {
		assert.Equal(t, runstate.RunFailed, end.Status)
		assert.Equal(t, end.Error, rs.Error, "the record says what run.end says")
	}
	var anchors []audit.Anchor
	for _, id := range []string{"d1", "d2"} {
		rs, err := l.ReadRun(id)
		require.NoError(t, err)
		require.NotNil(t, rs.Audit, id)
		anchors = append(anchors, audit.Anchor{Seq: rs.Audit.Seq, Hash: rs.Audit.Hash, Source: id})
	}
	_, err = audit.VerifyWith(l.AuditLog(), nil, audit.VerifyOptions{Anchors: anchors})
	require.NoError(t, err)
	t.Logf("first run left %s; ended in chain %v, recovered %v", first, ended, recovered)
}
