//go:build unix

package runner

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/guardrun/guardrun/internal/testutil"
)

// TestGoBuildIgnoresWhatAProcessorCouldPlant: a processor that wrote
// $HOME/.config/go/env with GOFLAGS=-toolexec=... (the go command's own
// config file, in the HOME processors are given) must not get its code run
// by guardrun's `go build`; and a cached processor binary that no longer
// has the digest it was built with is rebuilt, never run.
func TestGoBuildIgnoresWhatAProcessorCouldPlant(t *testing.T) {
	out, err := exec.Command("go", "env", "GOCACHE", "GOMODCACHE").Output()
	require.NoError(t, err)
	caches := strings.Fields(string(out))
	require.Len(t, caches, 2)
	home := t.TempDir()
	pwned := filepath.Join(home, "pwned")
	evil := filepath.Join(home, "evil.sh")
	require.NoError(t, os.WriteFile(evil, []byte("#!/bin/sh\ntouch "+pwned+"\nexec \"$@\"\n"), 0o755))
	testutil.WriteFile(t, filepath.Join(home, ".config/go/env"), "GOFLAGS=-toolexec="+evil+"\n")

	dir := testutil.GoWorkspace(t, map[string]string{
		"pipeline.json": `{"version": 1, "name": "go", "stages": [
		  {"name": "copy", "processor": {"go": "./processors/copy"}, "inputs": ["in.txt"], "outputDir": "out", "outputs": ["copy.txt"]}]}`,
		"in.txt": "a\n",
	})
	// guardrun's environment, once the test processors are built.
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", "")
	t.Setenv("GOFLAGS", "-toolexec="+evil)
	t.Setenv("GOCACHE", caches[0])
	t.Setenv("GOMODCACHE", caches[1])
	_, err = runOnce(t, dir, Options{RunID: "r1"})
	require.NoError(t, err)
	assert.NoFileExists(t, pwned, "go build ran the planted -toolexec")
	assert.Equal(t, "a\n", readFile(t, filepath.Join(dir, "out/copy.txt")))

	// The cached binary is replaced (as a processor with write access to
	// stateDir could have): it is rebuilt, not run.
	bins, err := filepath.Glob(filepath.Join(load(t, dir).StateDir, "bin", "*", "copy"))
	require.NoError(t, err)
	require.Len(t, bins, 1)
	assert.FileExists(t, bins[0]+digestExt)
	require.NoError(t, os.WriteFile(bins[0], []byte("#!/bin/sh\ntouch "+pwned+"\n"), 0o755))
	_, err = runOnce(t, dir, Options{RunID: "r2", Force: []string{"copy"}})
	require.NoError(t, err)
	assert.NoFileExists(t, pwned, "a tampered cached binary ran")
	b, err := os.ReadFile(bins[0])
	require.NoError(t, err)
	assert.False(t, strings.HasPrefix(string(b), "#!"), "the binary was rebuilt")
}
