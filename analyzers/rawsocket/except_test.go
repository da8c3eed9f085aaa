package rawsocket

import (
	"testing"

	"github.com/guardrun/guardrun/analyzers/internal/netpolicy"
	"github.com/stretchr/testify/require"
	"golang.org/x/tools/go/analysis/analysistest"
)

func TestConfigExceptions(t *testing.T) {
	pol, err := netpolicy.Default().With(nil, nil, []netpolicy.Exception{
		{Package: "rawexcept", Call: "golang.org/x/sys/unix.Socket", Reason: "netlink"},
		{Package: "rawexcept", Call: "golang.org/x/sys/unix.SYS_SOCKET", Reason: "netlink"},
		{Package: "rawexcept", Call: "dll:ws2_32.dll", Reason: "WSAStartup for a local pipe"},
		{Package: "other", Call: "golang.org/x/sys/unix.Connect", Reason: "another package"},
	})
	require.NoError(t, err)
	a := New(func() (*netpolicy.Policy, error) { return pol, nil })
	analysistest.Run(t, analysistest.TestData(), a, "rawexcept")
}
