package engine

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/version"
	"github.com/stretchr/testify/require"

	"github.com/guardrun/guardrun/policy"
)

// minCoverage is the share of policy lines the Rego unit tests must reach.
const minCoverage = 90.0

// regoDir is where the policy's Rego files are: policy/, next to this
// package.
const regoDir = ".."

// TestRegoUnitTests runs policy/*_test.rego through OPA's tester against the
// embedded policy, and checks Rego coverage.
func TestRegoUnitTests(t *testing.T) {
	mods, err := loadModules(nil, false)
	require.NoError(t, err)
	tests, err := filepath.Glob(filepath.Join(regoDir, "*_test.rego"))
	require.NoError(t, err)
	require.NotEmpty(t, tests)
	for _, f := range tests {
		src, err := os.ReadFile(f)
		require.NoError(t, err)
		name := policy.BuiltinPrefix + filepath.Base(f)
		m, err := parse(name, string(src))
		require.NoError(t, err)
		mods[name] = m
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
	tests, err := filepath.Glob(filepath.Join(regoDir, "*_test.rego"))
	require.NoError(t, err)
	require.NotEmpty(t, tests)
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

// ruleIDs collects the GRxxx ids that appear in finding(...) calls of the
// embedded modules.
func ruleIDs(t *testing.T) map[string]bool {
	t.Helper()
	ids := map[string]bool{}
	for name, src := range policy.BuiltinModules() {
		m, err := parse(name, src)
		require.NoError(t, err)
		ast.WalkTerms(m, func(x *ast.Term) bool {
			if call, ok := x.Value.(ast.Call); ok && len(call) > 1 && call[0].String() == "finding" {
				if s, ok := call[1].Value.(ast.String); ok {
					ids[string(s)] = true
				}
			}
			return false
		})
	}
	return ids
}

// The version fingerprints name (policy.OPAVersion, a constant so that the
// light package does not link OPA) is the OPA this package links.
func TestOPAVersion(t *testing.T) {
	require.Equal(t, version.Version, policy.OPAVersion, "update policy.OPAVersion to the OPA version in go.mod")
}
