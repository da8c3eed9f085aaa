package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/stretchr/testify/require"

	"github.com/guardrun/guardrun/pipeline"
	"github.com/guardrun/guardrun/policy"
)

// fanoutFiles is a workspace with every kind of stage: a batched glob
// fan-out with codeDeps, a chain over it run by a "#!" script, a dir
// fan-out with a shared template input, env, params and a version, and a
// fan-in with declared edges, retry and io settings.
var fanoutFiles = map[string]string{
	"processors/upper/main.go": "package main\n",
	"data/input/a.txt":         "a\n",
	"data/input/b.txt":         "b\n",
	"data/more/sub/c.txt":      "c\n",
	"dict/words":               "w\n",
	"tools/common.sh":          "x=1\n",
	"tools/tag.sh":             "#!/bin/sh\nexit 0\n",
	"pipeline.json": `{"version": 1, "name": "fan", "resources": {"cpus": 2, "memoryMB": 2048},
 "stages": [
  {"name": "upper", "foreach": {"glob": "data/input/*.txt"}, "batch": {"maxItems": 10},
   "processor": {"go": "./processors/upper"}, "codeDeps": ["tools/common.sh"],
   "outputDir": "data/work/upper", "outputs": ["{stem}.txt"]},
  {"name": "tag", "foreach": {"stage": "upper"}, "processor": {"exec": ["tools/tag.sh", "-x"]},
   "outputDir": "data/work/tag", "outputs": ["{stem}.tag"]},
  {"name": "more", "foreach": {"dir": "data/more"}, "processor": {"exec": ["tools/tag.sh"]},
   "inputs": ["{path}", "dict/words"], "outputDir": "data/work/more", "outputs": ["{item}"],
   "env": {"LC_ALL": "C"}, "params": {"k": [1, {"x": true}]}, "version": "2"},
  {"name": "merge", "processor": {"go": "./processors/upper"}, "inputs": ["data/work/tag"],
   "dependsOn": ["more"], "outputDir": "data/output", "outputs": ["all.txt"],
   "retry": {"retryableExitCodes": [75, 76], "retryOnTimeout": true},
   "resources": {"io": {"readBps": 1048576}}, "ioHeavy": true, "timeoutSeconds": 60}
 ]}`,
}

// inputDocs builds the input documents of real specs on this host, as
// guardrun-guard receives them (policy.InputJSON): the demo pipeline of the
// repository and the fan-out workspace above.
func inputDocs(t *testing.T) map[string][]byte {
	t.Helper()
	demo, err := pipeline.Load(filepath.Join("..", "..", "pipeline.json"), loadOpts)
	require.NoError(t, err)

	ws := t.TempDir()
	for name, content := range fanoutFiles {
		p := filepath.Join(ws, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o755))
	}
	fan, err := pipeline.Load(filepath.Join(ws, "pipeline.json"), loadOpts)
	require.NoError(t, err)

	docs := map[string][]byte{}
	for name, tc := range map[string]struct {
		p    *pipeline.Pipeline
		host policy.Host
	}{
		"demo":             {demo, policy.DetectHost()},
		"fan-out":          {fan, testHost},
		"fan-out measured": {fan, policy.Host{CPUs: 4, MemoryMB: 8192, OS: "windows", InputBytes: map[string]int64{"merge": 12}}},
	} {
		b, err := policy.InputJSON(tc.p, tc.host)
		require.NoError(t, err)
		docs[name] = b
	}
	return docs
}

