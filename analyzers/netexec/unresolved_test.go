package netexec_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/guardrun/guardrun/analyzers/internal/netpolicy"
	"github.com/guardrun/guardrun/analyzers/netexec"
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

	require.NoError(t, os.WriteFile(cfg, []byte(`{"unresolved": "warn"}`), 0o644))
	c, err = netpolicy.ReadConfig(cfg)
	require.NoError(t, err)
	_, err = netpolicy.Default().WithConfig(cfg, c)
	require.ErrorContains(t, err, `"warn" is neither "report" nor "ignore"`)
}
