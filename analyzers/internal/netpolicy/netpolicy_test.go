package netpolicy

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMatch(t *testing.T) {
	tests := []struct {
		pattern, path string
		ok            bool
	}{
		{"net", "net", true},
		{"net", "net/http", false},
		{"net/...", "net", true},
		{"net/...", "net/http/httptest", true},
		{"net/...", "netx", false},
		{"golang.org/x/net/...", "golang.org/x/net/http2", true},
		{"golang.org/x/net/...", "golang.org/x/network", false},
	}
	for _, tt := range tests {
		_, ok := Match(tt.pattern, tt.path)
		assert.Equal(t, tt.ok, ok, "%s %s", tt.pattern, tt.path)
	}
}

func TestDefaultVerdicts(t *testing.T) {
	p := Default()
	forbidden := []string{
		"net", "net/http", "net/http/httptest", "net/http/pprof", "net/rpc", "net/rpc/jsonrpc", "net/smtp",
		"net/textproto", "crypto/tls", "log/syslog", "expvar", "golang.org/x/net/http2",
		"golang.org/x/net/websocket", "google.golang.org/grpc", "google.golang.org/grpc/credentials",
		"github.com/aws/aws-sdk-go-v2/service/s3", "github.com/jackc/pgx/v5",
	}
	allowed := []string{
		"net/url", "net/netip", "net/mail", "crypto/x509", "os/exec", "fmt",
		"golang.org/x/net/html", "golang.org/x/net/html/atom", "golang.org/x/sys/unix",
		"github.com/open-policy-agent/opa/v1/rego", "google.golang.org/protobuf/proto",
	}
	for _, path := range forbidden {
		assert.True(t, p.Forbidden(path), path)
		assert.NotEmpty(t, p.Check(path).Rule.Reason, path)
	}
	for _, path := range allowed {
		assert.False(t, p.Forbidden(path), path)
	}
}

func TestLongestPatternWins(t *testing.T) {
	p, err := Default().With(
		[]Rule{{Pattern: "example.com/sdk/...", Source: "test"}, {Pattern: "net/url", Source: "test"}},
		[]Rule{{Pattern: "example.com/sdk/parse", Source: "test"}, {Pattern: "net/http/httptest", Source: "test"}},
		nil)
	require.NoError(t, err)
	assert.True(t, p.Forbidden("example.com/sdk"))
	assert.True(t, p.Forbidden("example.com/sdk/client"))
	assert.False(t, p.Forbidden("example.com/sdk/parse"))
	assert.True(t, p.Forbidden("net/url"), "deny wins a tie with the default allow")
	assert.False(t, p.Forbidden("net/http/httptest"))
	assert.True(t, p.Forbidden("net/http/cookiejar"))
}

func TestInvalidPatterns(t *testing.T) {
	for _, pat := range []string{"", "...", "/...", "a b", "a/.../b", "/abs", "trailing/", "x*"} {
		_, err := Default().With([]Rule{{Pattern: pat}}, nil, nil)
		assert.Error(t, err, pat)
	}
}

func TestConfig(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/m\n"), 0o644))
	sub := filepath.Join(dir, "a", "b")
	require.NoError(t, os.MkdirAll(sub, 0o755))
	assert.Empty(t, Discover(sub))

	cfg := filepath.Join(dir, ConfigName)
	require.NoError(t, os.WriteFile(cfg, []byte(`{
  "deny": ["example.com/telemetry/..."],
  "allow": ["net/textproto"],
  "opaque": ["example.com/vendored/syscalls/..."],
  "exceptions": [
    {"package": "example.com/m/policy/...", "import": "github.com/open-policy-agent/opa/...", "reason": "no http.send"},
    {"package": "example.com/m/sandbox", "call": "golang.org/x/sys/unix.Socket", "reason": "netlink"},
    {"package": "example.com/m/tools", "exec": "git", "reason": "local git only"},
    {"package": "example.com/m/...", "import": "github.com/stretchr/testify/...", "files": "*_test.go", "reason": "assertions"}
  ]
}`), 0o644))
	assert.Equal(t, cfg, Discover(sub))
	p, path, err := ForDir(sub)
	require.NoError(t, err)
	assert.Equal(t, cfg, path)
	assert.True(t, p.Forbidden("example.com/telemetry/otlp"))
	assert.False(t, p.Forbidden("net/textproto"))
	assert.True(t, p.Opaque("example.com/vendored/syscalls/win"))
	assert.True(t, p.Opaque("golang.org/x/sys/windows"))
	assert.True(t, p.Opaque("crypto/x509"))
	assert.False(t, p.Opaque("example.com/m/a"))

	e, ok := p.Except("example.com/m/policy/eval", "x.go", KindImport, "github.com/open-policy-agent/opa/v1/rego")
	require.True(t, ok)
	assert.Equal(t, "no http.send", e.Reason)
	_, ok = p.Except("example.com/m/other", "x.go", KindImport, "github.com/open-policy-agent/opa/v1/rego")
	assert.False(t, ok)
	_, ok = p.Except("example.com/m/sandbox", "x.go", KindCall, "golang.org/x/sys/unix.Socket")
	assert.True(t, ok)
	_, ok = p.Except("example.com/m/sandbox", "x.go", KindCall, "golang.org/x/sys/unix.Connect")
	assert.False(t, ok)
	_, ok = p.Except("example.com/m/tools", "x.go", KindExec, "git")
	assert.True(t, ok)
	_, ok = p.Except("example.com/m/tests", "/src/a_test.go", KindImport, "github.com/stretchr/testify/require")
	assert.True(t, ok)
	_, ok = p.Except("example.com/m/tests", "/src/a.go", KindImport, "github.com/stretchr/testify/require")
	assert.False(t, ok, "the exception is restricted to test files")
	_, ok = p.Except("example.com/m/tests", "", KindImport, "github.com/stretchr/testify/require")
	assert.False(t, ok)
}

