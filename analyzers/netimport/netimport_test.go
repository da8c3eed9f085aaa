package netimport_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/guardrun/guardrun/analyzers/internal/netpolicy"
	"github.com/guardrun/guardrun/analyzers/netimport"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/tools/go/analysis/analysistest"
)

func TestDirectImports(t *testing.T) {
	netpolicy.ResetFlags()
	analysistest.Run(t, analysistest.TestData(), netimport.Analyzer, "direct", "clean", "suppressed", "tagged", "datafp", "datause")
}

func TestBuildTagsWindows(t *testing.T) {
	netpolicy.ResetFlags()
	t.Setenv("GOOS", "windows")
	analysistest.Run(t, analysistest.TestData(), netimport.Analyzer, "tagged")
}

func TestDenyAndAllowFlags(t *testing.T) {
	netpolicy.ResetFlags()
	t.Cleanup(netpolicy.ResetFlags)
	a := netimport.Analyzer
	require.NoError(t, a.Flags.Set("deny", "example.com/telemetry/...,net/url"))
	require.NoError(t, a.Flags.Set("allow", "example.com/telemetry/safe"))
	analysistest.Run(t, analysistest.TestData(), a, "custom")
}

// TestEveryDefault generates a GOPATH with a stub package for every default
// pattern (and a subpackage for "/..." patterns) and expects a finding for
// each denied one and none for each allowed one.
func TestEveryDefault(t *testing.T) {
	netpolicy.ResetFlags()
	dir := t.TempDir()
	var imports []string
	stub := func(path string) {
		if netpolicy.IsStd(path) {
			return
		}
		pkgDir := filepath.Join(dir, "src", filepath.FromSlash(path))
		require.NoError(t, os.MkdirAll(pkgDir, 0o755))
		src := fmt.Sprintf("// Package stub stands in for %s.\npackage stub\n\n// X is used by the importer.\nvar X int\n", path)
		require.NoError(t, os.WriteFile(filepath.Join(pkgDir, "stub.go"), []byte(src), 0o644))
	}
	seen := map[string]bool{}
	add := func(path string, denied bool, reason string) {
		if seen[path] {
			return
		}
		seen[path] = true
		stub(path)
		line := fmt.Sprintf("\t_ %q", path)
		if denied {
			line += fmt.Sprintf(" // want `forbidden network import %q \\(%s\\)`", path, regexpQuote(reason))
		}
		imports = append(imports, line)
	}
	pol := netpolicy.Default()
	direct, err := os.ReadFile(filepath.Join("testdata", "src", "direct", "direct.go"))
	require.NoError(t, err)
	for _, e := range netpolicy.DefaultDeny {
		base := strings.TrimSuffix(e.Pattern, "/...")
		if netpolicy.IsStd(base) {
			// Standard library entries are real packages, imported by
			// testdata/src/direct with a want comment each; loading them
			// from source again here would only cost time.
			probe := base
			if e.Pattern == "net/..." {
				probe = "net/rpc/jsonrpc"
			}
			assert.Regexp(t, fmt.Sprintf(`%q +// want`, probe), string(direct), "std default %s is not covered by testdata/src/direct", e.Pattern)
			continue
		}
		add(base, true, pol.Check(base).Rule.Reason)
		if strings.HasSuffix(e.Pattern, "/...") {
			add(base+"/sub/pkg", true, pol.Check(base+"/sub/pkg").Rule.Reason)
		}
	}
	for _, e := range netpolicy.DefaultAllow {
		base := strings.TrimSuffix(e.Pattern, "/...")
		require.False(t, pol.Forbidden(base), base)
		if !netpolicy.IsStd(base) { // net/url, net/netip, net/mail: testdata/src/direct
			add(base, false, "")
		}
	}
	src := "package everything\n\nimport (\n" + strings.Join(imports, "\n") + "\n)\n"
	pkgDir := filepath.Join(dir, "src", "everything")
	require.NoError(t, os.MkdirAll(pkgDir, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(pkgDir, "everything.go"), []byte(src), 0o644))
	analysistest.Run(t, dir, netimport.Analyzer, "everything")
}

func regexpQuote(s string) string {
	r := strings.NewReplacer(`(`, `\(`, `)`, `\)`, `.`, `\.`, `+`, `\+`, `*`, `\*`, `?`, `\?`, `[`, `\[`, `]`, `\]`, `|`, `\|`, `^`, `\^`, `$`, `\$`, "`", ".")
	return r.Replace(s)
}
