package runner

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/guardrun/guardrun/internal/hashcache"
	"github.com/guardrun/guardrun/internal/runstate"
	"github.com/guardrun/guardrun/internal/testutil"
	"github.com/guardrun/guardrun/pipeline"
)

// codeSpec has one stage per way code enters the key, and one that never
// changes. The shell stages write a line of their own into out.txt.
const codeSpec = `{"version": 1, "name": "code", "stages": [
  {"name": "argv", "processor": {"exec": ["/bin/sh", "procs/x.sh", "--fast"]}, "outputDir": "out/argv", "outputs": ["out.txt"], "dependsOn": []},
  {"name": "deps", "processor": {"exec": ["/bin/sh", "procs/y.sh"]}, "codeDeps": ["lib/**/*.sh"], "outputDir": "out/deps", "outputs": ["out.txt"], "dependsOn": []},
  {"name": "shebang", "processor": {"exec": ["procs/z.sh"]}, "outputDir": "out/shebang", "outputs": ["out.txt"], "dependsOn": []},
  {"name": "steady", "processor": {"exec": ["bin/copy"]}, "inputs": ["in.txt"], "outputDir": "out/steady", "outputs": ["copy.txt"], "dependsOn": []}
]}`

// codeWorkspace builds the workspace of codeSpec. The interpreter of
// procs/z.sh is a copy of the system's sh outside the workspace, returned.
func codeWorkspace(t *testing.T) (dir, interp string) {
	t.Helper()
	sh, err := filepath.EvalSymlinks("/bin/sh")
	require.NoError(t, err)
	interp = filepath.Join(realDir(t), "sh")
	testutil.CopyFile(t, sh, interp, 0o755)
	dir = testutil.Workspace(t, map[string]string{
		"pipeline.json": codeSpec,
		"in.txt":        "a\n",
		"procs/x.sh":    "set -eu\nprintf 'x v1\\n' >> \"$PIPELINE_OUTPUT_DIR/out.txt\"\n",
		"procs/y.sh":    "set -eu\n. ./lib/common.sh\nprintf '%s\\n' \"$GREETING\" >> \"$PIPELINE_OUTPUT_DIR/out.txt\"\n",
		"lib/common.sh": "GREETING='hello v1'\n",
		"procs/z.sh":    "#!" + interp + "\nset -eu\nprintf 'z v1\\n' >> \"$PIPELINE_OUTPUT_DIR/out.txt\"\n",
	})
	require.NoError(t, os.Chmod(filepath.Join(dir, "procs", "z.sh"), 0o755))
	return dir, interp
}

func realDir(t *testing.T) string {
	t.Helper()
	d, err := filepath.EvalSymlinks(t.TempDir())
	require.NoError(t, err)
	return d
}

// stageReasons returns the reasons a run recorded for a stage.
func stageReasons(t *testing.T, res *Result, name string) []string {
	t.Helper()
	for _, s := range res.State.Stages {
		if s.Name == name {
			return s.Reasons
		}
	}
	t.Fatalf("no stage %s in the run record", name)
	return nil
}

func planOf(t *testing.T, dir string) map[string]StagePlan {
	t.Helper()
	plans, err := Plan(context.Background(), load(t, dir), PlanOptions{})
	require.NoError(t, err)
	m := map[string]StagePlan{}
	for _, sp := range plans {
		m[sp.Name] = sp
	}
	return m
}

func appendFile(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString(s)
	require.NoError(t, err)
	require.NoError(t, f.Close())
}

