package pipeline

import (
	"encoding/json"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/tools/txtar"
)

// FuzzParse feeds arbitrary bytes to Parse. It must never panic; every
// failure must be a *SpecError or SpecErrors with exit code 2; every success
// must satisfy the invariants the runner relies on; and the outcome must be
// deterministic. The seed corpus (the good spec and every bad case) runs in
// a plain `go test`.
func FuzzParse(f *testing.F) {
	good, err := os.ReadFile(filepath.Join("testdata", "good", "demo.json"))
	require.NoError(f, err)
	f.Add(good)
	cases, err := filepath.Glob(filepath.Join("testdata", "bad", "*.txtar"))
	require.NoError(f, err)
	for _, c := range cases {
		ar, err := txtar.ParseFile(c)
		require.NoError(f, err)
		for _, file := range ar.Files {
			if file.Name == "pipeline.json" {
				f.Add(file.Data)
			}
		}
	}
	f.Add([]byte(`{"version":1,"name":"x","stages":[{"name":"a","processor":{"exec":["x"]},"outputDir":"o","inputs":["."]},{"name":"b","processor":{"go":"."},"outputDir":"p","inputs":["o"]}]}`))
	f.Add([]byte(`{"version":1,"name":"x","stages":[{"name":"a","foreach":{"glob":"in/**/*.txt"},"processor":{"go":"."},"outputDir":"o/a","outputs":["{dir}/{stem}.gz"],"batch":{"maxItems":2}},{"name":"b","foreach":{"stage":"a"},"processor":{"go":"."},"inputs":["{path}","d/{{x}}"],"outputDir":"o/b","outputs":["{item}"]},{"name":"c","foreach":{"dir":"o/b"},"processor":{"go":"."},"outputDir":"o/c","outputs":["{name}"]},{"name":"m","processor":{"go":"."},"inputs":["o"],"outputDir":"p"}]}`))
	f.Add([]byte(`[[[[[[[[[[[[{}]]]]]]]]]]]]`))
	f.Add([]byte("\xef\xbb\xbf{}"))
	f.Add([]byte(`{"\u006eame":"x\ty","version":1,"stages":[{"name":"a","env":{"K":"\xff\ud83d\ude00"},"processor":{"go":"p"},"outputDir":"o"}]}`))

	specPath := filepath.Join(f.TempDir(), "pipeline.json")
	f.Fuzz(func(t *testing.T, data []byte) {
		// Differential: whatever the strict decoder accepts, encoding/json
		// decodes to the very same File.
		if got := decodeFile(data, newProblems(specPath)); got != nil {
			var want File
			require.NoError(t, json.Unmarshal(data, &want))
			require.Equal(t, &want, got)
		}

		p, err := Parse(data, specPath, testOpts)
		_, err2 := Parse(data, specPath, testOpts)
		if err != nil {
			require.Error(t, err2)
			assert.Equal(t, err.Error(), err2.Error(), "errors must be deterministic")
			assertSpecError(t, err)
			for _, pr := range Problems(err) {
				assert.Equal(t, "pipeline.json", pr.File)
			}
			return
		}
		require.NoError(t, err2)
		checkInvariants(t, p)
	})
}

// checkInvariants asserts what every successfully loaded Pipeline promises.
func checkInvariants(t *testing.T, p *Pipeline) {
	t.Helper()
	require.Equal(t, FormatVersion, p.Version)
	require.NotEmpty(t, p.Stages)
	assert.Positive(t, p.Budget.CPUs)
	assert.Positive(t, p.Budget.MemoryMB)
	assert.Positive(t, p.Budget.IOConcurrency)
	order := p.Order()
	require.Len(t, order, len(p.Stages), "Load never returns a cycle")
	pos := make(map[string]int, len(order))
	for k, i := range order {
		pos[p.Stages[i].Name] = k
	}
	for i, s := range p.Stages {
		assert.Equal(t, i, s.Index)
		assert.Regexp(t, stageNameRE, s.Name)
		for _, d := range s.DependsOn {
			assert.NotEqual(t, s.Name, d)
			assert.Less(t, pos[d], pos[s.Name], "%s runs after %s", s.Name, d)
		}
		checkFanOutInvariants(t, p, &s)
		assert.True(t, s.OutputDir != "." && s.OutputDir != "" && !strings.HasPrefix(s.OutputDir, "../") &&
			!path.IsAbs(s.OutputDir) && path.Clean(s.OutputDir) == s.OutputDir, "outputDir %q", s.OutputDir)
		for _, o := range s.Outputs {
			assert.True(t, path.Clean(o) == o && !strings.HasPrefix(o, "../") && o != ".." && !path.IsAbs(o), "output %q", o)
		}
		var params map[string]any
		assert.NoError(t, json.Unmarshal(s.Params, &params))
		assert.NotNil(t, s.Env)
		assert.NotNil(t, s.Retry.RetryableExitCodes)
		assert.Contains(t, []string{"go", "exec"}, s.Processor.Kind)
		assert.GreaterOrEqual(t, s.Retry.MaxAttempts, 1)
		assert.GreaterOrEqual(t, s.Retry.MaxDelayMs, s.Retry.BaseDelayMs)
		assert.Positive(t, s.Resources.CPUs)
		assert.Positive(t, s.TimeoutSeconds)
	}
}

// checkFanOutInvariants asserts what Load promises about fan-out stages.
func checkFanOutInvariants(t *testing.T, p *Pipeline, s *Stage) {
	t.Helper()
	if !s.IsFanOut() {
		assert.Zero(t, s.BatchMaxItems)
		for _, x := range append(slices.Clone(s.Inputs), s.Outputs...) {
			assert.False(t, IsTemplate(x), "template %q in plain stage %s", x, s.Name)
		}
		return
	}
	fe := s.Foreach
	set := 0
	for _, v := range []string{fe.Glob, fe.Dir, fe.Stage} {
		if v != "" {
			set++
		}
	}
	assert.Equal(t, 1, set, "foreach of %s: %+v", s.Name, fe)
	switch {
	case fe.Stage != "":
		up, ok := p.Stage(fe.Stage)
		require.True(t, ok, "foreach.stage %q", fe.Stage)
		assert.True(t, up.IsFanOut())
		assert.Contains(t, s.DependsOn, fe.Stage)
		assert.Empty(t, fe.Root)
	case fe.Dir != "":
		assert.Equal(t, fe.Dir, fe.Root)
		assert.NotEmpty(t, s.Inputs)
	default:
		assert.True(t, fe.Root == "." || strings.HasPrefix(fe.Glob, fe.Root+"/"), "glob %q root %q", fe.Glob, fe.Root)
		assert.NotEmpty(t, s.Inputs)
	}
	for _, r := range []string{fe.Glob, fe.Dir, fe.Root} {
		assert.True(t, !path.IsAbs(r) && !strings.HasPrefix(r, "../") && r != "..", "foreach path %q", r)
	}
	assert.GreaterOrEqual(t, s.BatchMaxItems, 0)
	require.NotEmpty(t, s.Outputs)
	for _, x := range append(slices.Clone(s.Inputs), s.Outputs...) {
		_, err := ParseTemplate(x)
		assert.NoError(t, err)
	}
	for _, o := range s.Outputs {
		vars, _ := ParseTemplate(o)
		assert.True(t, slices.ContainsFunc(vars, isDistinctVar), "output %q", o)
	}
}
