package netdirective_test

import (
	"testing"

	"github.com/guardrun/guardrun/analyzers/netdirective"
	"golang.org/x/tools/go/analysis/analysistest"
)

func TestDirectives(t *testing.T) {
	analysistest.Run(t, analysistest.TestData(), netdirective.Analyzer, "directives")
}
