package pipeline

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// loadSpec writes spec as pipeline.json into a fresh workspace and loads it.
func loadSpec(t *testing.T, spec string) (*Pipeline, error) {
	t.Helper()
	work := realTempDir(t)
	path := filepath.Join(work, "pipeline.json")
	writeFile(t, path, []byte(spec))
	return Load(path, testOpts)
}

func mustLoad(t *testing.T, spec string) *Pipeline {
	t.Helper()
	p, err := loadSpec(t, spec)
	require.NoError(t, err)
	return p
}

func TestLoadDemo(t *testing.T) {
	path := filepath.Join("testdata", "good", "demo.json")
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	p, err := Load(path, testOpts)
	require.NoError(t, err)

	abs, err := filepath.Abs(path)
	require.NoError(t, err)
	ws, err := filepath.EvalSymlinks(filepath.Dir(abs))
	require.NoError(t, err)
	sum := sha256.Sum256(data)

	assert.Equal(t, 1, p.Version)
	assert.Equal(t, "demo", p.Name)
	assert.Equal(t, abs, p.SpecPath)
	assert.Equal(t, ws, p.Workspace)
	assert.Equal(t, filepath.Join(ws, "state"), p.StateDir)
	assert.Equal(t, filepath.Join(ws, "locks"), p.LocksDir)
	assert.Equal(t, hex.EncodeToString(sum[:]), p.SpecHash)
	assert.Equal(t, Budget{CPUs: 4, MemoryMB: 4096, IOConcurrency: 8}, p.Budget)

	require.Len(t, p.Stages, 2)
	builtin := func(i int, name, proc, in, outDir, out string, deps []string) Stage {
		return Stage{
			Index: i, Name: name,
			Processor:      Processor{Kind: "go", Go: proc},
			Params:         json.RawMessage("{}"),
			Inputs:         []string{in},
			CodeDeps:       []string{},
			OutputDir:      outDir,
			Outputs:        []string{out},
			DependsOn:      deps,
			Idempotent:     true,
			Checkpoint:     Checkpoint{Enabled: true, EveryLines: DefaultCheckpointLines, EverySeconds: DefaultCheckpointSeconds},
			Retry:          Retry{MaxAttempts: 3, BaseDelayMs: 100, MaxDelayMs: 5000, Multiplier: 2, Jitter: 0.2, RetryableExitCodes: []int{75}},
			Resources:      Resources{CPUs: 1, MemoryMB: 1024, Pids: 512},
			TimeoutSeconds: 3600,
			Env:            map[string]string{},
			IOHeavy:        true,
		}
	}
	assert.Equal(t, builtin(0, "stage_copy", "processors/copy", "data/input/sample.txt", "data/work", "copy.txt", []string{}), p.Stages[0])
	assert.Equal(t, builtin(1, "stage_upper", "processors/upper", "data/work/copy.txt", "data/output", "result.txt", []string{"stage_copy"}), p.Stages[1])
	assert.Equal(t, []int{0, 1}, p.Order())
	assert.Equal(t, []string{"stage_upper"}, p.Downstream("stage_copy"))
	assert.Equal(t, filepath.Join(ws, "data", "work", "copy.txt"), p.Abs("data/work/copy.txt"))

	// The resolved form is itself valid JSON for the CLI's --json output.
	_, err = json.Marshal(p)
	require.NoError(t, err)
}

