//go:build unix

package sdk

import (
	"bufio"
	"os"
	"strconv"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestFromEnvProgressFD hands FromEnv a duplicate of a pipe's write end, as
// the runner hands a processor fd 3.
func TestFromEnvProgressFD(t *testing.T) {
	clearEnv(t)
	r, w, err := os.Pipe()
	require.NoError(t, err)
	defer r.Close()
	fd, err := syscall.Dup(int(w.Fd()))
	require.NoError(t, err)
	require.NoError(t, w.Close())
	t.Setenv(EnvOutputDir, t.TempDir())
	t.Setenv(EnvProgressFD, strconv.Itoa(fd))
	e, err := FromEnv()
	require.NoError(t, err)
	require.True(t, e.HasProgress())
	require.NoError(t, e.Report(Progress{LineOffset: 5, ByteOffset: 6, Outputs: map[string]int64{"o": 7}}))
	require.NoError(t, e.Close())
	line, err := bufio.NewReader(r).ReadString('\n')
	require.NoError(t, err)
	assert.Equal(t, `{"lineOffset":5,"byteOffset":6,"outputs":{"o":7}}`+"\n", line)
}