// TestCodeChangesRerunExactlyTheirStage: editing a script named in argv, a
// module listed in codeDeps, the interpreter of a script's "#!" line or the
// line itself reruns exactly the stage that runs that code, with the
// changed file named by Plan and in the run record; an unchanged rerun
// skips everything.
func TestCodeChangesRerunExactlyTheirStage(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("shell scripts and #! lines")
	}
	dir, interp := codeWorkspace(t)
	interp2 := filepath.Join(filepath.Dir(interp), "sh2")
	res, err := runOnce(t, dir, Options{RunID: "cold"})
	require.NoError(t, err)
	require.Equal(t, runstate.RunSucceeded, res.State.Status)
	assert.Equal(t, "z v1\n", readFile(t, filepath.Join(dir, "out/shebang/out.txt")))
	assert.Equal(t, "hello v1\n", readFile(t, filepath.Join(dir, "out/deps/out.txt")))

	h := `[0-9a-f]{12}`
	for i, c := range []struct {
		name    string
		edit    func()
		stage   string
		reasons []string // regexps, in order, of Plan's Why and the run record
		output  string   // the stage's out.txt after the rerun ("": not checked)
	}{
		{name: "nothing changed", edit: func() {}},
		{name: "a script named in argv",
			edit: func() {
				testutil.WriteFile(t, filepath.Join(dir, "procs/x.sh"), "printf 'x v2\\n' >> \"$PIPELINE_OUTPUT_DIR/out.txt\"\n")
			},
			stage:   "argv",
			reasons: []string{`^code procs/x.sh changed \(` + h + ` -> ` + h + `\)$`},
			output:  "x v2\n"},
		{name: "a module listed in codeDeps",
			edit:    func() { testutil.WriteFile(t, filepath.Join(dir, "lib/common.sh"), "GREETING='hello v2'\n") },
			stage:   "deps",
			reasons: []string{`^code lib/common.sh changed \(` + h + ` -> ` + h + `\)$`},
			output:  "hello v2\n"},
		{name: "a module a codeDeps glob now matches",
			edit:    func() { testutil.WriteFile(t, filepath.Join(dir, "lib/sub/extra.sh"), "# more\n") },
			stage:   "deps",
			reasons: []string{`^code lib/sub/extra.sh added$`}},
		{name: "a module a codeDeps glob no longer matches",
			edit:    func() { require.NoError(t, os.Remove(filepath.Join(dir, "lib/sub/extra.sh"))) },
			stage:   "deps",
			reasons: []string{`^code lib/sub/extra.sh removed$`}},
		{name: "the #! interpreter's content",
			edit:    func() { appendFile(t, interp, "\x00") }, // a trailing byte: still the same shell
			stage:   "shebang",
			reasons: []string{`^code ` + regexp.QuoteMeta(filepath.ToSlash(interp)) + ` changed \(` + h + ` -> ` + h + `\)$`}},
		{name: "the #! line swapped to another interpreter",
			edit: func() {
				testutil.CopyFile(t, interp, interp2, 0o755)
				path := filepath.Join(dir, "procs/z.sh")
				testutil.WriteFile(t, path, strings.Replace(readFile(t, path), "#!"+interp+"\n", "#!"+interp2+"\n", 1))
				require.NoError(t, os.Chmod(path, 0o755))
			},
			stage: "shebang",
			reasons: []string{
				`^code ` + regexp.QuoteMeta(filepath.ToSlash(interp2)) + ` added$`,
				`^code procs/z.sh changed \(` + h + ` -> ` + h + `\)$`,
				`^code ` + regexp.QuoteMeta(filepath.ToSlash(interp)) + ` removed$`,
			},
			output: "z v1\n"},
		{name: "an argument that is not a file", // the argv is the processor's version
			edit: func() {
				spec := strings.Replace(codeSpec, `"--fast"`, `"--slow"`, 1)
				testutil.WriteFile(t, filepath.Join(dir, "pipeline.json"), spec)
			},
			stage:   "argv",
			reasons: []string{`^processor changed \(` + h + ` -> ` + h + `\)$`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.edit()
			want := map[string]string{"argv": "skip", "deps": "skip", "shebang": "skip", "steady": "skip"}
			if c.stage != "" {
				want[c.stage] = "run"
			}
			plans := planOf(t, dir)
			got := map[string]string{}
			for name, sp := range plans {
				got[name] = sp.Action
			}
			require.Equal(t, want, got, "plan")
			if c.stage != "" {
				matchAll(t, c.reasons, plans[c.stage].Why, "plan")
			}

			res, err := runOnce(t, dir, Options{RunID: fmt.Sprintf("r%d", i)})
			require.NoError(t, err)
			for name, action := range want {
				status := runstate.StageSkipped
				if action == "run" {
					status = runstate.StageSucceeded
				}
				assert.Equal(t, status, stageStatuses(res.State)[name], "run: stage %s", name)
			}
			if c.stage != "" {
				matchAll(t, c.reasons, stageReasons(t, res, c.stage), "run record")
			}
			if c.output != "" {
				assert.Equal(t, c.output, readFile(t, filepath.Join(dir, "out", c.stage, "out.txt")))
			}

			// And now everything is up to date again.
			for name, sp := range planOf(t, dir) {
				assert.Equal(t, "skip", sp.Action, "plan after the rerun: %s: %v", name, sp.Why)
			}
		})
	}
}

