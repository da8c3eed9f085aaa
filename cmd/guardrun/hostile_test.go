package main

import (
	"fmt"
	"net" //netlint:allow a loopback listener proves that processors cannot reach the host network
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/guardrun/guardrun/internal/runstate"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestHostileProcessorsAreContained runs processors that try to escape
// through the real binary, with the default (strict) sandbox: each must be
// contained, reported truthfully, and leave nothing running.
func TestHostileProcessorsAreContained(t *testing.T) {
	if runtime.GOOS != "linux" || os.Getuid() != 0 {
		t.Skip("the kernel sandbox is tested as root on Linux")
	}
	bash, err := exec.LookPath("bash")
	require.NoError(t, err)
	if r, err := filepath.EvalSymlinks(bash); err == nil {
		bash = r
	}
	// A listener on the host's loopback: a processor must not reach it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	var accepted atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			_ = c.Close()
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port

	stage := func(name, script, extra string) string {
		return fmt.Sprintf(`{"name": %q, "processor": {"exec": [%q, "-c", %q]}, "outputDir": "out/%s", "dependsOn": [], "retry": {"maxAttempts": 1}%s}`,
			name, bash, script, name, extra)
	}
	spec := `{"version": 1, "name": "hostile", "stages": [` + strings.Join([]string{
		stage("net_tcp", fmt.Sprintf(`exec 3<>/dev/tcp/127.0.0.1/%d && exit 0 || exit 7`, port), ""),
		stage("net_udp", `exec 3>/dev/udp/127.0.0.1/53 && echo x >&3 && exit 0 || exit 7`, ""),
		stage("memhog", `a=$(head -c 400000000 /dev/zero | tr '\0' x); echo ${#a}`, `, "resources": {"memoryMB": 48}`),
		stage("forkbomb", `f(){ f | f & }; f; while :; do :; done`, `, "resources": {"pids": 32}, "timeoutSeconds": 3`),
		stage("hang", `sleep 1000`, `, "timeoutSeconds": 1`),
	}, ",\n") + `]}`
	allow := fmt.Sprintf("package guardrun.config\n\nallowed_outside_paths contains %q\n", bash)
	dir := workspace(t, map[string]string{"pipeline.json": spec, "policy/allow.rego": allow})

	start := time.Now()
	r := guardrun(t, dir, "run", "--policy", "policy", "--run-id", "h1")
	assert.Equal(t, 1, r.code, r.stderr)
	assert.Less(t, time.Since(start), 60*time.Second)
	assert.Equal(t, int32(0), accepted.Load(), "a processor reached the host's loopback")

	attempt := func(stage string) runstate.Attempt {
		ss, err := stateOf(dir).ReadStage(stage)
		require.NoError(t, err, stage)
		require.Len(t, ss.Attempts, 1, stage)
		assert.Equal(t, runstate.StageFailed, ss.Status, stage)
		return ss.Attempts[0]
	}
	for _, s := range []string{"net_tcp", "net_udp"} {
		a := attempt(s)
		assert.Equal(t, 7, a.ExitCode, "%s: the network attempt must fail inside the sandbox", s)
	}
	a := attempt("memhog")
	assert.Equal(t, runstate.OutcomeOOMKill, a.Outcome)
	assert.Equal(t, "killed: memory limit 48 MiB exceeded", a.Error)
	a = attempt("forkbomb")
	assert.Equal(t, runstate.OutcomeTimeout, a.Outcome, "the fork bomb is capped, then killed at its timeout")
	a = attempt("hang")
	assert.Equal(t, runstate.OutcomeTimeout, a.Outcome)
	assert.Equal(t, "killed: timeout after 1s", a.Error)

	rs, err := stateOf(dir).ReadRun("h1")
	require.NoError(t, err)
	require.NotNil(t, rs.Enforcement)
	assert.Contains(t, rs.Enforcement.Network, "netns")
	assert.Contains(t, rs.Enforcement.Memory, "cgroup")
	waitFor(t, "every processor to be gone", 5*time.Second, func() bool { return len(processorsOf(dir)) == 0 })
	// No cgroup of this run is left behind.
	out, _ := exec.Command("sh", "-c", "find /sys/fs/cgroup -maxdepth 4 -type d -name 'guardrun-*h1*' 2>/dev/null").Output()
	assert.Empty(t, strings.TrimSpace(string(out)), "leftover cgroups")
}
