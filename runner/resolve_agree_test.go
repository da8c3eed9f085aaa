package runner

import (
	"fmt"
	"path/filepath"
	"runtime"
	"slices"
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
// symlink, directory, missing, not executable, PATH) and of a script's "#!"
// line (absolute, env on PATH or on the stage's PATH, chains, refused
// forms), the program the runner would execute and the interpreters the
// kernel runs for it are, symlinks resolved, exactly what the policy
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
	// "#!/usr/bin/env NAME" with a stage env that sets PATH: both look NAME
	// up there.
	alt := filepath.Join(f.Outside, "alt")
	p.Stages = append(p.Stages, pipeline.Stage{Index: len(f.Cases), Name: "envpath", Env: map[string]string{"PATH": alt},
		Processor: pipeline.Processor{Kind: "exec", Exec: []string{"sb/env"}}})
	host := policy.Input(p, policy.Host{})["host"].(policy.Host)
	judged := host.Resolved
	ps := newProcs(p, hashcache.Open(filepath.Join(t.TempDir(), "hashes")), nil)
	for i, c := range f.Cases {
		t.Run(c.Name, func(t *testing.T) {
			st := &p.Stages[i]
			pr, err := ps.resolveExec(st)
			if err == nil { // whatever runs, the policy judged
				real, rerr := filepath.EvalSymlinks(pr.Path)
				require.NoError(t, rerr)
				got, ok := judged[st.Name]
				require.True(t, ok, "the policy judged nothing, the runner runs %s", pr.Path)
				assert.Equal(t, filepath.ToSlash(real), got, "the policy judged another program than the runner runs (%s)", pr.Path)
				assert.Equal(t, got, policy.ResolveExec(p.Workspace, st.Processor.Exec[0]))
				// ... and every "#!" interpreter the kernel runs for it, each
				// hashed into the stage's code identity.
				var runs, judgedInterps []string
				for _, it := range pr.Interpreters {
					real, rerr := filepath.EvalSymlinks(it.Path)
					require.NoError(t, rerr)
					runs = append(runs, filepath.ToSlash(real))
					assert.True(t, slices.ContainsFunc(pr.Code, func(id InputID) bool { return id.Path == ps.codeName(it.Path, it.Real) }),
						"interpreter %s is not in the code identity %v", it.Path, pr.Code)
				}
				for _, it := range host.Interpreters[st.Name] {
					judgedInterps = append(judgedInterps, it.Real)
				}
				assert.Equal(t, runs, judgedInterps, "the policy judged other interpreters than the kernel runs")
				assert.Equal(t, c.Interps, runs)
			}
			if c.Err != "" {
				assert.EqualError(t, err, c.Err, "the runner must refuse it")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, c.Path, pr.Path)
		})
	}
	pr, err := ps.resolveExec(&p.Stages[len(f.Cases)])
	require.NoError(t, err)
	require.Len(t, pr.Interpreters, 1)
	want := filepath.ToSlash(filepath.Join(alt, "fakepy"))
	assert.Equal(t, want, pr.Interpreters[0].Real)
	require.Len(t, host.Interpreters["envpath"], 1)
	assert.Equal(t, want, host.Interpreters["envpath"][0].Real)
}
