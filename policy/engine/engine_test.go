package engine

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/guardrun/guardrun/pipeline"
	"github.com/guardrun/guardrun/policy"
	"github.com/guardrun/guardrun/policy/policytest"
)

// testHost is the host every test judges against: 4 cpus, 8 GiB.
var testHost = policy.Host{CPUs: 4, MemoryMB: 8192, OS: "linux"}

// workspace and stageSpec are policytest's (shared with the other
// package's tests).
var (
	workspace = policytest.Workspace
	stageSpec = policytest.StageSpec
	loadOpts  = policytest.LoadOpts
)

func newEngine(t testing.TB, opts policy.Options) *Engine {
	t.Helper()
	e, err := New(context.Background(), opts)
	require.NoError(t, err)
	return e
}

func evaluate(t *testing.T, e *Engine, p *pipeline.Pipeline) *policy.Result {
	t.Helper()
	res, err := e.Evaluate(context.Background(), p, testHost)
	require.NoError(t, err)
	return res
}

type ruleStage struct{ Rule, Stage string }

func ruleStages(vs []policy.Violation) []ruleStage {
	out := []ruleStage{}
	for _, v := range vs {
		out = append(out, ruleStage{v.Rule, v.Stage})
	}
	return out
}

func TestDemoSpecPasses(t *testing.T) {
	p, err := pipeline.Load(filepath.Join("..", "..", "pipeline.json"), loadOpts)
	require.NoError(t, err)
	res := evaluate(t, newEngine(t, policy.Options{}), p)
	assert.Empty(t, res.Violations)
	assert.False(t, res.Failed(true))
	assert.NoError(t, res.Err(true))
}