func TestDefaultsLayering(t *testing.T) {
	const stageOnly = `{"name":"a","processor":{"go":"./p"},"outputDir":"out"}`
	tests := []struct {
		name  string
		spec  string
		check func(t *testing.T, p *Pipeline)
	}{
		{
			name: "built-ins when nothing is set",
			spec: `{"version":1,"name":"x","stages":[` + stageOnly + `]}`,
			check: func(t *testing.T, p *Pipeline) {
				s := p.Stages[0]
				assert.Equal(t, Resources{CPUs: DefaultCPUs, MemoryMB: DefaultMemoryMB, Pids: DefaultPids}, s.Resources)
				assert.Equal(t, DefaultTimeoutSeconds, s.TimeoutSeconds)
				assert.Equal(t, []int{DefaultRetryableExitCode}, s.Retry.RetryableExitCodes)
				assert.True(t, s.Idempotent)
				assert.True(t, s.IOHeavy)
				assert.True(t, s.Checkpoint.Enabled)
				assert.NotNil(t, s.Env)
				assert.Empty(t, s.Env)
				assert.NotNil(t, s.Inputs)
				assert.NotNil(t, s.Outputs)
				assert.Nil(t, s.Declared)
				assert.JSONEq(t, `{}`, string(s.Params))
			},
		},
		{
			name: "defaults block fills what the stage leaves unset",
			spec: `{"version":1,"name":"x","defaults":{
				"retry":{"maxAttempts":5,"baseDelayMs":0,"maxDelayMs":0,"multiplier":1,"jitter":0,"retryableExitCodes":[1,2],"retryOnTimeout":true,"retryOnOOM":true},
				"resources":{"cpus":0.5,"memoryMB":64,"pids":8,"io":{"readBps":10,"writeBps":20}},
				"checkpoint":{"enabled":false,"everyLines":7,"everySeconds":0.25},
				"timeoutSeconds":9},
				"stages":[` + stageOnly + `]}`,
			check: func(t *testing.T, p *Pipeline) {
				s := p.Stages[0]
				assert.Equal(t, Retry{MaxAttempts: 5, Multiplier: 1, RetryableExitCodes: []int{1, 2}, RetryOnTimeout: true, RetryOnOOM: true}, s.Retry)
				assert.Equal(t, Resources{CPUs: 0.5, MemoryMB: 64, Pids: 8, IO: IO{ReadBps: 10, WriteBps: 20}}, s.Resources)
				assert.Equal(t, Checkpoint{Enabled: false, EveryLines: 7, EverySeconds: 0.25}, s.Checkpoint)
				assert.Equal(t, 9, s.TimeoutSeconds)
			},
		},
		{
			name: "the stage's own values win, field by field",
			spec: `{"version":1,"name":"x","defaults":{
				"retry":{"maxAttempts":5,"jitter":0.5,"retryableExitCodes":[1]},
				"resources":{"cpus":0.5,"memoryMB":64,"io":{"readBps":10}},
				"checkpoint":{"everyLines":7},
				"timeoutSeconds":9},
				"stages":[{"name":"a","processor":{"go":"./p"},"outputDir":"out",
				"retry":{"maxAttempts":2,"retryableExitCodes":[]},
				"resources":{"memoryMB":128,"io":{"writeBps":5}},
				"checkpoint":{"enabled":false},
				"idempotency":{"enabled":false},
				"ioHeavy":false,
				"timeoutSeconds":30,
				"env":{"LC_ALL":"C"},
				"params":{ "b" : [1, 2], "a" : null },
				"version":"7"}]}`,
			check: func(t *testing.T, p *Pipeline) {
				s := p.Stages[0]
				assert.Equal(t, 2, s.Retry.MaxAttempts)
				assert.Equal(t, 0.5, s.Retry.Jitter)
				assert.Equal(t, int64(DefaultBaseDelayMs), s.Retry.BaseDelayMs)
				assert.Equal(t, []int{}, s.Retry.RetryableExitCodes, "an explicit [] retries no exit code")
				assert.Equal(t, Resources{CPUs: 0.5, MemoryMB: 128, Pids: DefaultPids, IO: IO{ReadBps: 10, WriteBps: 5}}, s.Resources)
				assert.Equal(t, Checkpoint{Enabled: false, EveryLines: 7, EverySeconds: DefaultCheckpointSeconds}, s.Checkpoint)
				assert.False(t, s.Idempotent)
				assert.False(t, s.IOHeavy)
				assert.Equal(t, 30, s.TimeoutSeconds)
				assert.Equal(t, map[string]string{"LC_ALL": "C"}, s.Env)
				assert.Equal(t, `{"b":[1,2],"a":null}`, string(s.Params), "params are stored compact, order kept")
				assert.Equal(t, "7", s.Version)
			},
		},
		{
			name: "run budget defaults to the host",
			spec: `{"version":1,"name":"x","stages":[` + stageOnly + `]}`,
			check: func(t *testing.T, p *Pipeline) {
				assert.Equal(t, Budget{CPUs: 4, MemoryMB: 4096, IOConcurrency: 4 * DefaultIOConcurrencyFactor}, p.Budget)
			},
		},
		{
			name: "ioConcurrency follows the budget's cpus",
			spec: `{"version":1,"name":"x","resources":{"cpus":2.5,"memoryMB":100},"stages":[` + stageOnly + `]}`,
			check: func(t *testing.T, p *Pipeline) {
				assert.Equal(t, Budget{CPUs: 2.5, MemoryMB: 100, IOConcurrency: 2 * DefaultIOConcurrencyFactor}, p.Budget)
			},
		},
		{
			name: "ioConcurrency is at least one",
			spec: `{"version":1,"name":"x","resources":{"cpus":0.5},"stages":[` + stageOnly + `]}`,
			check: func(t *testing.T, p *Pipeline) {
				assert.Equal(t, 1, p.Budget.IOConcurrency)
			},
		},
		{
			name: "explicit budget wins",
			spec: `{"version":1,"name":"x","resources":{"cpus":8,"memoryMB":1,"ioConcurrency":3},"stages":[` + stageOnly + `]}`,
			check: func(t *testing.T, p *Pipeline) {
				assert.Equal(t, Budget{CPUs: 8, MemoryMB: 1, IOConcurrency: 3}, p.Budget)
			},
		},
		{
			name: "null means unset",
			spec: `{"version":1,"name":"x","stateDir":null,"defaults":null,"resources":null,"stages":[{"name":"a","processor":{"go":"./p"},"outputDir":"out","params":null,"retry":null,"env":null,"dependsOn":null,"timeoutSeconds":null}]}`,
			check: func(t *testing.T, p *Pipeline) {
				s := p.Stages[0]
				assert.Equal(t, filepath.Join(p.Workspace, "state"), p.StateDir)
				assert.Equal(t, "{}", string(s.Params))
				assert.Equal(t, DefaultTimeoutSeconds, s.TimeoutSeconds)
				assert.Nil(t, s.Declared)
				assert.NotNil(t, s.Env)
			},
		},
		{
			name: "stateDir and locksDir are absolute in the workspace",
			spec: `{"version":1,"name":"x","stateDir":"./run/state/","locksDir":"run/../l","stages":[` + stageOnly + `]}`,
			check: func(t *testing.T, p *Pipeline) {
				assert.Equal(t, filepath.Join(p.Workspace, "run", "state"), p.StateDir)
				assert.Equal(t, filepath.Join(p.Workspace, "l"), p.LocksDir)
			},
		},
		{
			name: "exec processor keeps argv as written",
			spec: `{"version":1,"name":"x","stages":[{"name":"a","processor":{"exec":["sort","-u","./x"]},"outputDir":"out"}]}`,
			check: func(t *testing.T, p *Pipeline) {
				assert.Equal(t, Processor{Kind: "exec", Exec: []string{"sort", "-u", "./x"}}, p.Stages[0].Processor)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.check(t, mustLoad(t, tt.spec))
		})
	}
}