func matchAll(t *testing.T, res []string, got []string, what string) {
	t.Helper()
	require.Len(t, got, len(res), "%s: %v", what, got)
	for i, re := range res {
		assert.Regexp(t, re, got[i], what)
	}
}

// TestCodeOfGoProcessor: a Go processor keeps its source hash as its
// version; its codeDeps are code like an exec processor's.
func TestCodeOfGoProcessor(t *testing.T) {
	dir := testutil.GoWorkspace(t, map[string]string{
		"pipeline.json": `{"version": 1, "name": "go", "stages": [
		  {"name": "copy", "processor": {"go": "./processors/copy"}, "inputs": ["in.txt"], "codeDeps": ["tables/words.txt"],
		   "outputDir": "out", "outputs": ["copy.txt"]}]}`,
		"in.txt":           "a\n",
		"tables/words.txt": "alpha\n",
	})
	p := load(t, dir)
	ps := newProcs(p, hashcache.Open(filepath.Join(t.TempDir(), "hashes")), nil)
	version, code, err := ps.versionOnly(&p.Stages[0])
	require.NoError(t, err)
	src, _, err := ps.goSource(p.Abs("processors/copy"))
	require.NoError(t, err)
	assert.Equal(t, src, version, "the version of a Go processor is its source hash")
	require.Len(t, code, 1)
	assert.Equal(t, "tables/words.txt", code[0].Path)

	_, err = runOnce(t, dir, Options{RunID: "cold"})
	require.NoError(t, err)
	testutil.WriteFile(t, filepath.Join(dir, "tables/words.txt"), "beta\n")
	plans := planOf(t, dir)
	require.Equal(t, "run", plans["copy"].Action)
	matchAll(t, []string{`^code tables/words.txt changed \([0-9a-f]{12} -> [0-9a-f]{12}\)$`}, plans["copy"].Why, "plan")
	res, err := runOnce(t, dir, Options{RunID: "again"})
	require.NoError(t, err)
	assert.Equal(t, runstate.StageSucceeded, stageStatuses(res.State)["copy"])
	assert.Equal(t, "skip", planOf(t, dir)["copy"].Action)
}