// Every door a spec could use to reach the network, escape the workspace or
// run away is refused with the rule id and stage.
func TestDoors(t *testing.T) {
	outsideDir := t.TempDir()
	fakeCurl := filepath.Join(outsideDir, "curl")
	require.NoError(t, os.WriteFile(fakeCurl, []byte("#!/bin/sh\n"), 0o755))

	e := newEngine(t, policy.Options{})
	cases := []struct {
		name  string
		spec  string
		setup func(t *testing.T, ws string)
		want  ruleStage
		msg   string // substring of the message
	}{
		{name: "url nested in params", spec: stageSpec(`"params": {"src": {"mirrors": ["local", {"u": "https://example.com/x.csv"}]}}`),
			want: ruleStage{"GR004", "stage_a"}, msg: `params.src.mirrors[1].u holds the URL "https://example.com/x.csv"`},
		{name: "url in inputs", spec: stageSpec(`"inputs": ["s3://bucket/key"]`),
			want: ruleStage{"GR004", "stage_a"}, msg: `inputs[0] "s3:/bucket/key" is a URL`},
		{name: "url in env value", spec: stageSpec(`"env": {"SRC": "ftp://h/f"}`),
			want: ruleStage{"GR004", "stage_a"}, msg: `env.SRC holds the URL`},
		{name: "url in argv", spec: stageSpec(`"processor": {"exec": ["tools/sort.sh", "--from", "http://10.0.0.1/a"]}`),
			want: ruleStage{"GR004", "stage_a"}, msg: `processor.exec[2]`},
		{name: "proxy env lowercase", spec: stageSpec(`"env": {"https_proxy": "10.0.0.1:3128"}`),
			want: ruleStage{"GR005", "stage_a"}, msg: `env "https_proxy" sets a proxy variable`},
		{name: "proxy env upper", spec: stageSpec(`"env": {"ALL_PROXY": "socks5://h"}`),
			want: ruleStage{"GR005", "stage_a"}},
		{name: "curl via /usr/bin/curl in argv[2]", spec: stageSpec(`"processor": {"exec": ["tools/sort.sh", "-x", "/usr/bin/curl"]}`),
			want: ruleStage{"GR003", "stage_a"}, msg: `processor.exec[2] "/usr/bin/curl" runs the network tool "curl"`},
		{name: "wget inside sh -c", spec: stageSpec(`"processor": {"exec": ["tools/sort.sh", "-c", "wget -qO- $SRC | sort"]}`),
			want: ruleStage{"GR003", "stage_a"}, msg: `"wget"`},
		{name: "bare curl on PATH", spec: stageSpec(`"processor": {"exec": ["curl", "-O"]}`),
			want: ruleStage{"GR003", "stage_a"}},
		{name: "workspace symlink to a curl outside", spec: stageSpec(`"processor": {"exec": ["tools/fetch"]}`),
			setup: func(t *testing.T, ws string) {
				require.NoError(t, os.Symlink(fakeCurl, filepath.Join(ws, "tools", "fetch")))
			},
			want: ruleStage{"GR003", "stage_a"}, msg: `resolves to "` + filepath.ToSlash(fakeCurl) + `", the network tool "curl"`},
		{name: "workspace symlink to an outside program", spec: stageSpec(`"processor": {"exec": ["tools/fetch"]}`),
			setup: func(t *testing.T, ws string) {
				require.NoError(t, os.Symlink(fakeCurl, filepath.Join(ws, "tools", "fetch")))
			},
			want: ruleStage{"GR001", "stage_a"}, msg: `outside the workspace`},
		{name: "dangling symlink to outside", spec: stageSpec(`"processor": {"exec": ["tools/gone"]}`),
			setup: func(t *testing.T, ws string) {
				require.NoError(t, os.Symlink("/nonexistent/guardrun/tool", filepath.Join(ws, "tools", "gone")))
			},
			want: ruleStage{"GR001", "stage_a"}, msg: `"/nonexistent/guardrun/tool"`},
		{name: "exec outside workspace", spec: stageSpec(`"processor": {"exec": ["/bin/sh", "-c", "true"]}`),
			want: ruleStage{"GR001", "stage_a"}},
		{name: "go processor outside workspace", spec: stageSpec(`"processor": {"go": "` + filepath.ToSlash(outsideDir) + `"}`),
			want: ruleStage{"GR001", "stage_a"}, msg: `processor.go`},
		{name: "input outside workspace", spec: stageSpec(`"inputs": ["/etc/passwd"]`),
			want: ruleStage{"GR002", "stage_a"}, msg: `inputs[0] "/etc/passwd" is outside the workspace`},
		{name: "input climbing out", spec: stageSpec(`"inputs": ["../../etc/passwd"]`),
			want: ruleStage{"GR002", "stage_a"}},
		{name: "input symlink to outside", spec: stageSpec(`"inputs": ["data/input/link.txt"]`),
			setup: func(t *testing.T, ws string) {
				require.NoError(t, os.Symlink(fakeCurl, filepath.Join(ws, "data", "input", "link.txt")))
			},
			want: ruleStage{"GR002", "stage_a"}, msg: `is a symlink to`},
		{name: "memory over budget", spec: stageSpec(`"resources": {"memoryMB": 4096}`),
			want: ruleStage{"GR010", "stage_a"}, msg: `more than the run budget of 2048 MB`},
		{name: "cpus over budget", spec: stageSpec(`"resources": {"cpus": 3}`),
			want: ruleStage{"GR009", "stage_a"}},
		{name: "pids runaway", spec: stageSpec(`"resources": {"pids": 100000}`),
			want: ruleStage{"GR011", "stage_a"}},
		{name: "retry attempts", spec: stageSpec(`"retry": {"maxAttempts": 50}`),
			want: ruleStage{"GR006", "stage_a"}, msg: `retry.maxAttempts is 50`},
		{name: "retry delay", spec: stageSpec(`"retry": {"maxDelayMs": 3600000}`),
			want: ruleStage{"GR007", "stage_a"}},
		{name: "timeout", spec: stageSpec(`"timeoutSeconds": 172800`),
			want: ruleStage{"GR008", "stage_a"}, msg: `timeoutSeconds is 172800`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ws, p := workspace(t, tc.spec)
			if tc.setup != nil {
				tc.setup(t, ws)
			}
			res := evaluate(t, e, p)
			require.Contains(t, ruleStages(res.Denied()), tc.want, "violations: %v", res.Violations)
			require.True(t, res.Failed(false))
			if tc.msg != "" {
				var msgs []string
				for _, v := range res.Violations {
					if v.Rule == tc.want.Rule {
						msgs = append(msgs, v.Message)
					}
				}
				assert.Contains(t, strings.Join(msgs, "\n"), tc.msg)
			}
			var ve *policy.ViolationError
			require.ErrorAs(t, res.Err(false), &ve)
			assert.ErrorIs(t, ve, policy.ErrPolicy)
			assert.Contains(t, ve.Error(), "deny ["+tc.want.Rule+"] "+tc.want.Stage+": ")
		})
	}
}

