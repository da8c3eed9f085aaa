package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/guardrun/guardrun/internal/runstate"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestHostileProcessorsCannotSteerGuardrunsFileOperations runs, through
// the real binary and the strict sandbox, processors that plant what
// should make guardrun itself act outside their staging dir: a symlink to
// a host file where a checkpointed output was (resume would truncate it),
// a FIFO in staging (promotion), a flood of output with an attempt to
// truncate the log, and an oversized progress line. Each stage fails with
// a message naming what was refused, and nothing outside is touched.
func TestHostileProcessorsCannotSteerGuardrunsFileOperations(t *testing.T) {
	if runtime.GOOS != "linux" || os.Getuid() != 0 {
		t.Skip("the kernel sandbox is tested as root on Linux")
	}
	bash, err := exec.LookPath("bash")
	require.NoError(t, err)
	if r, err := filepath.EvalSymlinks(bash); err == nil {
		bash = r
	}
	stage := func(name, script, extra string) string {
		return fmt.Sprintf(`{"name": %q, "processor": {"exec": [%q, "-c", %q]}, "inputs": ["in.txt"], "outputDir": "out/%s", "dependsOn": [],
		  "checkpoint": {"enabled": true, "everyLines": 1, "everySeconds": 0.01}, "retry": {"maxAttempts": 2, "baseDelayMs": 1}%s}`,
			name, bash, script, name, extra)
	}
	spec := `{"version": 1, "name": "hostile-fs", "stages": [` + strings.Join([]string{
		stage("resume_symlink", `o=$PIPELINE_OUTPUT_DIR
if [ "$PIPELINE_ATTEMPT" = 1 ]; then
  printf 'hello\n' >> "$o/result.txt"
  echo '{"lineOffset":1,"byteOffset":4,"outputs":{"result.txt":6}}' >&3
  sleep 0.3
  rm "$o/result.txt"; ln -s "$VICTIM" "$o/result.txt"
  exit 75
fi`, `, "env": {"VICTIM": "VICTIMPATH"}`),
		stage("promote_fifo", `mkfifo "$PIPELINE_OUTPUT_DIR/pipe"`, ""),
		stage("promote_symlink", `ln -s "$VICTIM" "$PIPELINE_OUTPUT_DIR/leak"`, `, "env": {"VICTIM": "VICTIMPATH"}`),
		stage("log_flood", `truncate -s 0 /proc/self/fd/1 2>/dev/null; : > /proc/self/fd/2; head -c 4194304 /dev/zero | tr '\0' y; echo; echo LAST`, ""),
		stage("long_progress", `head -c 200000 /dev/zero | tr '\0' x >&3; echo >&3; sleep 60`, ""),
	}, ",\n") + `]}`
	allow := fmt.Sprintf("package guardrun.config\n\nallowed_outside_paths contains %q\n", bash)
	dir := workspace(t, map[string]string{"policy/allow.rego": allow, "in.txt": "one\ntwo\n"})
	victim := filepath.Join(dir, "victim.txt")
	const precious = "precious host data\n"
	require.NoError(t, os.WriteFile(victim, []byte(precious), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "pipeline.json"), []byte(strings.ReplaceAll(spec, "VICTIMPATH", victim)), 0o644))
	logs := filepath.Join(dir, "state", "logs")
	require.NoError(t, os.MkdirAll(logs, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(logs, "log_flood.log"), []byte("EARLIER\n"), 0o644))

	start := time.Now()
	r := guardrun(t, dir, "run", "--policy", "policy", "--run-id", "f1", "--log-cap-mib", "1")
	assert.Equal(t, 1, r.code, r.stderr)
	assert.Less(t, time.Since(start), 45*time.Second)

	b, err := os.ReadFile(victim)
	require.NoError(t, err)
	assert.Equal(t, precious, string(b), "guardrun truncated a host file through a planted symlink")

	stageErr := func(name string) string {
		ss, err := stateOf(dir).ReadStage(name)
		require.NoError(t, err, name)
		return ss.Error
	}
	assert.Contains(t, stageErr("resume_symlink"), "resuming from the checkpoint: refusing "+filepath.Join(dir, "out/resume_symlink/.resume_symlink.staging/result.txt")+": is a symlink")
	assert.Contains(t, stageErr("promote_fifo"), "pipe: is a named pipe (FIFO)")
	assert.Contains(t, stageErr("promote_symlink"), "leak: is a symlink")
	assert.NoFileExists(t, filepath.Join(dir, "out/promote_symlink/leak"))
	assert.Contains(t, stageErr("long_progress"), "progress protocol error: a progress line is longer than 65536 bytes")

	ss, err := stateOf(dir).ReadStage("log_flood")
	require.NoError(t, err)
	assert.Equal(t, runstate.StageSucceeded, ss.Status, ss.Error)
	b, err = os.ReadFile(filepath.Join(logs, "log_flood.log"))
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(b), "EARLIER\n"), "the processor truncated its log")
	assert.True(t, strings.HasSuffix(string(b), "\nLAST\n"), "the end of the output is kept")
	assert.Contains(t, string(b), "bytes of output dropped here (log cap 1048576 bytes per attempt")
	assert.Less(t, len(b), 1<<20+8192)
}
