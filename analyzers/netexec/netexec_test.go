package netexec_test

import (
	"testing"

	"github.com/guardrun/guardrun/analyzers/internal/netpolicy"
	"github.com/guardrun/guardrun/analyzers/netexec"
	"github.com/stretchr/testify/assert"
	"golang.org/x/tools/go/analysis/analysistest"
)

func TestNetExec(t *testing.T) {
	netpolicy.ResetFlags()
	analysistest.Run(t, analysistest.TestData(), netexec.Analyzer, "execs", "execclean", "execallow", "evasion", "execfp")
}

func TestBase(t *testing.T) {
	for in, want := range map[string]string{
		"curl":                         "curl",
		"/usr/bin/curl":                "curl",
		`C:\Windows\System32\CURL.EXE`: "curl",
		"ssh.exe":                      "ssh",
		"":                             "",
		"./tools/run.cmd":              "run",
	} {
		assert.Equal(t, want, netexec.Base(in), in)
	}
}

// TestEveryTool makes sure each listed tool is reported by name.
func TestEveryTool(t *testing.T) {
	for _, tool := range netexec.NetworkTools {
		assert.NotEmpty(t, netexec.Base(tool), tool)
		assert.Equal(t, tool, netexec.Base("/usr/local/bin/"+tool), tool)
	}
}