func TestConfigErrors(t *testing.T) {
	tests := map[string]string{
		"unknown field": `{"denny": []}`,
		"no reason":     `{"exceptions": [{"package": "a", "import": "net"}]}`,
		"two subjects":  `{"exceptions": [{"package": "a", "import": "net", "exec": "curl", "reason": "x"}]}`,
		"no subject":    `{"exceptions": [{"package": "a", "reason": "x"}]}`,
		"bad pattern":   `{"deny": ["a b"]}`,
		"trailing data": `{} {}`,
		"wrong type":    `{"deny": "net"}`,
		"blank reason":  `{"exceptions": [{"package": "a", "import": "net", "reason": "  "}]}`,
		"bad glob":      `{"exceptions": [{"package": "a", "import": "net", "files": "[", "reason": "x"}]}`,
		"bad opaque":    `{"opaque": ["..."]}`,
		"bad pkg":       `{"exceptions": [{"package": "...", "import": "net", "reason": "x"}]}`,
	}
	for name, content := range tests {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), ConfigName)
			require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
			c, err := ReadConfig(path)
			if err == nil {
				_, err = Default().WithConfig(path, c)
			}
			assert.Error(t, err)
		})
	}
}

func TestDiscoverSkipsModuleCache(t *testing.T) {
	cache := t.TempDir()
	t.Setenv("GOMODCACHE", cache)
	dep := filepath.Join(cache, "example.com", "dep@v1.0.0")
	require.NoError(t, os.MkdirAll(dep, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dep, "go.mod"), []byte("module example.com/dep\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dep, ConfigName), []byte(`{"allow": ["net/..."]}`), 0o644))
	assert.Empty(t, Discover(dep), "a dependency must not be able to ship its own exemptions")
}

func TestIsStd(t *testing.T) {
	for _, p := range []string{"net", "net/http", "crypto/x509", "os/exec", "unsafe"} {
		assert.True(t, IsStd(p), p)
	}
	for _, p := range []string{"example.com/a", "localmod/a", "github.com/x/y", "notapackage"} {
		assert.False(t, IsStd(p), p)
	}
}

func TestGlobalFlags(t *testing.T) {
	ResetFlags()
	t.Cleanup(ResetFlags)
	t.Setenv(ConfigEnv, "none")
	p, err := Global()
	require.NoError(t, err)
	assert.False(t, p.Forbidden("example.com/x"))
	require.NoError(t, flagDeny.Set("example.com/x, example.com/y/..."))
	p, err = Global()
	require.NoError(t, err)
	assert.True(t, p.Forbidden("example.com/x"))
	assert.True(t, p.Forbidden("example.com/y/z"))
	require.NoError(t, flagConfig.Set(filepath.Join(t.TempDir(), "missing.json")))
	_, err = Global()
	assert.Error(t, err)
}

// TestDocsListEveryDefault keeps docs/NETLINT.md in step with the lists.
func TestDocsListEveryDefault(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "..", "docs", "NETLINT.md"))
	require.NoError(t, err)
	for _, e := range append(append(append([]Entry(nil), DefaultDeny...), DefaultAllow...), DefaultOpaque...) {
		assert.Contains(t, string(doc), "| `"+e.Pattern+"` | "+e.Reason+" |", e.Pattern)
	}
}