func TestEdges(t *testing.T) {
	tests := []struct {
		name     string
		stages   string
		deps     map[string][]string
		declared map[string][]string // nil entries mean "omitted"
		order    []string
	}{
		{
			name: "implicit sequential when nothing connects the stages",
			stages: `{"name":"a","processor":{"go":"./p"},"outputDir":"o/a"},
			         {"name":"b","processor":{"go":"./p"},"outputDir":"o/b"},
			         {"name":"c","processor":{"go":"./p"},"outputDir":"o/c"}`,
			deps:  map[string][]string{"a": {}, "b": {"a"}, "c": {"b"}},
			order: []string{"a", "b", "c"},
		},
		{
			name: "an explicit empty dependsOn makes a stage independent of list order",
			stages: `{"name":"a","processor":{"go":"./p"},"outputDir":"o/a"},
			         {"name":"b","processor":{"go":"./p"},"outputDir":"o/b","dependsOn":[]},
			         {"name":"c","processor":{"go":"./p"},"outputDir":"o/c"}`,
			deps:     map[string][]string{"a": {}, "b": {}, "c": {"b"}},
			declared: map[string][]string{"b": {}},
			order:    []string{"a", "b", "c"},
		},
		{
			name: "a data edge replaces the implicit edge",
			stages: `{"name":"a","processor":{"go":"./p"},"outputDir":"o/a","outputs":["x.txt"]},
			         {"name":"b","processor":{"go":"./p"},"outputDir":"o/b"},
			         {"name":"c","processor":{"go":"./p"},"inputs":["o/a/x.txt"],"outputDir":"o/c"}`,
			deps:  map[string][]string{"a": {}, "b": {"a"}, "c": {"a"}},
			order: []string{"a", "b", "c"},
		},
		{
			name: "a data edge may point at a later stage; the implicit edge is dropped rather than close a cycle",
			stages: `{"name":"a","processor":{"go":"./p"},"inputs":["o/b/y.txt"],"outputDir":"o/a"},
			         {"name":"b","processor":{"go":"./p"},"outputDir":"o/b","outputs":["y.txt"]}`,
			deps:  map[string][]string{"a": {"b"}, "b": {}},
			order: []string{"b", "a"},
		},
		{
			name: "directory inputs: inside an undeclared outputDir, and a directory holding outputs",
			stages: `{"name":"a","processor":{"go":"./p"},"outputDir":"o/a"},
			         {"name":"b","processor":{"go":"./p"},"outputDir":"o/b","outputs":["sub/y.txt"],"dependsOn":[]},
			         {"name":"c","processor":{"go":"./p"},"inputs":["o/a/anything.txt"],"outputDir":"o/c"},
			         {"name":"d","processor":{"go":"./p"},"inputs":["o"],"outputDir":"p/d"},
			         {"name":"e","processor":{"go":"./p"},"inputs":["o/b/sub"],"outputDir":"p/e"}`,
			deps:     map[string][]string{"a": {}, "b": {}, "c": {"a"}, "d": {"a", "b", "c"}, "e": {"b"}},
			declared: map[string][]string{"b": {}},
			order:    []string{"a", "b", "c", "d", "e"},
		},
		{
			name: "a file in a declared stage's outputDir that it does not declare is no edge",
			stages: `{"name":"a","processor":{"go":"./p"},"outputDir":"o/a","outputs":["x.txt"]},
			         {"name":"b","processor":{"go":"./p"},"inputs":["o/a/static.txt","/etc/hosts","../elsewhere"],"outputDir":"o/b","dependsOn":[]}`,
			deps:     map[string][]string{"a": {}, "b": {}},
			declared: map[string][]string{"b": {}},
			order:    []string{"a", "b"},
		},
		{
			name: "declared and data edges are merged, sorted by list index, deduplicated",
			stages: `{"name":"a","processor":{"go":"./p"},"outputDir":"o/a","outputs":["x"]},
			         {"name":"b","processor":{"go":"./p"},"outputDir":"o/b","outputs":["y"],"dependsOn":[]},
			         {"name":"c","processor":{"go":"./p"},"inputs":["./o/a/x","o/b/y"],"outputDir":"o/c","dependsOn":["b","a"]}`,
			deps:     map[string][]string{"a": {}, "b": {}, "c": {"a", "b"}},
			declared: map[string][]string{"b": {}, "c": {"b", "a"}},
			order:    []string{"a", "b", "c"},
		},
		{
			name: "order is stable: ready stages run in list order",
			stages: `{"name":"z","processor":{"go":"./p"},"outputDir":"o/z","dependsOn":["y"]},
			         {"name":"y","processor":{"go":"./p"},"outputDir":"o/y","dependsOn":[]},
			         {"name":"x","processor":{"go":"./p"},"outputDir":"o/x","dependsOn":[]},
			         {"name":"w","processor":{"go":"./p"},"outputDir":"o/w","dependsOn":["x","z"]}`,
			deps:     map[string][]string{"z": {"y"}, "y": {}, "x": {}, "w": {"z", "x"}},
			declared: map[string][]string{"z": {"y"}, "y": {}, "x": {}, "w": {"x", "z"}},
			order:    []string{"y", "z", "x", "w"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustLoad(t, `{"version":1,"name":"g","stages":[`+tt.stages+`]}`)
			for _, s := range p.Stages {
				assert.Equal(t, tt.deps[s.Name], s.DependsOn, "DependsOn of %s", s.Name)
				assert.Equal(t, tt.declared[s.Name], s.Declared, "Declared of %s", s.Name)
			}
			var order []string
			for _, i := range p.Order() {
				order = append(order, p.Stages[i].Name)
			}
			assert.Equal(t, tt.order, order)
		})
	}
}