// matchSchema validates doc against the input schema with OPA's own JSON
// schema validator (the json.match_schema builtin) and returns its errors.
func matchSchema(t *testing.T, doc []byte) []string {
	t.Helper()
	in, err := ast.ValueFromReader(bytes.NewReader(doc))
	require.NoError(t, err)
	rs, err := rego.New(
		rego.Query(fmt.Sprintf("r := json.match_schema(input, %s)", policy.InputSchema())),
		rego.Capabilities(Capabilities()),
		rego.StrictBuiltinErrors(true),
		rego.ParsedInput(in),
	).Eval(context.Background())
	require.NoError(t, err)
	require.Len(t, rs, 1)
	r := rs[0].Bindings["r"].([]any)
	if r[0] == true {
		return nil
	}
	var out []string
	for _, e := range r[1].([]any) {
		m := e.(map[string]any)
		out = append(out, fmt.Sprintf("%v: %v", m["field"], m["desc"]))
	}
	require.NotEmpty(t, out)
	return out
}

// The schema describes the real input document: every document guardrun
// builds validates against it (its objects allow no other field, so a new
// field of pipeline.Stage or policy.Host fails here until the schema names
// it), and every path it names appears in one of them (so a field removed
// from the Go types fails here until the schema drops it).
func TestInputSchemaMatchesRealInput(t *testing.T) {
	docs := inputDocs(t)
	paths, err := schemaPaths()
	require.NoError(t, err)
	seen := map[string]bool{}
	for name, doc := range docs {
		t.Run(name, func(t *testing.T) {
			require.Empty(t, matchSchema(t, doc), "the input of %s does not match %s:\n%s", name, policy.InputSchemaFile, doc)
			var v any
			require.NoError(t, json.Unmarshal(doc, &v))
			for _, p := range paths {
				if present(v, strings.TrimPrefix(p, "input")) {
					seen[p] = true
				}
			}
		})
	}
	for _, p := range paths {
		require.True(t, seen[p], "%s names %s, which no real input document has: drop it, or add a spec that has it to this test", policy.InputSchemaFile, p)
	}
}

// The two checks above can fail: a field the schema does not name, a value
// of the wrong type, and a path no document has are found.
func TestInputSchemaChecksFail(t *testing.T) {
	docs := inputDocs(t)
	for _, tc := range []struct{ name, from, to, want string }{
		{"unknown stage field", `"ioHeavy":`, `"ioHeavyX": true, "ioHeavy":`, "ioHeavyX"},
		{"unknown host field", `"host":{`, `"host":{"gpus":1,`, "gpus"},
		{"wrong type", `"cpus":4,"memoryMB":8192`, `"cpus":"4","memoryMB":8192`, "cpus"},
		{"null where an array must be", `"exec":["tools/tag.sh","-x"]`, `"exec":null`, "exec"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := string(docs["fan-out"])
			require.Contains(t, doc, tc.from)
			errs := matchSchema(t, []byte(strings.Replace(doc, tc.from, tc.to, 1)))
			require.NotEmpty(t, errs)
			require.Contains(t, strings.Join(errs, "\n"), tc.want)
		})
	}
	var v any
	require.NoError(t, json.Unmarshal(docs["fan-out"], &v))
	require.True(t, present(v, ".pipeline.stages[_].foreach.stage"))
	require.True(t, present(v, ".host.interpreters[_][_].real"))
	require.False(t, present(v, ".pipeline.stages[_].foreach.nothing"))
	require.False(t, present(v, ".host.inputBytes[_]"), "only the measured document has inputBytes")
}

// present reports whether doc has a value at path (".a.b[_].c", "[_]"
// being any element of an array or any value of an object).
func present(doc any, path string) bool {
	if path == "" {
		return true
	}
	if rest, ok := strings.CutPrefix(path, "[_]"); ok {
		switch d := doc.(type) {
		case []any:
			for _, e := range d {
				if present(e, rest) {
					return true
				}
			}
		case map[string]any:
			for _, e := range d {
				if present(e, rest) {
					return true
				}
			}
		}
		return false
	}
	path = strings.TrimPrefix(path, ".")
	key, rest := path, ""
	if i := strings.IndexAny(path, ".["); i >= 0 {
		key, rest = path[:i], path[i:]
	}
	m, ok := doc.(map[string]any)
	if !ok {
		return false
	}
	v, ok := m[key]
	return ok && present(v, rest)
}

