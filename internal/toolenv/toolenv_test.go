package toolenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestGoEnvIsFixed(t *testing.T) {
	r := resolve([]string{
		"PATH=/usr/bin", "GOFLAGS=-toolexec=/tmp/evil", "GOENV=/tmp/evil.env", "GOPROXY=https://proxy.example",
		"GOCACHE=/c", "GOMODCACHE=/m", "GOPATH=/p", "AWS_SECRET_ACCESS_KEY=x", "HOME=/root", "GOTOOLCHAIN=go1.99.0",
	})
	env := map[string]string{}
	for _, kv := range r.goEnv("/state/home", nil) {
		k, v, _ := strings.Cut(kv, "=")
		_, dup := env[k]
		assert.False(t, dup, "%s set twice", k)
		env[k] = v
	}
	assert.Equal(t, "off", env["GOENV"])
	assert.Equal(t, "", env["GOFLAGS"])
	assert.Equal(t, "local", env["GOTOOLCHAIN"])
	assert.Equal(t, "off", env["GOPROXY"])
	assert.Equal(t, "/state/home", env["HOME"])
	assert.Equal(t, "/c", env["GOCACHE"])
	assert.Equal(t, "/m", env["GOMODCACHE"])
	assert.Equal(t, "/p", env["GOPATH"])
	assert.Equal(t, "0", env["CGO_ENABLED"])
	assert.Equal(t, "/usr/bin", env["PATH"])
	assert.NotContains(t, env, "AWS_SECRET_ACCESS_KEY")

	r = resolve([]string{"CGO_ENABLED=1", "GOPATH=/a:/b"})
	env = map[string]string{}
	for _, kv := range r.goEnv("/h", nil) {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	assert.Equal(t, "1", env["CGO_ENABLED"], "the user's own choice is kept")
	if !strings.Contains(env["GOPATH"], ";") {
		assert.Equal(t, "/a/pkg/mod", env["GOMODCACHE"])
	}
}

// The go command run with Go(home) after TelemetryOff(home) reports its
// telemetry off (as the go command itself reads it): no counters are
// written and no detached child is started, which went on writing into
// home after guardrun had ended.
func TestTelemetryOff(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command: " + err.Error())
	}
	mode := func(home string) string {
		cmd := exec.Command("go", "env", "GOTELEMETRY")
		cmd.Env = Go(home)
		out, err := cmd.Output()
		require.NoError(t, err)
		return strings.TrimSpace(string(out))
	}
	// (Not run in a fresh home to show the default: the go command's
	// telemetry child would write into the temp dir as it is removed.)
	home := t.TempDir()
	require.NoError(t, TelemetryOff(home))
	assert.Equal(t, "off", mode(home))
	require.NoError(t, TelemetryOff(home), "again: already off")
	assert.Equal(t, "off", mode(home))
	_, err := os.Stat(filepath.Join(ConfigDir(home), "go", "telemetry", "local"))
	assert.ErrorIs(t, err, os.ErrNotExist, "no counter was written")
}
