package e2e

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestStdlibOnly enforces the design rule that the SDK and the processors
// (their shipped, non-test code) import nothing outside the standard library.
func TestStdlibOnly(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}",
		"../sdk", "../copy", "../upper", "../flaky", "../slowcopy", "../wc").CombinedOutput()
	require.NoError(t, err, "%s", out)
	for _, pkg := range strings.Fields(string(out)) {
		assert.True(t, strings.HasPrefix(pkg, "github.com/guardrun/guardrun/processors/"), "non-stdlib dependency %s", pkg)
	}
}