// TestArgFiles: which arguments of an exec processor are code: whole
// arguments naming an existing regular file inside the workspace (relative
// or absolute), each once; not flags, directories, missing files, paths
// leaving the workspace or linking out of it, --flag=path forms, files in
// stateDir, locksDir or any outputDir, guardrun's artifacts, nor (per
// stage) the stage's own inputs.
func TestArgFiles(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("symlinks")
	}
	outside := realDir(t)
	testutil.WriteFile(t, filepath.Join(outside, "secret.txt"), "s\n")
	dir := testutil.Workspace(t, map[string]string{
		"pipeline.json": `{"version": 1, "name": "a", "stages": [
		  {"name": "s", "processor": {"exec": ["bin/copy"]}, "inputs": ["data/in.txt", "data/dir"], "outputDir": "out"},
		  {"name": "other", "processor": {"exec": ["bin/copy"]}, "outputDir": "gen"}]}`,
		"procs/x.py":     "x\n",
		"procs/y.py":     "y\n",
		"data/in.txt":    "in\n",
		"data/dir/a.txt": "in\n",
		"out/result.txt": "r\n",
		"gen/made.py":    "g\n",
		"state/x.json":   "{}\n",
		"-k1":            "a file named like a flag is a file\n",
		"out2/.s.done":   "marker\n",
	})
	require.NoError(t, os.Symlink(filepath.Join(outside, "secret.txt"), filepath.Join(dir, "procs", "out.py")))
	require.NoError(t, os.Symlink("x.py", filepath.Join(dir, "procs", "alias.py")))
	p := load(t, dir)
	ps := newProcs(p, hashcache.Open(filepath.Join(t.TempDir(), "hashes")), nil)
	for _, c := range []struct {
		name string
		args []string
		want []string // Rel of the files found; then, for stage s, what remains
		code []string
	}{
		{"relative, dot slash, absolute, each once",
			[]string{"procs/x.py", "./procs/x.py", filepath.Join(dir, "procs", "y.py"), "procs//y.py"},
			[]string{"procs/x.py", "procs/y.py"}, []string{"procs/x.py", "procs/y.py"}},
		{"not files", []string{"--flag", "procs", "procs/missing.py", "", "../elsewhere.py", "--script=procs/x.py", outside + "/secret.txt"},
			nil, nil},
		{"a link inside is followed, one out is not", []string{"procs/alias.py", "procs/out.py"},
			[]string{"procs/alias.py"}, []string{"procs/alias.py"}},
		{"data, not code", []string{"out/result.txt", "gen/made.py", "state/x.json", "out2/.s.done"},
			nil, nil},
		{"a file named like a flag", []string{"-k1"}, []string{"-k1"}, []string{"-k1"}},
		{"the stage's inputs are inputs", []string{"data/in.txt", "data/dir/a.txt", "procs/x.py"},
			[]string{"data/in.txt", "data/dir/a.txt", "procs/x.py"}, []string{"procs/x.py"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var got []string
			for _, f := range ps.argFiles(c.args) {
				got = append(got, f.Rel)
			}
			assert.Equal(t, c.want, got)

			st := p.Stages[0]
			st.Processor.Exec = append([]string{"bin/copy"}, c.args...)
			pr, err := ps.resolveExec(&st)
			require.NoError(t, err)
			code, err := ps.code(&st, pr)
			require.NoError(t, err)
			var paths []string
			for _, id := range code {
				if id.Path != "bin/copy" {
					paths = append(paths, id.Path)
				}
			}
			want := slices.Clone(c.code)
			slices.Sort(want)
			assert.Equal(t, want, paths)
			assert.True(t, slices.ContainsFunc(code, func(id InputID) bool { return id.Path == "bin/copy" }), "the program itself is code")
		})
	}
}

