package rawsocket_test

import (
	"testing"

	"github.com/guardrun/guardrun/analyzers/internal/netpolicy"
	"github.com/guardrun/guardrun/analyzers/rawsocket"
	"golang.org/x/tools/go/analysis/analysistest"
)

func TestRawSockets(t *testing.T) {
	netpolicy.ResetFlags()
	analysistest.Run(t, analysistest.TestData(), rawsocket.Analyzer, "raw", "rawclean", "rawallow", "rawwin", "rawevasion", "rawevasion/cgo", "rawevasion/asm", "rawfp")
}

func TestRawSocketsWindows(t *testing.T) {
	netpolicy.ResetFlags()
	t.Setenv("GOOS", "windows")
	analysistest.Run(t, analysistest.TestData(), rawsocket.Analyzer, "rawwin")
}
