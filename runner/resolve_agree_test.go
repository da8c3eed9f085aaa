package runner

import (
	"fmt"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/guardrun/guardrun/internal/execpath/execpathtest"
	"github.com/guardrun/guardrun/internal/hashcache"
	"github.com/guardrun/guardrun/pipeline"
	"github.com/guardrun/guardrun/policy"
)

// TestPolicyAndRunnerAgreeOnExecProgram: for every shape of argv[0] (bare
// name, ./x, x/y, absolute, dot-dot through a symlink, symlink, dangling
// symlink, directory, missing, not executable, PATH), the program the
// runner would execute is, symlinks resolved, exactly what the policy
// judges for that stage; and the runner refuses, with its usual message,
// what it cannot run. Changing either side's resolution alone fails this
// test (e.g. a runner that falls back to PATH for a dangling workspace
// link runs a program the policy never saw).
func TestPolicyAndRunnerAgreeOnExecProgram(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("execute bits and PATHEXT differ on Windows")
	}
	f := execpathtest.New(t)
	p := &pipeline.Pipeline{Workspace: f.Workspace, StateDir: t.TempDir()}
	for i, c := range f.Cases {
		p.Stages = append(p.Stages, pipeline.Stage{Index: i, Name: fmt.Sprintf("s%d", i),
			Processor: pipeline.Processor{Kind: "exec", Exec: []string{c.Argv0, "--flag"}}})
	}
	judged := policy.Input(p, policy.Host{})["host"].(policy.Host).Resolved
	ps := newProcs(p, hashcache.Open(filepath.Join(t.TempDir(), "hashes")), nil)
	for i, c := range f.Cases {
		t.Run(c.Name, func(t *testing.T) {
			st := &p.Stages[i]
			pr, err := ps.resolveExec(st.Processor.Exec)
			if err == nil { // whatever runs, the policy judged
				real, rerr := filepath.EvalSymlinks(pr.Path)
				require.NoError(t, rerr)
				got, ok := judged[st.Name]
				require.True(t, ok, "the policy judged nothing, the runner runs %s", pr.Path)
				assert.Equal(t, filepath.ToSlash(real), got, "the policy judged another program than the runner runs (%s)", pr.Path)
				assert.Equal(t, got, policy.ResolveExec(p.Workspace, st.Processor.Exec[0]))
			}
			if c.Err != "" {
				assert.EqualError(t, err, c.Err, "the runner must refuse it")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, c.Path, pr.Path)
		})
	}
}