func TestGraphQueries(t *testing.T) {
	// a -> b, a -> c, b,c -> d, e independent
	p := mustLoad(t, `{"version":1,"name":"g","stages":[
		{"name":"a","processor":{"go":"./p"},"outputDir":"o/a"},
		{"name":"b","processor":{"go":"./p"},"outputDir":"o/b","dependsOn":["a"]},
		{"name":"c","processor":{"go":"./p"},"outputDir":"o/c","dependsOn":["a"]},
		{"name":"d","processor":{"go":"./p"},"outputDir":"o/d","dependsOn":["c","b"]},
		{"name":"e","processor":{"go":"./p"},"outputDir":"o/e","dependsOn":[]}]}`)

	assert.Equal(t, []int{0, 1, 2, 3, 4}, p.Order())
	assert.Equal(t, []string{"b", "c", "d"}, p.Downstream("a"))
	assert.Equal(t, []string{"d"}, p.Downstream("c"))
	assert.Empty(t, p.Downstream("d"))
	assert.Empty(t, p.Downstream("e"))
	assert.Nil(t, p.Downstream("nope"))

	s, ok := p.Stage("c")
	require.True(t, ok)
	assert.Equal(t, 2, s.Index)
	s.TimeoutSeconds = 1
	assert.Equal(t, 1, p.Stages[2].TimeoutSeconds, "Stage returns a pointer into the pipeline")
	_, ok = p.Stage("nope")
	assert.False(t, ok)

	assert.Equal(t, filepath.Join(p.Workspace, "o", "a", "x.txt"), p.Abs("o/a/x.txt"))
	assert.Equal(t, p.Workspace, p.Abs("."))
	outside := filepath.Join(filepath.Dir(p.Workspace), "bin", "sort")
	assert.Equal(t, outside, p.Abs(outside+string(filepath.Separator)), "absolute paths stay, cleaned")
}