func TestBudgetOverHost(t *testing.T) {
	_, p := workspace(t, stageSpec(""))
	p.Budget.MemoryMB = 16384
	res := evaluate(t, newEngine(t, policy.Options{}), p)
	assert.Contains(t, ruleStages(res.Denied()), ruleStage{"GR012", ""})
	assert.Contains(t, res.Err(false).Error(), "deny [GR012] (pipeline): ")
}

func TestUserPolicyAddsDeny(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "team.rego"), `package guardrun.pipeline

deny contains {"rule": "ACME001", "stage": s.name, "msg": "every stage needs env TEAM"} if {
	some s in input.pipeline.stages
	not s.env.TEAM
}

warn contains "[ACME002] plain string rules keep their id" if {
	count(input.pipeline.stages) > 0
}
`)
	// test modules in the directory are not loaded by New
	writeFile(t, filepath.Join(dir, "team_test.rego"), "package broken_on_purpose\n\nthis is not rego\n")
	e := newEngine(t, policy.Options{Dirs: []string{dir}})
	assert.Contains(t, e.Modules(), filepath.Join(dir, "team.rego"))

	_, p := workspace(t, stageSpec(""))
	res := evaluate(t, e, p)
	assert.Equal(t, []policy.Violation{
		{Rule: "ACME001", Stage: "stage_a", Message: "every stage needs env TEAM", Severity: "deny"},
		{Rule: "ACME002", Stage: "", Message: "plain string rules keep their id", Severity: "warn"},
	}, res.Violations)

	_, p = workspace(t, stageSpec(`"env": {"TEAM": "data"}`))
	assert.False(t, evaluate(t, e, p).Failed(false))
}

func TestUserConfigExtendsAllowList(t *testing.T) {
	spec := stageSpec(`"processor": {"exec": ["/bin/sh", "-c", "true"]}, "inputs": ["/etc/hostname"]`)
	_, p := workspace(t, spec)
	res := evaluate(t, newEngine(t, policy.Options{}), p)
	require.True(t, res.Failed(false))

	dir := t.TempDir()
	real := policy.ResolveExec("", "/bin/sh")
	require.NotEmpty(t, real)
	writeFile(t, filepath.Join(dir, "allow.rego"), `package guardrun.config

allowed_outside_paths contains "`+real+`"
allowed_outside_paths contains "/etc/host*"
`)
	res = evaluate(t, newEngine(t, policy.Options{Dirs: []string{dir}}), p)
	assert.Empty(t, res.Violations)
}

func TestRefusedBuiltins(t *testing.T) {
	cases := []struct{ builtin, body string }{
		{"http.send", `resp := http.send({"method": "GET", "url": "http://example.com"})
	resp.status_code == 200`},
		{"http.send", `x := object.get(http.send({"method": "GET", "url": "http://example.com"}), "body", {})
	x.leak`},
		{"net.lookup_ip_addr", `count(net.lookup_ip_addr("example.com")) > 0`},
		{"opa.runtime", `opa.runtime().env.HOME`},
	}
	for _, tc := range cases {
		t.Run(tc.builtin, func(t *testing.T) {
			dir := t.TempDir()
			file := filepath.Join(dir, "exfil.rego")
			writeFile(t, file, "package guardrun.pipeline\n\ndeny contains \"x\" if {\n\t"+tc.body+"\n}\n")
			_, err := New(context.Background(), policy.Options{Dirs: []string{dir}})
			require.Error(t, err)
			var pe *policy.Error
			require.ErrorAs(t, err, &pe)
			assert.ErrorIs(t, pe, policy.ErrPolicy)
			assert.Equal(t, tc.builtin, pe.Builtin)
			assert.Equal(t, file, pe.File)
			assert.Contains(t, err.Error(), file+":4 calls "+tc.builtin)
			assert.Contains(t, err.Error(), "without network")
		})
	}
}