// TestCodeDeps: what each codeDeps entry expands to. A glob matches each
// path segment with path.Match, "**" any number of directories; a matched
// directory counts as its files; walks skip stateDir, locksDir, outputDirs
// (unless the entry names one), artifacts and symlinks. A missing file or a
// glob matching nothing is an error naming the field.
func TestCodeDeps(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("symlinks")
	}
	files := map[string]string{
		"lib/a.py":          "a",
		"lib/.hidden.py":    "h",
		"lib/sub/b.py":      "b",
		"lib/sub/c.txt":     "c",
		"lib/sub/deep/d.py": "d",
		"gen/made.py":       "g",
		"state/x.py":        "s",
		"lib/.x.done":       "marker",
		"lib/late.py":       "l",
	}
	var deps []string
	cases := []struct {
		entry string
		want  []string
		err   string
	}{
		{"lib/a.py", []string{"lib/a.py"}, ""},
		{"lib/*.py", []string{"lib/.hidden.py", "lib/a.py"}, ""},
		{"lib/[ab].py", []string{"lib/a.py"}, ""},
		{"lib/**/*.py", []string{"lib/.hidden.py", "lib/a.py", "lib/sub/b.py", "lib/sub/deep/d.py"}, ""},
		{"lib/*/*.py", []string{"lib/sub/b.py"}, ""},
		{"lib/s*", []string{"lib/sub/b.py", "lib/sub/c.txt", "lib/sub/deep/d.py"}, ""},
		{"lib/sub", []string{"lib/sub/b.py", "lib/sub/c.txt", "lib/sub/deep/d.py"}, ""},
		{"**/d.py", []string{"lib/sub/deep/d.py"}, ""},
		{"**/made.py", nil, `pattern "**/made.py" matches no file`}, // gen is an outputDir
		{"gen/*.py", []string{"gen/made.py"}, ""},                   // unless named
		{"lib/*.rb", nil, `pattern "lib/*.rb" matches no file`},
		{"nodir/*.py", nil, `pattern "nodir/*.py" matches no file`},
		{"lib/missing.py", nil, `path "lib/missing.py" does not exist`},
		{"lib/late.py", nil, ""}, // becomes a link out of the workspace below
	}
	for _, c := range cases {
		deps = append(deps, fmt.Sprintf("%q", c.entry))
	}
	files["pipeline.json"] = `{"version": 1, "name": "d", "stages": [
	  {"name": "s", "processor": {"exec": ["bin/copy"]}, "codeDeps": [` + strings.Join(deps, ", ") + `], "outputDir": "out"},
	  {"name": "t", "processor": {"exec": ["bin/copy"]}, "outputDir": "gen"}]}`
	dir := testutil.Workspace(t, files)
	require.NoError(t, os.Symlink("a.py", filepath.Join(dir, "lib", "sub", "alias.py"))) // not followed in walks
	p := load(t, dir)
	ps := newProcs(p, hashcache.Open(filepath.Join(t.TempDir(), "hashes")), nil)
	// A file that became a link out of the workspace after the spec was
	// loaded (the loader refuses one that already is).
	outside := realDir(t)
	testutil.WriteFile(t, filepath.Join(outside, "x.py"), "x")
	late := len(cases) - 1
	require.NoError(t, os.Remove(filepath.Join(dir, "lib", "late.py")))
	require.NoError(t, os.Symlink(filepath.Join(outside, "x.py"), filepath.Join(dir, "lib", "late.py")))
	cases[late].err = `path "lib/late.py" resolves to "` + filepath.ToSlash(filepath.Join(outside, "x.py")) + `", outside the workspace`
	for j, c := range cases {
		t.Run(c.entry, func(t *testing.T) {
			ids, err := ps.dep(p.Stages[0].CodeDeps[j])
			if c.err != "" {
				assert.EqualError(t, err, strings.ReplaceAll(c.err, "$OUTSIDE", outside))
				return
			}
			require.NoError(t, err)
			var got []string
			for _, id := range ids {
				got = append(got, id.Path)
				sum, err := hashcache.File(filepath.Join(dir, id.Path))
				require.NoError(t, err)
				assert.Equal(t, sum, id.SHA256)
			}
			assert.Equal(t, c.want, got)
		})
	}
	// A stage's code: the first failing entry, named by its field.
	_, err := ps.code(&p.Stages[0], nil)
	assert.EqualError(t, err, `stages[0].codeDeps[8]: pattern "**/made.py" matches no file`)
}

// TestOldKeyFormatExplainsItself: a marker written by a guardrun with
// another key format reruns its stage once, with one reason saying so.
func TestOldKeyFormatExplainsItself(t *testing.T) {
	old := &KeyParts{Format: 1, Processor: "p", Params: "{}", Inputs: []InputID{{Path: "a", SHA256: "x"}}}
	now := &KeyParts{Format: KeyFormat, Processor: "q", Params: "{}", Code: []InputID{{Path: "procs/x.sh", SHA256: "y"}}}
	rs := compare(old, now)
	require.Len(t, rs, 1)
	assert.Equal(t, ReasonFormat, rs[0].Kind)
	assert.Equal(t, "idempotency key format changed (1 -> 2): this guardrun keys stages differently, one rerun", rs[0].String())
}

// TestCodeIdentityIsMemoised: the code of many stages sharing a program
// and codeDeps is resolved, expanded and hashed once per run.
func TestCodeIdentityIsMemoised(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("/bin/sh")
	}
	var stages []string
	for i := range 50 {
		stages = append(stages, fmt.Sprintf(`{"name": "s%d", "processor": {"exec": ["/bin/sh", "procs/x.sh"]}, "codeDeps": ["lib"], "outputDir": "out/%d", "dependsOn": []}`, i, i))
	}
	dir := testutil.Workspace(t, map[string]string{
		"pipeline.json": `{"version": 1, "name": "m", "stages": [` + strings.Join(stages, ",") + `]}`,
		"procs/x.sh":    "true\n",
		"lib/a.sh":      "a\n",
	})
	p := load(t, dir)
	ps := newProcs(p, hashcache.Open(filepath.Join(t.TempDir(), "hashes")), nil)
	var first []InputID
	for i := range p.Stages {
		pr, err := ps.resolveExec(&p.Stages[i])
		require.NoError(t, err)
		code, err := ps.code(&p.Stages[i], pr)
		require.NoError(t, err)
		if first == nil {
			first = code
		}
		assert.Equal(t, first, code)
	}
	assert.Len(t, ps.execs, 1, "one resolution per distinct argv")
	assert.Len(t, ps.bins, 1, "one resolution per distinct argv[0]")
	assert.Len(t, ps.deps, 1, "one expansion per distinct codeDeps entry")
	var paths []string
	for _, id := range first {
		paths = append(paths, id.Path)
	}
	sh, err := filepath.EvalSymlinks("/bin/sh")
	require.NoError(t, err)
	assert.Equal(t, []string{filepath.ToSlash(sh), "lib/a.sh", "procs/x.sh"}, paths)
}