func TestOrderSkipsCycles(t *testing.T) {
	// Hand-made (Load never returns a cycle): Order must still terminate.
	p := &Pipeline{Stages: []Stage{
		{Name: "a", DependsOn: []string{"b"}},
		{Name: "b", DependsOn: []string{"a"}},
		{Name: "c"},
	}}
	assert.Equal(t, []int{2}, p.Order())
}

func TestWorkspacePaths(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("symlinks need privileges on windows")
	}
	work := realTempDir(t)
	outside := realTempDir(t)
	require.NoError(t, os.MkdirAll(filepath.Join(work, "real", "out"), 0o755))
	require.NoError(t, os.Symlink(filepath.Join(work, "real"), filepath.Join(work, "alias")))
	// The spec is reached through a symlinked directory.
	linkDir := filepath.Join(outside, "ws")
	require.NoError(t, os.Symlink(work, linkDir))
	spec := `{"version":1,"name":"ws","stages":[
		{"name":"a","processor":{"go":"../tools/proc"},
		 "inputs":["` + filepath.Join(linkDir, "in", "x.txt") + `", "/usr/share/dict/words", "../shared/in.txt", "in//y.txt"],
		 "outputDir":"alias/out","outputs":["sub/r.txt"]},
		{"name":"b","processor":{"exec":["/usr/bin/sort"]},
		 "inputs":["alias/out/sub/r.txt"],
		 "codeDeps":["` + filepath.Join(linkDir, "tools", "common.py") + `", "./alias//lib/**/*.py", "alias/../x.py", "*"],
		 "outputDir":"` + filepath.Join(linkDir, "b") + `"}]}`
	writeFile(t, filepath.Join(work, "pipeline.json"), []byte(spec))

	before := snapshot(t, work)
	p, err := Load(filepath.Join(linkDir, "pipeline.json"), testOpts)
	require.NoError(t, err)
	assert.Equal(t, before, snapshot(t, work), "Load must not create anything")

	assert.Equal(t, work, p.Workspace, "the workspace has its symlinks resolved")
	assert.Equal(t, filepath.Join(linkDir, "pipeline.json"), p.SpecPath)
	a, b := p.Stages[0], p.Stages[1]
	assert.Equal(t, filepath.Join(filepath.Dir(work), "tools", "proc"), a.Processor.Go, "a processor outside stays absolute")
	assert.Equal(t, []string{"in/x.txt", "/usr/share/dict/words", filepath.Join(filepath.Dir(work), "shared", "in.txt"), "in/y.txt"}, a.Inputs)
	assert.Equal(t, "alias/out", a.OutputDir, "a symlink that stays inside is allowed and kept as written")
	assert.Equal(t, []string{"sub/r.txt"}, a.Outputs)
	assert.Equal(t, "b", b.OutputDir, "an absolute outputDir inside the workspace becomes relative")
	assert.Equal(t, []string{"a"}, b.DependsOn)
	assert.Equal(t, []string{"tools/common.py", "alias/lib/**/*.py", "x.py", "*"}, b.CodeDeps,
		"codeDeps are cleaned and workspace-relative, globs kept; a symlink that stays inside is allowed")
	assert.Equal(t, []string{}, a.CodeDeps, "no codeDeps: an empty list, never null")
}