// The capabilities alone refuse http.send, also where the pre-scan does not
// look (the compiler's own error is translated).
func TestCapabilitiesRefuseNetwork(t *testing.T) {
	c := Capabilities()
	require.NotNil(t, c.AllowNet)
	assert.Empty(t, c.AllowNet)
	names := map[string]bool{}
	for _, b := range c.Builtins {
		names[b.Name] = true
	}
	for _, b := range forbiddenBuiltins {
		assert.False(t, names[b], b)
	}
	assert.True(t, names["regex.match"])

	m, err := parse("t.rego", "package guardrun.pipeline\n\ndeny contains 1 if http.send({})\n")
	require.NoError(t, err)
	mods, err := loadModules(nil, false)
	require.NoError(t, err)
	mods["t.rego"] = m
	_, err = runTests(context.Background(), mods)
	var pe *policy.Error
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, "http.send", pe.Builtin)
	assert.Contains(t, err.Error(), "t.rego:3 calls http.send")
}

func TestUserPolicyErrors(t *testing.T) {
	cases := []struct {
		name, file, src, want string
	}{
		{"syntax", "bad.rego", "package guardrun.pipeline\n\ndeny contains x if {\n", "bad.rego"},
		{"rego v0 syntax", "old.rego", "package guardrun.pipeline\n\ndeny[msg] { msg := \"x\" }\n", "Rego v1 syntax"},
		{"verdict in another package", "main.rego", "package main\n\ndeny contains \"x\" if true\n", `defines "deny" in package main, which guardrun never reads: declare ` + "`package guardrun.pipeline`"},
		{"conflict with built-in", "conflict.rego", "package guardrun.pipeline\n\nviolations := 1\n", "compiling policy"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, filepath.Join(dir, tc.file), tc.src)
			_, err := New(context.Background(), policy.Options{Dirs: []string{dir}})
			require.Error(t, err)
			var pe *policy.Error
			require.ErrorAs(t, err, &pe)
			assert.ErrorIs(t, pe, policy.ErrPolicy)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	t.Run("missing dir", func(t *testing.T) {
		_, err := New(context.Background(), policy.Options{Dirs: []string{filepath.Join(t.TempDir(), "nope")}})
		var pe *policy.Error
		require.ErrorAs(t, err, &pe)
		assert.Contains(t, err.Error(), "reading policy directory")
	})
	t.Run("empty dir", func(t *testing.T) {
		_, err := New(context.Background(), policy.Options{Dirs: []string{t.TempDir()}})
		require.ErrorContains(t, err, "holds no .rego modules")
	})
}

func TestExceptionsWaiveExactlyNamedRuleAndStage(t *testing.T) {
	spec := `{"version": 1, "name": "t", "resources": {"cpus": 2, "memoryMB": 2048}, "stages": [
		{"name": "stage_a", "processor": {"go": "./processors/copy"}, "inputs": ["/etc/hostname"], "outputDir": "data/a",
		 "env": {"HTTP_PROXY": "h"}},
		{"name": "stage_b", "processor": {"go": "./processors/copy"}, "inputs": ["/etc/hostname"], "outputDir": "data/b"}]}`
	_, p := workspace(t, spec)
	before := evaluate(t, newEngine(t, policy.Options{}), p)
	require.ElementsMatch(t, []ruleStage{{"GR002", "stage_a"}, {"GR005", "stage_a"}, {"GR002", "stage_b"}}, ruleStages(before.Denied()))

	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "exceptions.rego"), `package guardrun.pipeline

exception contains {"rule": "GR002", "stage": "stage_a"}
`)
	after := evaluate(t, newEngine(t, policy.Options{Dirs: []string{dir}}), p)
	assert.ElementsMatch(t, []ruleStage{{"GR005", "stage_a"}, {"GR002", "stage_b"}}, ruleStages(after.Denied()))
	assert.Equal(t, []ruleStage{{"GR002", "stage_a"}}, ruleStages(after.Waived))
}

