package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestHostileProcessorCannotTouchWhatGuardrunTrusts runs, through the real
// binary, a processor that attacks everything a later run trusts: another
// stage's output and its marker, the hash cache, the spec, guardrun's own
// go configuration (a GOFLAGS=-toolexec planted there would run in the
// host), the audit key, its own cgroup limits, the host. Every door must
// be closed, the next run must still skip the honest stage with its
// original output, and the audit chain must verify with the key.
func TestHostileProcessorCannotTouchWhatGuardrunTrusts(t *testing.T) {
	if runtime.GOOS != "linux" || os.Getuid() != 0 {
		t.Skip("the kernel sandbox is tested as root on Linux")
	}
	sh, policy := shPolicy(t)
	home := t.TempDir()
	goenv := filepath.Join(home, ".config", "go", "env")
	attack := `
out="$PIPELINE_OUTPUT_DIR/doors.txt"
t() { if sh -c "$2" >/dev/null 2>&1; then echo "open $1" >> "$out"; else echo "closed $1" >> "$out"; fi; }
t victim-output 'echo forged > out/victim/result.txt'
t victim-marker 'echo forged > out/victim/.victim.done'
t hashcache 'echo forged >> state/hashcache.txt'
t run-record 'echo {} > state/run_forged.json'
t audit-log 'echo {} >> state/audit.jsonl'
t spec 'echo {} > pipeline.json'
t lock 'echo x > locks/pipeline.lock'
t goenv "mkdir -p $(dirname ` + goenv + `) && echo GOFLAGS=-toolexec=/tmp/x > ` + goenv + `"
t key-read 'head -c1 "$KEYFILE" | grep -q .'
t etc 'echo x > /etc/guardrun-pwned'
CG=$(grep -E ':memory:' /proc/self/cgroup | cut -d: -f3)
t cgroup-limit "echo 9223372036854771712 > /sys/fs/cgroup/memory$CG/memory.limit_in_bytes"
t cgroup-migrate "echo \$\$ > /sys/fs/cgroup/memory/cgroup.procs"
t guardrun-argv 'grep -l -- "--audit-ke[y]" /proc/[0-9]*/cmdline'
t root 'test "$(id -u)" = 0'
exit 0
`
	spec := `{"version": 1, "name": "confine", "stages": [` +
		shStage(sh, "victim", `echo trusted > "$PIPELINE_OUTPUT_DIR/result.txt"`) + ",\n" +
		strings.Replace(shStage(sh, "attacker", attack), `"dependsOn": []`, `"dependsOn": ["victim"], "env": {"KEYFILE": "KEYPATH"}`, 1) +
		`]}`
	dir := workspace(t, map[string]string{"policy/allow.rego": policy, "key": "0123456789abcdef0123456789abcdef\n"})
	key := filepath.Join(dir, "key")
	require.NoError(t, os.Chmod(key, 0o600))
	spec = strings.Replace(spec, "KEYPATH", key, 1)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "pipeline.json"), []byte(spec), 0o644))
	env := []string{"HOME=" + home}

	r := guardrunEnv(t, dir, env, "run", "--policy", "policy", "--audit-key", key, "--run-id", "c1")
	require.Equal(t, 0, r.code, r.stderr)
	b, err := os.ReadFile(filepath.Join(dir, "out", "attacker", "doors.txt"))
	require.NoError(t, err)
	got := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^(open|closed) ([a-z-]+)$`).FindAllStringSubmatch(string(b), -1) {
		got[m[2]] = m[1]
	}
	for _, door := range []string{"victim-output", "victim-marker", "hashcache", "run-record", "audit-log", "spec", "lock",
		"goenv", "key-read", "etc", "cgroup-limit", "cgroup-migrate", "guardrun-argv", "root"} {
		assert.Equal(t, "closed", got[door], "door %s\n%s", door, b)
	}
	assert.NoFileExists(t, goenv)
	assert.NoFileExists(t, "/etc/guardrun-pwned")
	out, err := os.ReadFile(filepath.Join(dir, "out", "victim", "result.txt"))
	require.NoError(t, err)
	assert.Equal(t, "trusted\n", string(out))

	// The next run trusts nothing the attacker could have touched and has
	// nothing to redo; the chain verifies with the key.
	r = guardrunEnv(t, dir, env, "run", "--policy", "policy", "--audit-key", key, "--run-id", "c2", "--json")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, `"skipped"`)
	r = guardrunEnv(t, dir, env, "verify", "--audit-key", key)
	assert.Equal(t, 0, r.code, fmt.Sprint(r.stdout, r.stderr))
}
