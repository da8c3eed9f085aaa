package guard

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/guardrun/guardrun/pipeline"
	"github.com/guardrun/guardrun/policy"
	"github.com/guardrun/guardrun/preflight"
)

// workspace holds a spec with one Go processor; deny gives it a proxy
// variable (GR005).
func workspace(t *testing.T, deny bool) (string, *pipeline.Pipeline) {
	t.Helper()
	dir := t.TempDir()
	env := ""
	if deny {
		env = `, "env": {"HTTPS_PROXY": "p:3128"}`
	}
	files := map[string]string{
		"go.mod":             "module example.com/ws\n\ngo 1.22\n",
		"in.txt":             "x\n",
		"proc/main.go":       "package main\n\nimport (\n\t\"net\"\n\t\"os\"\n)\n\nfunc main() { _, _ = net.Dial(\"tcp\", \"127.0.0.1:1\"); os.Exit(0) }\n",
		"pipeline.json":      `{"version": 1, "name": "t", "stages": [{"name": "s", "processor": {"go": "./proc"}, "inputs": ["in.txt"], "outputDir": "out"` + env + `}]}`,
		"mypolicy/ok.rego":   "package guardrun.pipeline\n",
		"badpolicy/x.rego":   "package guardrun.pipeline\n\ndeny[msg] { msg := \"x\" }\n",
		"otherpolicy/x.rego": "package guardrun.pipeline\n\nwarn contains \"[X1] x\" if false\n",
	}
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	}
	p, err := pipeline.Load(filepath.Join(dir, "pipeline.json"), pipeline.LoadOptions{})
	require.NoError(t, err)
	return dir, p
}

// request asks for the policy verdict on p and lint of its processor.
func request(t *testing.T, dir string, p *pipeline.Pipeline, opts policy.Options) *preflight.Request {
	t.Helper()
	in, err := policy.InputJSON(p, policy.DetectHost())
	require.NoError(t, err)
	fp, err := policy.FingerprintInput(opts, in)
	require.NoError(t, err)
	return &preflight.Request{Protocol: preflight.Protocol,
		Policy: &preflight.PolicyRequest{Dirs: opts.Dirs, Strict: opts.Strict, Input: in, Fingerprint: fp},
		Lint:   []string{filepath.Join(dir, "proc")}}
}

func TestJudge(t *testing.T) {
	ctx := context.Background()
	dir, p := workspace(t, false)
	resp := Judge(ctx, request(t, dir, p, policy.Options{}))
	require.Empty(t, resp.Error)
	require.NotNil(t, resp.Policy.Result)
	assert.False(t, resp.Policy.Result.Failed(true))
	require.Len(t, resp.Lint, 1)
	assert.Equal(t, filepath.Join(dir, "proc"), resp.Lint[0].Dir)
	require.Len(t, resp.Lint[0].Findings, 1)
	assert.Equal(t, "netimport", resp.Lint[0].Findings[0].Analyzer)

	// A refused spec is not linted.
	dir, p = workspace(t, true)
	resp = Judge(ctx, request(t, dir, p, policy.Options{}))
	require.Empty(t, resp.Error)
	assert.True(t, resp.Policy.Result.Failed(false))
	assert.Equal(t, "GR005", resp.Policy.Result.Violations[0].Rule)
	assert.Empty(t, resp.Lint)

	// A policy that does not compile is reported as the policy's error.
	req := request(t, dir, p, policy.Options{Dirs: []string{filepath.Join(dir, "badpolicy")}})
	resp = Judge(ctx, req)
	require.Empty(t, resp.Error)
	require.NotNil(t, resp.Policy.Error)
	assert.Equal(t, filepath.Join(dir, "badpolicy", "x.rego"), resp.Policy.Error.File)
	assert.Empty(t, resp.Lint)

	// A package that does not load is reported as lint's error.
	req = &preflight.Request{Protocol: preflight.Protocol, Lint: []string{filepath.Join(dir, "nope")}}
	resp = Judge(ctx, req)
	require.Len(t, resp.Lint, 1)
	require.NotNil(t, resp.Lint[0].Error)
	assert.Equal(t, "load", resp.Lint[0].Error.Op)
}

func TestJudgeRefusesAnotherBuild(t *testing.T) {
	ctx := context.Background()
	dir, p := workspace(t, false)

	req := request(t, dir, p, policy.Options{})
	req.Protocol = 2
	resp := Judge(ctx, req)
	assert.Equal(t, "request of protocol 2, this guard speaks 1: rebuild guardrun and guardrun-guard from the same source", resp.Error)
	assert.Equal(t, preflight.Protocol, resp.Protocol)

	// guardrun fingerprinted other modules than the guard reads.
	req = request(t, dir, p, policy.Options{Dirs: []string{filepath.Join(dir, "mypolicy")}})
	req.Policy.Dirs = []string{filepath.Join(dir, "otherpolicy")}
	resp = Judge(ctx, req)
	assert.Contains(t, resp.Error, "the policy fingerprints differently here")
	assert.Nil(t, resp.Policy.Result)

	_, err := Local{}.Judge(ctx, req)
	require.Error(t, err)
}

func TestMainProtocol(t *testing.T) {
	ctx := context.Background()
	var out, errOut bytes.Buffer
	assert.Equal(t, 0, Main(ctx, []string{"-h"}, strings.NewReader(""), &out, &errOut))
	assert.Contains(t, errOut.String(), "guardrun-guard computes verdicts for guardrun")
	assert.Contains(t, errOut.String(), "not\nmeant to be run by hand")

	errOut.Reset()
	assert.Equal(t, 2, Main(ctx, []string{"extra"}, strings.NewReader(""), &out, &errOut))
	assert.Equal(t, 2, Main(ctx, nil, strings.NewReader("{"), &out, &errOut))
	assert.Contains(t, errOut.String(), "guardrun-guard: reading the request on stdin: ")
	assert.Equal(t, 2, Main(ctx, nil, strings.NewReader(`{"protocol": 1, "surprise": true}`), &out, &errOut), "unknown fields are refused")

	dir, p := workspace(t, true)
	in, err := json.Marshal(request(t, dir, p, policy.Options{}))
	require.NoError(t, err)
	out.Reset()
	require.Equal(t, 0, Main(ctx, nil, bytes.NewReader(in), &out, &errOut))
	var resp preflight.Response
	require.NoError(t, json.Unmarshal(out.Bytes(), &resp))
	assert.Equal(t, "GR005", resp.Policy.Result.Violations[0].Rule)
}