func TestWarningsFailOnlyWhenStrict(t *testing.T) {
	_, p := workspace(t, stageSpec(`"idempotency": {"enabled": false}`))
	e := newEngine(t, policy.Options{Strict: true})
	assert.True(t, e.Options().Strict)
	res := evaluate(t, e, p)
	require.Equal(t, []ruleStage{{"GR102", "stage_a"}}, ruleStages(res.Violations))
	assert.Empty(t, res.Denied())
	assert.False(t, res.Failed(false))
	assert.NoError(t, res.Err(false))
	assert.True(t, res.Failed(true))
	err := res.Err(true)
	var ve *policy.ViolationError
	require.ErrorAs(t, err, &ve)
	assert.ErrorIs(t, ve, policy.ErrPolicy)
	assert.Contains(t, err.Error(), "0 denied, 1 warnings (warnings fail with --strict)")
	assert.Contains(t, err.Error(), "\n  warn [GR102] stage_a: idempotency is disabled")
}

func TestViolationOrderAndJSON(t *testing.T) {
	spec := `{"version": 1, "name": "t", "resources": {"cpus": 2, "memoryMB": 2048}, "stages": [
		{"name": "stage_z", "processor": {"go": "./processors/copy"}, "inputs": ["data/input/sample.txt"], "outputDir": "data/z",
		 "idempotency": {"enabled": false}, "retry": {"maxAttempts": 20}},
		{"name": "stage_a", "processor": {"go": "./processors/copy"}, "inputs": ["/etc/hostname"], "outputDir": "data/a",
		 "timeoutSeconds": 999999}]}`
	_, p := workspace(t, spec)
	res := evaluate(t, newEngine(t, policy.Options{}), p)
	// denials first, stages in spec order, then rule id
	assert.Equal(t, []ruleStage{{"GR006", "stage_z"}, {"GR002", "stage_a"}, {"GR008", "stage_a"}, {"GR102", "stage_z"}}, ruleStages(res.Violations))

	b, err := json.Marshal(res.Violations[0])
	require.NoError(t, err)
	var m map[string]string
	require.NoError(t, json.Unmarshal(b, &m))
	assert.Equal(t, []string{"message", "rule", "severity", "stage"}, slices.Sorted(maps.Keys(m)))
	assert.Equal(t, "deny", m["severity"])
}

func TestEvaluateConcurrently(t *testing.T) {
	e := newEngine(t, policy.Options{})
	_, bad := workspace(t, stageSpec(`"inputs": ["/etc/passwd"]`))
	_, good := workspace(t, stageSpec(""))
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 16 {
		wg.Go(func() {
			p, want := good, false
			if i%2 == 0 {
				p, want = bad, true
			}
			res, err := e.Evaluate(context.Background(), p, testHost)
			if err != nil {
				errs <- err
				return
			}
			if res.Failed(false) != want {
				errs <- errors.New("wrong verdict under concurrency")
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestEvaluateNilPipeline(t *testing.T) {
	_, err := newEngine(t, policy.Options{}).Evaluate(context.Background(), nil, testHost)
	var pe *policy.Error
	require.ErrorAs(t, err, &pe)
}

func TestTestRunsUserRegoTests(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "team.rego"), `package guardrun.pipeline

deny contains {"rule": "ACME001", "stage": s.name, "msg": "needs TEAM"} if {
	some s in input.pipeline.stages
	not s.env.TEAM
}
`)
	writeFile(t, filepath.Join(dir, "team_test.rego"), `package guardrun.pipeline_test

import data.guardrun.pipeline

test_acme001_denies if {
	some v in pipeline.deny with input as {"pipeline": {"stages": [{"name": "s"}]}}
	v.rule == "ACME001"
}

test_acme001_passes if {
	count(pipeline.deny) == 0 with input as {"pipeline": {"stages": [{"name": "s", "env": {"TEAM": "x"}}]}}
}
`)
	rep, err := Test(context.Background(), []string{dir})
	require.NoError(t, err)
	assert.True(t, rep.OK(), "failed: %v", rep.Failed)
	assert.Equal(t, 2, rep.Passed)
	assert.Positive(t, rep.Coverage)

	writeFile(t, filepath.Join(dir, "wrong_test.rego"), `package guardrun.pipeline_test

import data.guardrun.pipeline

test_wrong if {
	count(pipeline.deny) == 0 with input as {"pipeline": {"stages": [{"name": "s"}]}}
}
`)
	rep, err = Test(context.Background(), []string{dir})
	require.NoError(t, err)
	assert.False(t, rep.OK())
	require.Len(t, rep.Failed, 1)
	assert.Contains(t, rep.Failed[0], "test_wrong")
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
}