// A user rule is type-checked against the input schema when the policy is
// loaded: a path the input does not have is an error (exit 3) that names
// the file, the line, the reference and what was probably meant, never a
// rule that silently never fires.
func TestUserRulesAreTypeChecked(t *testing.T) {
	for _, tc := range []struct {
		name string
		rule string
		want []string // substrings of the error; none: the policy loads
	}{
		{
			name: "input.stages",
			rule: "deny contains {\"rule\": \"ACME1\", \"stage\": \"\", \"msg\": \"no stages\"} if {\n\tcount(input.stages) == 0\n}\n",
			want: []string{"team.rego:4: input.stages is not in the input document", `input has "host", "pipeline"`, "did you mean input.pipeline.stages?", policy.InputSchemaFile},
		},
		{
			name: "iterating input.stages",
			rule: "deny contains {\"rule\": \"ACME6\", \"stage\": s.name, \"msg\": \"m\"} if {\n\tsome s in input.stages\n\tnot s.env.TEAM\n}\n",
			want: []string{"team.rego:4: input.stages is not in the input document", "did you mean input.pipeline.stages?"},
		},
		{
			name: "a field under input.stages[_]",
			rule: "deny contains \"[ACME7] x\" if {\n\tinput.stages[_].name == \"x\"\n}\n",
			want: []string{"team.rego:4: input.stages[_].name is not in the input document", "did you mean input.pipeline.stages[_].name?"},
		},
		{
			name: "misspelt stage field",
			rule: "deny contains {\"rule\": \"ACME2\", \"stage\": s.name, \"msg\": \"m\"} if {\n\tsome s in input.pipeline.stages\n\ts.idempotnt == false\n}\n",
			want: []string{"team.rego:5: s.idempotnt is not in the input document", "did you mean s.idempotent?"},
		},
		{
			name: "field of a nested object",
			rule: "deny contains {\"rule\": \"ACME3\", \"stage\": s.name, \"msg\": \"m\"} if {\n\tsome s in input.pipeline.stages\n\ts.memoryMB > 4096\n}\n",
			want: []string{"team.rego:5: s.memoryMB is not in the input document", "input.pipeline.stages[_].resources.memoryMB"},
		},
		{
			name: "host fact",
			rule: "deny contains \"[ACME4] small host\" if {\n\tinput.host.memory < 1024\n}\n",
			want: []string{"team.rego:4: input.host.memory is not in the input document", "did you mean input.host.memoryMB?"},
		},
		{
			name: "correct rule",
			rule: "deny contains {\"rule\": \"ACME5\", \"stage\": s.name, \"msg\": \"m\"} if {\n\tsome s in input.pipeline.stages\n\ts.resources.memoryMB > 4096\n\tnot s.env.TEAM\n\tinput.host.resolved[s.name] != \"\"\n\tsome i in input.host.interpreters[s.name]\n\ti.real != \"\"\n\ts.foreach.glob != \"\"\n\ts.batchMaxItems > 1\n\tsome d in s.codeDeps\n\td != s.params.model\n}\n",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			file := filepath.Join(dir, "team.rego")
			require.NoError(t, os.WriteFile(file, []byte("package guardrun.pipeline\n\n"+tc.rule), 0o644))
			_, err := New(context.Background(), policy.Options{Dirs: []string{dir}})
			if len(tc.want) == 0 {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			require.True(t, errors.Is(err, policy.ErrPolicy), "a policy load error exits 3: %v", err)
			var pe *policy.Error
			require.True(t, errors.As(err, &pe))
			require.Equal(t, file, pe.File)
			for _, w := range tc.want {
				require.Contains(t, err.Error(), w)
			}
			require.NotContains(t, err.Error(), "__local", "names the compiler made up")
			// engine.Test (`opa test` for a --policy dir) refuses it too.
			_, err = Test(context.Background(), []string{dir})
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.want[0])
		})
	}
}