func TestLoadCreatesNothing(t *testing.T) {
	work := realTempDir(t)
	spec, err := os.ReadFile(filepath.Join("testdata", "good", "demo.json"))
	require.NoError(t, err)
	writeFile(t, filepath.Join(work, "pipeline.json"), spec)
	writeFile(t, filepath.Join(work, "data", "input", "sample.txt"), []byte("hello\n"))
	before := snapshot(t, work)

	_, err = Load(filepath.Join(work, "pipeline.json"), LoadOptions{})
	require.NoError(t, err)
	_, err = Parse(spec, filepath.Join(work, "nested", "missing", "pipeline.json"), LoadOptions{})
	require.NoError(t, err)

	assert.Equal(t, before, snapshot(t, work))
	assert.NoDirExists(t, filepath.Join(work, "state"))
	assert.NoDirExists(t, filepath.Join(work, "locks"))
	assert.NoDirExists(t, filepath.Join(work, "data", "work"))
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.json"), testOpts)
	require.Error(t, err)
	assertSpecError(t, err)
	assert.ErrorIs(t, err, fs.ErrNotExist)
	assert.Contains(t, err.Error(), "nope.json: reading spec: ")
}

func TestHostDefaults(t *testing.T) {
	p, err := Parse([]byte(`{"version":1,"name":"x","stages":[{"name":"a","processor":{"go":"./p"},"outputDir":"o"}]}`),
		filepath.Join(t.TempDir(), "pipeline.json"), LoadOptions{})
	require.NoError(t, err)
	assert.Equal(t, float64(runtime.NumCPU()), p.Budget.CPUs)
	assert.GreaterOrEqual(t, p.Budget.MemoryMB, int64(1))
	if runtime.GOOS == "linux" {
		assert.Equal(t, max(1, hostMemoryMB()/2), p.Budget.MemoryMB)
		assert.Positive(t, hostMemoryMB())
	} else {
		assert.Equal(t, int64(fallbackHostMemoryMB/2), p.Budget.MemoryMB)
	}
}