// BenchmarkCodeIdentity400ScriptStages is what code identity adds to a
// no-op run of 400 script stages ({"exec": ["/bin/sh", "procs/xN.sh"]},
// codeDeps ["lib/**/*.sh"]): resolving the program and its arguments,
// expanding the glob once and a stat per file through a warm stat cache.
func BenchmarkCodeIdentity400ScriptStages(b *testing.B) {
	const n = 400
	files := map[string]string{"lib/common.sh": "x=1\n", "lib/sub/more.sh": "y=2\n"}
	var stages []string
	for i := range n {
		files[fmt.Sprintf("procs/x%d.sh", i)] = "true\n"
		stages = append(stages, fmt.Sprintf(`{"name": "s%d", "processor": {"exec": ["/bin/sh", "procs/x%d.sh"]}, "codeDeps": ["lib/**/*.sh"], "outputDir": "out/%d", "dependsOn": []}`, i, i, i))
	}
	files["pipeline.json"] = `{"version": 1, "name": "b", "stages": [` + strings.Join(stages, ",") + `]}`
	dir := testutil.Workspace(b, files)
	ageFiles(b, dir)
	p, err := pipeline.Load(filepath.Join(dir, "pipeline.json"), pipeline.LoadOptions{})
	require.NoError(b, err)
	cache := hashcache.Open(filepath.Join(b.TempDir(), "hashes"))
	identity := func() {
		ps := newProcs(p, cache, nil)
		for i := range p.Stages {
			if _, _, err := ps.versionOnly(&p.Stages[i]); err != nil {
				b.Fatal(err)
			}
		}
	}
	identity() // warms the stat cache
	b.ResetTimer()
	for b.Loop() {
		identity()
	}
}

// TestGoSourcesFromPreflightAreNotHashedAgain: the source hashes preflight
// computed are the run's; a package is not read a second time on the hot
// path (here it could not be: its files are gone, so hashing would fail).
func TestGoSourcesFromPreflightAreNotHashedAgain(t *testing.T) {
	dir := testutil.Workspace(t, map[string]string{
		"go.mod":        "module example.com/w\n\ngo 1.26\n",
		"proc/main.go":  "package main\n\nfunc main() {}\n",
		"pipeline.json": `{"version": 1, "name": "g", "stages": [{"name": "s", "processor": {"go": "./proc"}, "outputDir": "out"}]}`,
	})
	p := load(t, dir)
	g, err := HashGoSources(p)
	require.NoError(t, err)
	pkg := p.Abs("proc")
	want := g.Hashes()[pkg]
	require.Len(t, want, 64)
	require.NoError(t, os.Remove(filepath.Join(pkg, "main.go")))

	ps := newProcs(p, hashcache.Open(Layout(p).HashCache()), nil)
	_, _, err = ps.goSource(pkg)
	require.Error(t, err, "without the seed the package is hashed again (and fails here)")

	ps = newProcs(p, hashcache.Open(Layout(p).HashCache()), nil)
	ps.seed(g)
	got, _, err := ps.goSource(pkg)
	require.NoError(t, err)
	assert.Equal(t, want, got)

	other := load(t, dir)
	ps = newProcs(other, hashcache.Open(Layout(other).HashCache()), nil)
	ps.seed(g)
	_, _, err = ps.goSource(pkg)
	assert.Error(t, err, "hashes of another pipeline value are not taken")
}
