// Package policytest holds what the policy's tests share: a workspace with
// the demo's files and a valid one-stage spec to vary. It is imported by
// tests only.
package policytest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/guardrun/guardrun/pipeline"
)

// LoadOpts are the load options of every test: a host of 4 cpus, 8 GiB.
var LoadOpts = pipeline.LoadOptions{HostCPUs: 4, HostMemoryMB: 8192}

// Workspace makes a workspace with the demo's processors and input, and
// writes spec into its pipeline.json.
func Workspace(t *testing.T, spec string) (string, *pipeline.Pipeline) {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"processors/copy/main.go", "processors/upper/main.go", "data/input/sample.txt", "tools/sort.sh"} {
		p := filepath.Join(dir, f)
		noErr(t, os.MkdirAll(filepath.Dir(p), 0o755))
		noErr(t, os.WriteFile(p, []byte("x\n"), 0o755))
	}
	specPath := filepath.Join(dir, "pipeline.json")
	noErr(t, os.WriteFile(specPath, []byte(spec), 0o644))
	p, err := pipeline.Parse([]byte(spec), specPath, LoadOpts)
	if err != nil {
		t.Fatalf("the spec itself must be valid: only the policy may refuse it: %v", err)
	}
	return dir, p
}

// StageSpec is a valid one-stage spec with the stage's fields replaced by
// fields (a JSON object's members, without braces).
func StageSpec(fields string) string {
	st := map[string]json.RawMessage{}
	must(json.Unmarshal([]byte(`{
		"name": "stage_a",
		"processor": {"go": "./processors/copy"},
		"inputs": ["data/input/sample.txt"],
		"outputDir": "data/work",
		"outputs": ["a.txt"]
	}`), &st))
	if fields != "" {
		over := map[string]json.RawMessage{}
		must(json.Unmarshal([]byte("{"+fields+"}"), &over))
		for k, v := range over {
			st[k] = v
		}
	}
	b, err := json.Marshal(map[string]any{
		"version":   1,
		"name":      "t",
		"resources": map[string]any{"cpus": 2, "memoryMB": 2048},
		"stages":    []any{st},
	})
	must(err)
	return string(b)
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}

// noErr stops the test on err (testify is not imported here: netlint's
// transitive check allows it only in _test files).
func noErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
