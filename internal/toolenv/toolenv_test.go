package toolenv

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
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