func TestSpecErrorText(t *testing.T) {
	tests := []struct {
		err  *SpecError
		want string
	}{
		{&SpecError{File: "p.json", Field: "stages[0].name", Msg: "required"}, "p.json: stages[0].name: required"},
		{&SpecError{File: "p.json", Msg: "empty file"}, "p.json: empty file"},
		{&SpecError{File: "p.json", Line: 3, Col: 7, Msg: "syntax error: x"}, "p.json:3:7: syntax error: x"},
		{&SpecError{Field: "name", Msg: "required"}, "name: required"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, tt.err.Error())
		assert.ErrorIs(t, tt.err, ErrInvalidSpec)
	}

	many := SpecErrors{tests[0].err, tests[1].err}
	assert.Equal(t, "p.json: stages[0].name: required\np.json: empty file", many.Error())
	assert.ErrorIs(t, many, ErrInvalidSpec)
	var first *SpecError
	require.ErrorAs(t, many, &first)
	assert.Same(t, tests[0].err, first)
	assert.Len(t, Problems(many), 2)
	assert.Len(t, Problems(tests[2].err), 1)
	assert.Nil(t, Problems(errors.New("other")))
	assert.Nil(t, Problems(nil))
}

func TestDidYouMean(t *testing.T) {
	assert.Equal(t, ` (did you mean "outputDir"?)`, didYouMean("outputdir", []string{"inputs", "outputDir", "outputs"}))
	assert.Equal(t, ` (did you mean "outputs"?)`, didYouMean("output", []string{"outputDir", "outputs"}))
	assert.Equal(t, "", didYouMean("zzzzzz", []string{"inputs", "outputs"}))
	assert.Equal(t, "", didYouMean("x", []string{"y"}), "no suggestion for one-letter keys")
	assert.Equal(t, 99, editDistance(string(make([]byte, 65)), "a"))
	assert.Equal(t, 0, editDistance(string(make([]byte, 65)), string(make([]byte, 65))))
}

func TestDecodeLikeEncodingJSON(t *testing.T) {
	spec := "{\"\\u006eame\": \"a\\tb\", \"version\": 1, \"stages\": [{\"name\": \"s\", " +
		"\"env\": {\"K\": \"\xff\\ud83d\\ude00\"}, \"processor\": {\"go\": \"./p\"}, \"outputDir\": \"o\", " +
		"\"dependsOn\": [], \"params\": {\"a\": [1, {\"b\": null}]}}]}"
	f := decodeFile([]byte(spec), newProblems("pipeline.json"))
	require.NotNil(t, f)
	var want File
	require.NoError(t, json.Unmarshal([]byte(spec), &want))
	assert.Equal(t, &want, f)
	assert.Equal(t, "a\tb", f.Name)
	assert.Equal(t, "\ufffd\U0001F600", f.Stages[0].Env["K"])
	assert.NotNil(t, f.Stages[0].DependsOn)
	assert.Empty(t, f.Stages[0].DependsOn)
}

// TestSpecDocExample keeps the example in docs/SPEC.md loadable.
func TestSpecDocExample(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "docs", "SPEC.md"))
	if errors.Is(err, fs.ErrNotExist) {
		t.Skip("docs/SPEC.md not present")
	}
	require.NoError(t, err)
	_, rest, ok := strings.Cut(string(doc), "```json\n")
	require.True(t, ok, "no json example in docs/SPEC.md")
	example, _, ok := strings.Cut(rest, "```")
	require.True(t, ok)
	p := mustLoad(t, example)
	require.Len(t, p.Stages, 2)
	up := p.Stages[1]
	assert.Equal(t, []string{"stage_copy"}, up.DependsOn)
	assert.Equal(t, Retry{MaxAttempts: 5, BaseDelayMs: 100, MaxDelayMs: 5000, Multiplier: 2, Jitter: 0.2, RetryableExitCodes: []int{75, 111}}, up.Retry)
	assert.Equal(t, Resources{CPUs: 1, MemoryMB: 256, Pids: 64}, up.Resources)
	assert.Equal(t, int64(512), p.Stages[0].Resources.MemoryMB)
	assert.Equal(t, Budget{CPUs: 2, MemoryMB: 2048, IOConcurrency: 4}, p.Budget)
}
