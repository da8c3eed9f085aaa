package policy

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/guardrun/guardrun/internal/execpath"
	"github.com/guardrun/guardrun/internal/execpath/execpathtest"
	"github.com/guardrun/guardrun/pipeline"
)

// TestPolicyJudgesWhatRuns: for every shape of argv[0], what the policy
// judges (ResolveExec, and host.resolved as Input fills it for a whole spec
// through one memoising resolver) is the Real of execpath.Resolve, whose
// Path the runner executes. runner/resolve_agree_test.go checks the
// runner's side.
func TestPolicyJudgesWhatRuns(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("execute bits and PATHEXT differ on Windows")
	}
	f := execpathtest.New(t)
	p := &pipeline.Pipeline{Workspace: f.Workspace}
	for i, c := range f.Cases {
		p.Stages = append(p.Stages, pipeline.Stage{Index: i, Name: fmt.Sprintf("s%d", i),
			Processor: pipeline.Processor{Kind: "exec", Exec: []string{c.Argv0, "--flag"}}})
	}
	resolved := Input(p, Host{})["host"].(Host).Resolved
	for i, c := range f.Cases {
		prog, _ := execpath.Resolve(f.Workspace, c.Argv0)
		assert.Equal(t, c.Real, prog.Real, "%s: execpath", c.Name)
		assert.Equal(t, c.Real, ResolveExec(f.Workspace, c.Argv0), "%s: ResolveExec", c.Name)
		got, ok := resolved[fmt.Sprintf("s%d", i)]
		assert.Equal(t, c.Real, got, "%s: Input", c.Name)
		assert.Equal(t, c.Real != "", ok, "%s: Input leaves out what it cannot judge", c.Name)
	}
}
