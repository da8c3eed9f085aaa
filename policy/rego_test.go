package policy

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/stretchr/testify/require"
)

// minCoverage is the share of policy lines the Rego unit tests must reach.
const minCoverage = 90.0

// TestRegoUnitTests runs policy/*_test.rego through OPA's tester against the
// embedded policy, and checks Rego coverage.
func TestRegoUnitTests(t *testing.T) {
	mods, err := loadModules(nil, false)
	require.NoError(t, err)
	tests, err := filepath.Glob("*_test.rego")
	require.NoError(t, err)
	require.NotEmpty(t, tests)
	for _, f := range tests {
		src, err := os.ReadFile(f)
		require.NoError(t, err)
		m, err := parse(builtinPrefix+f, string(src))
		require.NoError(t, err)
		mods[builtinPrefix+f] = m
	}

	rep, err := runTests(context.Background(), mods)
	require.NoError(t, err)
	for _, f := range rep.Failed {
		t.Errorf("rego test failed: %s", f)
	}
	require.Positive(t, rep.Passed)
	t.Logf("rego tests: %d passed, %d failed, %d skipped; coverage %.1f%%", rep.Passed, len(rep.Failed), rep.Skipped, rep.Coverage)
	if len(rep.NotCovered) > 0 {
		t.Logf("not covered: %s", strings.Join(rep.NotCovered, ", "))
	}
	require.GreaterOrEqual(t, rep.Coverage, minCoverage, "rego coverage")
}

// Every rule id the policy can emit has a test that names it.
func TestEveryRuleHasRegoTests(t *testing.T) {
	ids := ruleIDs(t)
	require.NotEmpty(t, ids)
	tests, err := filepath.Glob("*_test.rego")
	require.NoError(t, err)
	var all strings.Builder
	for _, f := range tests {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		all.Write(b)
	}
	for id := range ids {
		require.Contains(t, all.String(), "test_"+strings.ToLower(id), "rule %s has no test_%s* in *_test.rego", id, strings.ToLower(id))
	}
}

// Every non-test .rego file next to this package is embedded, and nothing else.
func TestEmbeddedModulesComplete(t *testing.T) {
	files, err := filepath.Glob("*.rego")
	require.NoError(t, err)
	want := map[string]bool{}
	for _, f := range files {
		if !strings.HasSuffix(f, "_test.rego") {
			want[builtinPrefix+f] = true
		}
	}
	got := map[string]bool{}
	for name, src := range BuiltinModules() {
		got[name] = true
		disk, err := os.ReadFile(strings.TrimPrefix(name, builtinPrefix))
		require.NoError(t, err)
		require.Equal(t, string(disk), src)
	}
	require.Equal(t, want, got)
}

// ruleIDs collects the GRxxx ids that appear in violation(...) calls of the
// embedded modules.
func ruleIDs(t *testing.T) map[string]bool {
	t.Helper()
	ids := map[string]bool{}
	for name, src := range BuiltinModules() {
		m, err := parse(name, src)
		require.NoError(t, err)
		ast.WalkTerms(m, func(x *ast.Term) bool {
			if call, ok := x.Value.(ast.Call); ok && len(call) > 1 && call[0].String() == "violation" {
				if s, ok := call[1].Value.(ast.String); ok {
					ids[string(s)] = true
				}
			}
			return false
		})
	}
	return ids
}
