//go:build !windows

package sandbox

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRlimitWrapRuns runs the BSD rlimit path for real (it is plain sh +
// ulimit, so it runs on Linux too): the processor sees the limit, with its
// own arguments intact.
func TestRlimitWrapRuns(t *testing.T) {
	p := &plain{opts: Options{BestEffort: true}, wrap: func(c *Cmd) (string, []string, []string) { return rlimitWrap(c, true) }}
	var out bytes.Buffer
	pr, err := p.Start(context.Background(), &Cmd{Path: "/bin/sh", Args: []string{"sh", "-c", `ulimit -v; echo "$1"`, "x", "arg one"}, Stdout: &out, Limits: Limits{MemoryBytes: 64 << 20, Pids: 5}})
	require.NoError(t, err)
	res, err := pr.Wait()
	require.NoError(t, err)
	assert.Equal(t, 0, res.ExitCode)
	assert.Equal(t, "65536\narg one", strings.TrimSpace(out.String()))
	assert.Equal(t, []string{"pids limit not enforced"}, res.Notes)

	strict := &plain{wrap: p.wrap}
	_, err = strict.Start(context.Background(), &Cmd{Path: "/bin/true", Args: []string{"true"}, Limits: Limits{Pids: 5}})
	assert.ErrorIs(t, err, ErrUnenforceable)
}
