package policy

import (
	"fmt"
	"path/filepath"
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
	host := Input(p, Host{})["host"].(Host)
	resolved := host.Resolved
	for i, c := range f.Cases {
		prog, _ := execpath.Resolve(f.Workspace, c.Argv0)
		assert.Equal(t, c.Real, prog.Real, "%s: execpath", c.Name)
		assert.Equal(t, c.Real, ResolveExec(f.Workspace, c.Argv0), "%s: ResolveExec", c.Name)
		got, ok := resolved[fmt.Sprintf("s%d", i)]
		assert.Equal(t, c.Real, got, "%s: Input", c.Name)
		assert.Equal(t, c.Real != "", ok, "%s: Input leaves out what it cannot judge", c.Name)
		// Every "#!" interpreter is in the input, to be judged like argv[0].
		var interps []string
		for _, it := range host.Interpreters[fmt.Sprintf("s%d", i)] {
			interps = append(interps, it.Real)
		}
		assert.Equal(t, c.Interps, interps, "%s: Input's interpreters", c.Name)
	}
}

// TestInputInterpretersFollowTheStagePATH: "#!/usr/bin/env NAME" is judged
// where the stage will find NAME, its env's PATH when it sets one, and an
// interpreter the caller already resolved is kept.
func TestInputInterpretersFollowTheStagePATH(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no #! on Windows")
	}
	f := execpathtest.New(t)
	alt := filepath.Join(f.Outside, "alt")
	stage := func(name string, env map[string]string) pipeline.Stage {
		return pipeline.Stage{Name: name, Processor: pipeline.Processor{Kind: "exec", Exec: []string{"sb/env"}}, Env: env}
	}
	p := &pipeline.Pipeline{Workspace: f.Workspace, Stages: []pipeline.Stage{
		stage("guardrun_path", map[string]string{}),
		stage("stage_path", map[string]string{"PATH": alt}),
		stage("given", nil),
	}}
	given := []execpath.Interpreter{{Real: "/given"}}
	h := Input(p, Host{Interpreters: map[string][]execpath.Interpreter{"given": given}})["host"].(Host)
	assert.Equal(t, filepath.ToSlash(filepath.Join(f.Outside, "realpy2")), h.Interpreters["guardrun_path"][0].Real)
	assert.Equal(t, filepath.ToSlash(filepath.Join(alt, "fakepy")), h.Interpreters["stage_path"][0].Real)
	assert.Equal(t, given, h.Interpreters["given"])
	assert.Equal(t, filepath.ToSlash(filepath.Join(f.Workspace, "sb", "env")), h.Resolved["given"], "the processor is still resolved")
}
