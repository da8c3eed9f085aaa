package suite_test

import (
	"archive/zip"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/guardrun/guardrun/analyzers/suite"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// depB is a dependency that opens a raw socket and runs what it is given,
// without importing net: only facts can carry that to its callers.
const depB = `package b

import (
	"os/exec"
	"syscall"
)

// G opens a raw socket.
func G() int {
	fd, _ := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	return fd
}

// Run starts the program it is given.
func Run(name string, args ...string) error { return exec.Command(name, args...).Run() }
`

const mainA = `package a

import "example.com/b"

func F() int { return b.G() }

func Fetch() error { return b.Run("curl", "https://example.com") }
`

var wantChains = []string{
	`a.go:5:23: calls b.G, which makes a raw network call: a.F -> b.G -> syscall.Socket (rawsocket)`,
	`a.go:7:29: runs network tool "curl" (through b.Run) (netexec)`,
}

func writeFiles(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(root, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	}
}

// TestCrossModuleFacts: a chain a.F -> b.G -> syscall.Socket through a
// dependency in another, local module (a directory replace, or a go.work) is
// reported in the standalone driver, direct and transitive; the findings
// inside the dependency are not (it is not what was asked for).
func TestCrossModuleFacts(t *testing.T) {
	for _, layout := range []string{"replace", "go.work"} {
		t.Run(layout, func(t *testing.T) {
			root := t.TempDir()
			files := map[string]string{
				"b/go.mod": "module example.com/b\n\ngo 1.22\n",
				"b/b.go":   depB,
				"a/a.go":   mainA,
			}
			env := []string{"GOWORK=off", "GOFLAGS=-mod=mod"}
			if layout == "replace" {
				files["a/go.mod"] = "module example.com/a\n\ngo 1.22\n\nrequire example.com/b v0.0.0\n\nreplace example.com/b => ../b\n"
			} else {
				files["a/go.mod"] = "module example.com/a\n\ngo 1.22\n"
				files["go.work"] = "go 1.22\n\nuse (\n\t./a\n\t./b\n)\n"
				env = []string{"GOWORK=" + filepath.Join(root, "go.work"), "GOFLAGS="}
			}
			writeFiles(t, root, files)
			for _, transitive := range []bool{false, true} {
				fs, err := suite.Run(context.Background(), suite.Options{
					Dir: filepath.Join(root, "a"), Patterns: []string{"./..."}, Transitive: transitive, Env: env,
				})
				require.NoError(t, err)
				assert.Equal(t, strings.Join(wantChains, "\n")+"\n", render(fs), "transitive=%v", transitive)
			}
		})
	}
}

// TestDepsVersioned: a dependency from the module cache (served here by a
// file proxy) is analysed for its facts only with Deps; without it the
// chain through it is not seen, as documented.
func TestDepsVersioned(t *testing.T) {
	root := t.TempDir()
	proxy := filepath.Join(root, "proxy", "example.com", "b", "@v")
	require.NoError(t, os.MkdirAll(proxy, 0o755))
	gomod := "module example.com/b\n\ngo 1.22\n"
	writeFiles(t, proxy, map[string]string{
		"list":        "v1.0.0\n",
		"v1.0.0.info": `{"Version":"v1.0.0","Time":"2024-01-01T00:00:00Z"}`,
		"v1.0.0.mod":  gomod,
	})
	zf, err := os.Create(filepath.Join(proxy, "v1.0.0.zip"))
	require.NoError(t, err)
	zw := zip.NewWriter(zf)
	for name, content := range map[string]string{"go.mod": gomod, "b.go": depB} {
		w, err := zw.Create("example.com/b@v1.0.0/" + name)
		require.NoError(t, err)
		_, err = w.Write([]byte(content))
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
	require.NoError(t, zf.Close())
	writeFiles(t, root, map[string]string{
		"a/go.mod": "module example.com/a\n\ngo 1.22\n\nrequire example.com/b v1.0.0\n",
		"a/a.go":   mainA,
	})
	env := []string{
		"GOPROXY=file://" + filepath.ToSlash(filepath.Join(root, "proxy")), "GONOSUMDB=example.com", "GOSUMDB=off",
		"GOFLAGS=-mod=mod -modcacherw", "GOMODCACHE=" + filepath.Join(root, "modcache"), "GOWORK=off",
	}
	dir := filepath.Join(root, "a")
	fs, err := suite.Run(context.Background(), suite.Options{Dir: dir, Patterns: []string{"./..."}, Env: env})
	require.NoError(t, err)
	assert.Empty(t, fs, "without Deps a versioned dependency is known by its export data only")
	fs, err = suite.Run(context.Background(), suite.Options{Dir: dir, Patterns: []string{"./..."}, Env: env, Deps: true, Transitive: true})
	require.NoError(t, err)
	assert.Equal(t, strings.Join(wantChains, "\n")+"\n", render(fs))
}
