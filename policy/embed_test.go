package policy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Every non-test .rego file next to this package is embedded, and nothing else.
func TestEmbeddedModulesComplete(t *testing.T) {
	files, err := filepath.Glob("*.rego")
	require.NoError(t, err)
	want := map[string]bool{}
	for _, f := range files {
		if !strings.HasSuffix(f, "_test.rego") {
			want[BuiltinPrefix+f] = true
		}
	}
	got := map[string]bool{}
	for name, src := range BuiltinModules() {
		got[name] = true
		disk, err := os.ReadFile(strings.TrimPrefix(name, BuiltinPrefix))
		require.NoError(t, err)
		require.Equal(t, string(disk), src)
	}
	require.Equal(t, want, got)
}
