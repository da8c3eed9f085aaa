package nettransitive_test

import (
	"testing"

	"github.com/guardrun/guardrun/analyzers/internal/netpolicy"
	"github.com/guardrun/guardrun/analyzers/nettransitive"
	"golang.org/x/tools/go/analysis/analysistest"
)

var roots = []string{
	"example.com/...", "localmod/...",
}

func TestTransitive(t *testing.T) {
	netpolicy.ResetFlags()
	analysistest.Run(t, analysistest.TestData(), nettransitive.Analyzer, roots...)
}

func TestTransitiveWindows(t *testing.T) {
	netpolicy.ResetFlags()
	t.Setenv("GOOS", "windows")
	analysistest.Run(t, analysistest.TestData(), nettransitive.Analyzer, "example.com/tagged")
}
