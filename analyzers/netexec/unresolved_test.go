package netexec_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/guardrun/guardrun/analyzers/internal/netpolicy"
	"github.com/guardrun/guardrun/analyzers/netexec"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/tools/go/analysis/analysistest"
)

// TestUnresolvedIgnore: with "unresolved": "ignore" the unresolved
// commands of execunresolved are not reported (the package's only want is
// the network tool); an unknown value is a config error.
func TestUnresolvedIgnore(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "netlint.json")
	require.NoError(t, os.WriteFile(cfg, []byte(`{"unresolved": "ignore"}`), 0o644))
	c, err := netpolicy.ReadConfig(cfg)
	require.NoError(t, err)
	pol, err := netpolicy.Default().WithConfig(cfg, c)
	require.NoError(t, err)
	a := netexec.New(func() (*netpolicy.Policy, error) { return pol, nil })
	analysistest.Run(t, analysistest.TestData(), a, "execunresolved")

	require.NoError(t, os.WriteFile(cfg, []byte(`{"unresolved": "warning"}`), 0o644))
	c, err = netpolicy.ReadConfig(cfg)
	require.NoError(t, err)
	_, err = netpolicy.Default().WithConfig(cfg, c)
	require.ErrorContains(t, err, `"warning" is not "report", "warn" or "ignore"`)
}

// TestUnresolvedWarn: with "unresolved": "warn" the unresolved commands are
// still reported, in the warning category (drivers print them and do not
// fail on them); a network tool stays a finding of category netexec.
func TestUnresolvedWarn(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "netlint.json")
	require.NoError(t, os.WriteFile(cfg, []byte(`{"unresolved": "warn"}`), 0o644))
	c, err := netpolicy.ReadConfig(cfg)
	require.NoError(t, err)
	pol, err := netpolicy.Default().WithConfig(cfg, c)
	require.NoError(t, err)
	a := netexec.New(func() (*netpolicy.Policy, error) { return pol, nil })
	res := analysistest.Run(t, analysistest.TestData(), a, "execwarn")
	categories := map[string]string{}
	for _, r := range res {
		for _, d := range r.Diagnostics {
			categories[d.Message[:20]] = d.Category
		}
	}
	assert.Equal(t, map[string]string{
		"unresolved command: ": netpolicy.WarningCategory,
		`runs network tool "c`: "netexec",
	}, categories)
}
