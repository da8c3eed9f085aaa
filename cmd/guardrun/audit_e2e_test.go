package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/guardrun/guardrun/audit"
	"github.com/guardrun/guardrun/internal/runstate"
)

const copySpec = `{"version": 1, "name": "keyed", "stages": [
  {"name": "copy", "processor": {"exec": ["bin/copy"]}, "inputs": ["in.txt"], "outputDir": "out", "outputs": ["copy.txt"]}]}`

// shPolicy allows a stage to run the system's sh (outside the workspace).
func shPolicy(t *testing.T) (sh, policy string) {
	t.Helper()
	sh, err := exec.LookPath("sh")
	require.NoError(t, err)
	if r, err := filepath.EvalSymlinks(sh); err == nil {
		sh = r
	}
	return sh, fmt.Sprintf("package guardrun.config\n\nallowed_outside_paths contains %q\n", sh)
}

func shStage(sh, name, script string) string {
	return fmt.Sprintf(`{"name": %q, "processor": {"exec": [%q, "-c", %q]}, "outputDir": "out/%s", "dependsOn": [], "retry": {"maxAttempts": 1}}`,
		name, sh, script, name)
}

// TestVerifyChecksEveryRunRecord: verify checks the head anchored in every
// run_<id>.json, not only in the one with the latest self-declared start:
// a log cut short with a later-dated run record planted to match it, or a
// planted earlier-dated record claiming a head past the end, is an error
// naming the file. A record of an older guardrun without a head is named
// as not checkable; a record that does not parse is an error.
func TestVerifyChecksEveryRunRecord(t *testing.T) {
	dir := workspace(t, map[string]string{"pipeline.json": copySpec, "in.txt": "x\n"})
	for _, id := range []string{"r1", "r2"} {
		r := guardrun(t, dir, "run", "--run-id", id, "--force", "copy")
		require.Equal(t, 0, r.code, r.stderr)
	}
	r := guardrun(t, dir, "verify")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "every run record's head is in it (2 checked)")

	l := stateOf(dir)
	r1, err := l.ReadRun("r1")
	require.NoError(t, err)
	r2, err := l.ReadRun("r2")
	require.NoError(t, err)
	logBytes, err := os.ReadFile(l.AuditLog())
	require.NoError(t, err)

	// Cut the log back to r1's head and plant a later-dated record whose
	// head matches the cut log: r2's record still shows the cut.
	lines := strings.SplitAfter(string(logBytes), "\n")
	require.NoError(t, os.WriteFile(l.AuditLog(), []byte(strings.Join(lines[:r1.Audit.Seq], "")), 0o644))
	later := r2.StartedAt.Add(time.Hour)
	require.NoError(t, l.WriteRun(&runstate.RunState{RunID: "zplanted", Status: runstate.RunSucceeded, StartedAt: later, EndedAt: &later, Audit: r1.Audit}))
	r = guardrun(t, dir, "verify")
	assert.Equal(t, 1, r.code, r.stdout)
	assert.Contains(t, r.stderr, fmt.Sprintf("log ends at seq %d but run_r2.json recorded head seq %d (records cut off at the end, or run_r2.json was planted or edited)", r1.Audit.Seq, r2.Audit.Seq))
	require.NoError(t, os.WriteFile(l.AuditLog(), logBytes, 0o644))
	require.NoError(t, os.Remove(l.RunFile("zplanted")))
	r = guardrun(t, dir, "verify")
	require.Equal(t, 0, r.code, r.stderr)

	// A planted record dated before every run, claiming a head past the end.
	early := r1.StartedAt.Add(-time.Hour)
	require.NoError(t, l.WriteRun(&runstate.RunState{RunID: "early", Status: runstate.RunSucceeded, StartedAt: early, EndedAt: &early,
		Audit: &runstate.AuditHead{Seq: r2.Audit.Seq + 5, Hash: r2.Audit.Hash}}))
	r = guardrun(t, dir, "verify")
	assert.Equal(t, 1, r.code, r.stdout)
	assert.Contains(t, r.stderr, "run_early.json recorded head seq")
	// ... or one naming an existing seq with another hash.
	require.NoError(t, l.WriteRun(&runstate.RunState{RunID: "early", Status: runstate.RunSucceeded, StartedAt: early, EndedAt: &early,
		Audit: &runstate.AuditHead{Seq: 2, Hash: r2.Audit.Hash}}))
	r = guardrun(t, dir, "verify")
	assert.Equal(t, 1, r.code, r.stdout)
	assert.Contains(t, r.stderr, "line 2: hash of seq 2 differs from the head recorded in run_early.json")

	// An older guardrun's record without a head: named, not failed.
	require.NoError(t, os.WriteFile(l.RunFile("early"), []byte(`{"runId": "early", "status": "succeeded", "startedAt": "2020-01-01T00:00:00Z", "stages": []}`), 0o644))
	r = guardrun(t, dir, "verify")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "run early: no audit head recorded (written by an older guardrun): cannot check it against the chain")
	r = guardrun(t, dir, "verify", "--json")
	require.Equal(t, 0, r.code, r.stderr)
	var out struct {
		OK            bool     `json:"ok"`
		RunsChecked   int      `json:"runsChecked"`
		RunsUnchecked []string `json:"runsUnchecked"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &out))
	assert.True(t, out.OK)
	assert.Equal(t, 2, out.RunsChecked)
	assert.Equal(t, []string{"early"}, out.RunsUnchecked)

	// A record that does not parse cannot be checked: an error naming it.
	require.NoError(t, os.WriteFile(l.RunFile("early"), []byte(`{"runId": "early", "audit": {"seq": "x"`), 0o644))
	r = guardrun(t, dir, "verify")
	assert.Equal(t, 1, r.code, r.stdout)
	assert.Contains(t, r.stderr, "checking run_early.json against the audit chain")
}

// TestManyOutputsAreInTheChainByDigest: a stage that leaves 5,000 files
// with long names (an outputs list over the audit line limit) gets its
// stage.end record, by digest, through the real binary; verify checks the
// side file and names it when it is edited or gone.
func TestManyOutputsAreInTheChainByDigest(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("sh")
	}
	sh, policy := shPolicy(t)
	script := `cd "$PIPELINE_OUTPUT_DIR" && i=0 && p=$(printf '%0200d' 0) && while [ $i -lt 5000 ]; do : > "f$i-$p"; i=$((i+1)); done`
	dir := workspace(t, map[string]string{"pipeline.json": `{"version": 1, "name": "many", "stages": [` + shStage(sh, "many", script) + `]}`,
		"policy/allow.rego": policy})
	r := guardrun(t, dir, "run", "--policy", "policy", "--run-id", "m1")
	require.Equal(t, 0, r.code, r.stderr)
	r = guardrun(t, dir, "verify")
	require.Equal(t, 0, r.code, r.stderr)

	l := stateOf(dir)
	var end runstate.StageEnd
	forEachAuditRecord(t, l.AuditLog(), func(rec *audit.Record) {
		if rec.Event == runstate.EvStageEnd {
			var err error
			end, err = runstate.DecodeData[runstate.StageEnd](rec.Data)
			require.NoError(t, err)
		}
	})
	require.Equal(t, 5000, end.OutputsCount, "stage.end is in the chain with the count of its outputs")
	side := l.OutputsFile(end.OutputsSHA256)
	b, err := os.ReadFile(side)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(side, bytes.Replace(b, []byte(`/f1-`), []byte(`/g1-`), 1), 0o644))
	r = guardrun(t, dir, "verify")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "does not have the SHA-256 its stage.end record names (edited)")
	require.NoError(t, os.Remove(side))
	r = guardrun(t, dir, "verify")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, end.OutputsFile+" is missing")
}

func forEachAuditRecord(t *testing.T, path string, f func(*audit.Record)) {
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

// guardrunFiles runs the real binary with extra inherited descriptors
// (files[i] becomes descriptor 3+i; nil leaves it closed).
func guardrunFiles(t *testing.T, dir string, files []*os.File, args ...string) result {
	t.Helper()
	return guardrunFilesEnv(t, dir, files, nil, args...)
}

// TestAuditKeyFromADescriptor: --audit-key-fd reads the key from an
// inherited descriptor (so its path is on no command line), for run and
// verify; the descriptor is closed before any processor starts, so a
// processor cannot read the key through it. A key file by path that its
// group can read is refused with exit 2.
func TestAuditKeyFromADescriptor(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("descriptors are Unix")
	}
	sh, policy := shPolicy(t)
	// The processor tries the inherited descriptor 7 and lists its own.
	script := `: > "$PIPELINE_OUTPUT_DIR/fd7"; cat <&7 >> "$PIPELINE_OUTPUT_DIR/fd7" 2>/dev/null; ls -l /proc/self/fd/ > "$PIPELINE_OUTPUT_DIR/fds" 2>&1; exit 0`
	dir := workspace(t, map[string]string{"pipeline.json": `{"version": 1, "name": "fd", "stages": [` + shStage(sh, "peek", script) + `]}`,
		"policy/allow.rego": policy})
	const secret = "fd-secret-0123456789abcdef"
	keyPath := filepath.Join(t.TempDir(), "audit.key")
	require.NoError(t, os.WriteFile(keyPath, []byte(secret+"\n"), 0o640))
	open := func() *os.File {
		f, err := os.Open(keyPath)
		require.NoError(t, err)
		t.Cleanup(func() { _ = f.Close() })
		return f
	}

	// By path, a group-readable key is refused.
	r := guardrun(t, dir, "run", "--policy", "policy", "--audit-key", keyPath)
	assert.Equal(t, 2, r.code, r.stderr)
	assert.Contains(t, r.stderr, "readable or writable by its group or others (mode 0640)")
	// Both ways at once is a usage error.
	r = guardrunFiles(t, dir, []*os.File{open()}, "run", "--policy", "policy", "--audit-key", keyPath, "--audit-key-fd", "3")
	assert.Equal(t, 2, r.code, r.stderr)
	assert.Contains(t, r.stderr, "--audit-key and --audit-key-fd are exclusive")
	// A descriptor that is not open.
	r = guardrun(t, dir, "verify", "--audit-key-fd", "9")
	assert.Equal(t, 2, r.code, r.stderr)
	assert.Contains(t, r.stderr, "audit key file fd 9: is not open")

	// On a descriptor, the same file is accepted (its mode is the caller's
	// business), the chain is keyed, and the processor saw nothing of it.
	r = guardrunFiles(t, dir, []*os.File{nil, nil, nil, nil, open()}, "run", "--policy", "policy", "--run-id", "k1", "--audit-key-fd", "7")
	require.Equal(t, 0, r.code, r.stderr)
	fd7, err := os.ReadFile(filepath.Join(dir, "out/peek/fd7"))
	require.NoError(t, err)
	assert.NotContains(t, string(fd7), secret, "the processor read the key from the inherited descriptor")
	fds, err := os.ReadFile(filepath.Join(dir, "out/peek/fds"))
	require.NoError(t, err)
	assert.NotContains(t, string(fds), keyPath, "the processor holds a descriptor of the key file")
	assert.NotContains(t, string(fds), "audit.key")

	r = guardrunFiles(t, dir, []*os.File{open()}, "verify", "--audit-key-fd", "3")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "audit chain ok")
	r = guardrun(t, dir, "verify")
	assert.Equal(t, 1, r.code, "a keyed chain does not verify without the key")
	// The env variable names a path; a descriptor given as well wins.
	r = guardrunFilesEnv(t, dir, []*os.File{open()}, []string{"GUARDRUN_AUDIT_KEY_FILE=/nonexistent"}, "verify", "--audit-key-fd", "3")
	require.Equal(t, 0, r.code, r.stderr)
}

func guardrunFilesEnv(t testing.TB, dir string, files []*os.File, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, guardrunBin, args...)
	cmd.Dir = dir
	cmd.Env = append(e2eEnv(), env...)
	cmd.ExtraFiles = files
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running guardrun %v: %v", args, err)
	}
	return result{code: code, stdout: so.String(), stderr: se.String()}
}

// TestSwappedAuditLogFailsTheRunThroughTheBinary: the audit log renamed
// away and replaced while a stage runs (by anything that can write the
// state dir) makes the run fail loudly instead of appending to the old
// inode; verify then names the run record whose head the new log lacks.
func TestSwappedAuditLogFailsTheRunThroughTheBinary(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("an open file cannot be renamed on Windows")
	}
	sh, policy := shPolicy(t)
	script := `: > "$PIPELINE_OUTPUT_DIR/started"; sleep 2; echo x > "$PIPELINE_OUTPUT_DIR/x"`
	dir := workspace(t, map[string]string{"pipeline.json": `{"version": 1, "name": "swap", "stages": [` + shStage(sh, "slow", script) + `]}`,
		"policy/allow.rego": policy})
	l := stateOf(dir)
	done := make(chan result, 1)
	go func() { done <- guardrun(t, dir, "run", "--policy", "policy", "--run-id", "w1") }()
	staging := runstate.StagingDir(filepath.Join(dir, "out/slow"), "slow")
	waitFor(t, "the processor to start", 60*time.Second, func() bool {
		_, err := os.Stat(filepath.Join(staging, "started"))
		return err == nil
	})
	old := filepath.Join(l.StateDir, "audit.old")
	require.NoError(t, os.Rename(l.AuditLog(), old))
	require.NoError(t, os.WriteFile(l.AuditLog(), nil, 0o644))
	oldSize := fileSize(t, old)
	r := <-done
	assert.Equal(t, 1, r.code, r.stderr)
	assert.Contains(t, r.stderr, "audit log "+l.AuditLog()+": was replaced")
	assert.Equal(t, oldSize, fileSize(t, old), "guardrun appended to the old inode")
	assert.Equal(t, int64(0), fileSize(t, l.AuditLog()))
	rs, err := l.ReadRun("w1")
	require.NoError(t, err)
	assert.Equal(t, runstate.RunFailed, rs.Status)
	assert.Contains(t, rs.Error, "was replaced")
	r = guardrun(t, dir, "verify")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "run_w1.json recorded head seq")
}

func fileSize(t *testing.T, p string) int64 {
	t.Helper()
	fi, err := os.Stat(p)
	require.NoError(t, err)
	return fi.Size()
}
