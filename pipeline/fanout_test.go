package pipeline

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFanOut(t *testing.T) {
	type want struct {
		foreach *Foreach
		inputs  []string
		outputs []string
		deps    []string
		batch   int
	}
	tests := []struct {
		name   string
		stages string
		want   map[string]want
	}{
		{
			name: "glob with **: cleaned, root before the first pattern segment, inputs default to {path}",
			stages: `{"name":"up","foreach":{"glob":"./data/input//**/*.txt"},"processor":{"go":"./p"},
			          "outputDir":"work/up/","outputs":["{dir}/{stem}.gz","./{item}.idx"]}`,
			want: map[string]want{
				"up": {
					foreach: &Foreach{Glob: "data/input/**/*.txt", Root: "data/input"},
					inputs:  []string{"{path}"}, outputs: []string{"{dir}/{stem}.gz", "{item}.idx"}, deps: []string{},
				},
			},
		},
		{
			name: "glob at the workspace root has root .; an explicit empty inputs takes the default too",
			stages: `{"name":"up","foreach":{"glob":"*.csv"},"processor":{"go":"./p"},"inputs":[],"outputDir":"work/up","outputs":["{name}"]},
			         {"name":"merge","processor":{"go":"./p"},"inputs":["work/up"],"outputDir":"out","outputs":["all.csv"]}`,
			want: map[string]want{
				"up":    {foreach: &Foreach{Glob: "*.csv", Root: "."}, inputs: []string{"{path}"}, outputs: []string{"{name}"}, deps: []string{}},
				"merge": {inputs: []string{"work/up"}, outputs: []string{"all.csv"}, deps: []string{"up"}},
			},
		},
		{
			name:   "batch: maxItems resolved",
			stages: `{"name":"gz","foreach":{"dir":"data/in"},"processor":{"exec":["gzip"]},"outputDir":"work/gz","outputs":["{item}.gz"],"batch":{"maxItems":500}}`,
			want: map[string]want{
				"gz": {foreach: &Foreach{Dir: "data/in", Root: "data/in"}, inputs: []string{"{path}"}, outputs: []string{"{item}.gz"}, deps: []string{}, batch: 500},
			},
		},
		{
			name: "dir, with a shared input",
			stages: `{"name":"gz","foreach":{"dir":"./data/in/"},"processor":{"exec":["gzip"]},
			          "inputs":["{path}","dict/words"],"outputDir":"work/gz","outputs":["{item}.gz"]}`,
			want: map[string]want{
				"gz": {
					foreach: &Foreach{Dir: "data/in", Root: "data/in"},
					inputs:  []string{"{path}", "dict/words"}, outputs: []string{"{item}.gz"}, deps: []string{},
				},
			},
		},
		{
			name: "a chain of three and its fan-in: chained stages keep empty inputs",
			stages: `{"name":"upper","foreach":{"glob":"data/input/*.txt"},"processor":{"go":"./p"},"outputDir":"data/work/upper","outputs":["{stem}.txt"]},
			         {"name":"other","processor":{"go":"./p"},"outputDir":"data/other","dependsOn":[]},
			         {"name":"count","foreach":{"stage":"upper"},"processor":{"go":"./p"},"outputDir":"data/work/count","outputs":["{stem}.count"]},
			         {"name":"stats","foreach":{"stage":"count"},"processor":{"go":"./p"},"inputs":["{path}","{{lit}}.txt"],"outputDir":"data/work/stats","outputs":["{item}"]},
			         {"name":"merge","processor":{"go":"./p"},"inputs":["data/work/stats"],"outputDir":"data/output","outputs":["counts.tsv"]}`,
			want: map[string]want{
				"upper": {foreach: &Foreach{Glob: "data/input/*.txt", Root: "data/input"}, inputs: []string{"{path}"}, outputs: []string{"{stem}.txt"}, deps: []string{}},
				"other": {inputs: []string{}, outputs: []string{}, deps: []string{}},
				"count": {foreach: &Foreach{Stage: "upper"}, inputs: []string{}, outputs: []string{"{stem}.count"}, deps: []string{"upper"}},
				"stats": {foreach: &Foreach{Stage: "count"}, inputs: []string{"{path}", "{{lit}}.txt"}, outputs: []string{"{item}"}, deps: []string{"count"}},
				"merge": {inputs: []string{"data/work/stats"}, outputs: []string{"counts.tsv"}, deps: []string{"stats"}},
			},
		},
		{
			name: "fan-in: a fan-out stage's whole outputDir is its product",
			stages: `{"name":"fan","foreach":{"glob":"data/*.txt"},"processor":{"go":"./p"},"outputDir":"o/fan","outputs":["{name}"]},
			         {"name":"one","processor":{"go":"./p"},"inputs":["o/fan/a.txt"],"outputDir":"p/one","dependsOn":[]},
			         {"name":"all","processor":{"go":"./p"},"inputs":["o"],"outputDir":"p/all","dependsOn":[]},
			         {"name":"none","processor":{"go":"./p"},"inputs":["o/other.txt"],"outputDir":"p/none","dependsOn":[]}`,
			want: map[string]want{
				"fan":  {foreach: &Foreach{Glob: "data/*.txt", Root: "data"}, inputs: []string{"{path}"}, outputs: []string{"{name}"}, deps: []string{}},
				"one":  {inputs: []string{"o/fan/a.txt"}, outputs: []string{}, deps: []string{"fan"}},
				"all":  {inputs: []string{"o"}, outputs: []string{}, deps: []string{"fan"}},
				"none": {inputs: []string{"o/other.txt"}, outputs: []string{}, deps: []string{}},
			},
		},
		{
			name: "glob and dir roots create data edges like inputs; template inputs none, shared inputs do",
			stages: `{"name":"prep","processor":{"go":"./p"},"outputDir":"data/prep"},
			         {"name":"gen","processor":{"go":"./p"},"outputDir":"data/gen","outputs":["a.csv","b.txt"],"dependsOn":[]},
			         {"name":"inside","foreach":{"glob":"data/prep/**/*.txt"},"processor":{"go":"./p"},"outputDir":"o/inside","outputs":["{item}"],"dependsOn":[]},
			         {"name":"matches","foreach":{"glob":"data/**/*.csv"},"processor":{"go":"./p"},"outputDir":"o/matches","outputs":["{item}"],"dependsOn":[]},
			         {"name":"misses","foreach":{"glob":"data/gen/*.json"},"processor":{"go":"./p"},"outputDir":"o/misses","outputs":["{item}"],"dependsOn":[]},
			         {"name":"whole","foreach":{"dir":"data"},"processor":{"go":"./p"},"outputDir":"o/whole","outputs":["{item}"],"dependsOn":[]},
			         {"name":"shared","foreach":{"glob":"in/*"},"processor":{"go":"./p"},"inputs":["{path}","data/gen/{stem}.csv","data/gen/b.txt"],
			          "outputDir":"o/shared","outputs":["{item}"],"dependsOn":[]},
			         {"name":"seq","foreach":{"glob":"in/*"},"processor":{"go":"./p"},"outputDir":"o/seq","outputs":["{item}"]}`,
			want: map[string]want{
				"prep":    {inputs: []string{}, outputs: []string{}, deps: []string{}},
				"gen":     {inputs: []string{}, outputs: []string{"a.csv", "b.txt"}, deps: []string{}},
				"inside":  {foreach: &Foreach{Glob: "data/prep/**/*.txt", Root: "data/prep"}, inputs: []string{"{path}"}, outputs: []string{"{item}"}, deps: []string{"prep"}},
				"matches": {foreach: &Foreach{Glob: "data/**/*.csv", Root: "data"}, inputs: []string{"{path}"}, outputs: []string{"{item}"}, deps: []string{"prep", "gen"}},
				"misses":  {foreach: &Foreach{Glob: "data/gen/*.json", Root: "data/gen"}, inputs: []string{"{path}"}, outputs: []string{"{item}"}, deps: []string{}},
				"whole":   {foreach: &Foreach{Dir: "data", Root: "data"}, inputs: []string{"{path}"}, outputs: []string{"{item}"}, deps: []string{"prep", "gen"}},
				"shared": {
					foreach: &Foreach{Glob: "in/*", Root: "in"},
					inputs:  []string{"{path}", "data/gen/{stem}.csv", "data/gen/b.txt"}, outputs: []string{"{item}"}, deps: []string{"gen"},
				},
				// No data edge: the implicit sequential edge applies.
				"seq": {foreach: &Foreach{Glob: "in/*", Root: "in"}, inputs: []string{"{path}"}, outputs: []string{"{item}"}, deps: []string{"shared"}},
			},
		},
		{
			name: "a chain may wait for a plain stage that does not wait for it",
			stages: `{"name":"dict","processor":{"go":"./p"},"outputDir":"data/dict","outputs":["words"]},
			         {"name":"upper","foreach":{"glob":"data/input/*.txt"},"processor":{"go":"./p"},"outputDir":"data/work/upper","outputs":["{stem}.txt"],"dependsOn":[]},
			         {"name":"count","foreach":{"stage":"upper"},"processor":{"go":"./p"},"inputs":["{path}","data/dict/words"],"outputDir":"data/work/count","outputs":["{stem}.n"]},
			         {"name":"merge","processor":{"go":"./p"},"inputs":["data/work/count"],"outputDir":"data/out","outputs":["all"]}`,
			want: map[string]want{
				"dict":  {inputs: []string{}, outputs: []string{"words"}, deps: []string{}},
				"upper": {foreach: &Foreach{Glob: "data/input/*.txt", Root: "data/input"}, inputs: []string{"{path}"}, outputs: []string{"{stem}.txt"}, deps: []string{}},
				"count": {foreach: &Foreach{Stage: "upper"}, inputs: []string{"{path}", "data/dict/words"}, outputs: []string{"{stem}.n"}, deps: []string{"dict", "upper"}},
				"merge": {inputs: []string{"data/work/count"}, outputs: []string{"all"}, deps: []string{"count"}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustLoad(t, `{"version":1,"name":"f","stages":[`+tt.stages+`]}`)
			require.Len(t, p.Stages, len(tt.want))
			for _, s := range p.Stages {
				w, ok := tt.want[s.Name]
				require.True(t, ok, s.Name)
				assert.Equal(t, w.foreach, s.Foreach, "Foreach of %s", s.Name)
				assert.Equal(t, w.foreach != nil, s.IsFanOut(), "IsFanOut of %s", s.Name)
				assert.Equal(t, w.inputs, s.Inputs, "Inputs of %s", s.Name)
				assert.Equal(t, w.outputs, s.Outputs, "Outputs of %s", s.Name)
				assert.Equal(t, w.deps, s.DependsOn, "DependsOn of %s", s.Name)
				assert.Equal(t, w.batch, s.BatchMaxItems, "BatchMaxItems of %s", s.Name)
			}
			checkInvariants(t, p)
		})
	}
}

func TestFanOutAbsolutePaths(t *testing.T) {
	work := realTempDir(t)
	spec := `{"version":1,"name":"f","stages":[
		{"name":"a","foreach":{"glob":"` + filepath.ToSlash(filepath.Join(work, "data", "*.txt")) + `"},"processor":{"go":"./p"},"outputDir":"o/a","outputs":["{name}"]},
		{"name":"b","foreach":{"dir":"` + filepath.ToSlash(filepath.Join(work, "data", "in")) + `"},"processor":{"go":"./p"},"outputDir":"o/b","outputs":["{name}"]}]}`
	writeFile(t, filepath.Join(work, "pipeline.json"), []byte(spec))
	p, err := Load(filepath.Join(work, "pipeline.json"), testOpts)
	require.NoError(t, err)
	assert.Equal(t, &Foreach{Glob: "data/*.txt", Root: "data"}, p.Stages[0].Foreach, "an absolute glob inside the workspace is made relative")
	assert.Equal(t, &Foreach{Dir: "data/in", Root: "data/in"}, p.Stages[1].Foreach, "an absolute dir inside the workspace is made relative")
}

func TestGlobReaches(t *testing.T) {
	tests := []struct {
		pat, path string
		dir, want bool
	}{
		{"data/*.txt", "data/a.txt", false, true},
		{"data/*.txt", "data/a.csv", false, false},
		{"data/*.txt", "data/sub/a.txt", false, false},
		{"data/**/*.txt", "data/sub/deep/a.txt", false, true},
		{"data/**/*.txt", "data/a.txt", false, true},
		{"data/*", "data/sub/a.csv", false, true}, // a matched directory counts as every file under it
		{"data/*/x.txt", "data/sub", true, true},  // the pattern goes on under a directory product
		{"data/*/x.txt", "data/sub", false, false},
		{"data/**", "data/x", false, true},
		{"*.txt", "work/a.txt", false, false},
		{"**/*.txt", "work/up", true, true},
		{"data/[ab]/*.txt", "data/c", true, false},
	}
	for _, tt := range tests {
		got := globReaches(strings.Split(tt.pat, "/"), strings.Split(tt.path, "/"), tt.dir)
		assert.Equal(t, tt.want, got, "globReaches(%q, %q, dir=%v)", tt.pat, tt.path, tt.dir)
	}
}

// TestSpecDocFanOutExample keeps the example of docs/SPEC.md's fan-out
// section loadable, with the edges it describes.
func TestSpecDocFanOutExample(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "docs", "SPEC.md"))
	if errors.Is(err, fs.ErrNotExist) {
		t.Skip("docs/SPEC.md not present")
	}
	require.NoError(t, err)
	_, section, ok := strings.Cut(string(doc), "## Fan-out: `foreach`")
	require.True(t, ok, "no fan-out section in docs/SPEC.md")
	_, rest, ok := strings.Cut(section, "```json\n")
	require.True(t, ok, "no json example in the fan-out section")
	example, _, ok := strings.Cut(rest, "```")
	require.True(t, ok)
	p := mustLoad(t, `{"version":1,"name":"f","stages":[`+example+`]}`)
	require.Len(t, p.Stages, 3)
	assert.Equal(t, &Foreach{Glob: "data/input/*.txt", Root: "data/input"}, p.Stages[0].Foreach)
	assert.Equal(t, []string{"{path}"}, p.Stages[0].Inputs)
	assert.Equal(t, &Foreach{Stage: "upper"}, p.Stages[1].Foreach)
	assert.Equal(t, []string{"upper"}, p.Stages[1].DependsOn)
	assert.False(t, p.Stages[2].IsFanOut())
	assert.Equal(t, []string{"count"}, p.Stages[2].DependsOn)
}
