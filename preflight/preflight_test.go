package preflight_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/guardrun/guardrun/analyzers/suite"
	"github.com/guardrun/guardrun/pipeline"
	"github.com/guardrun/guardrun/policy"
	"github.com/guardrun/guardrun/preflight"
	"github.com/guardrun/guardrun/preflight/guard"
	"github.com/guardrun/guardrun/runner"
)

// goSpec runs the Go processor package ./processors/<name>.
func goSpec(name string) string {
	return `{"version": 1, "name": "t", "stages": [
  {"name": "proc", "processor": {"go": "./processors/` + name + `"}, "inputs": ["in.txt"], "outputDir": "out", "outputs": ["a.txt"]}]}`
}

const (
	cleanSpec = `{"version": 1, "name": "t", "stages": [
  {"name": "copy", "processor": {"exec": ["tools/copy.sh"]}, "inputs": ["in.txt"], "outputDir": "out", "outputs": ["a.txt"]}]}`
	// warnSpec turns idempotency off: warning GR102.
	warnSpec = `{"version": 1, "name": "t", "stages": [
  {"name": "copy", "processor": {"exec": ["tools/copy.sh"]}, "inputs": ["in.txt"], "outputDir": "out", "outputs": ["a.txt"], "idempotency": {"enabled": false}}]}`
	// deniedSpec gives the processor a proxy and too many attempts.
	deniedSpec = `{"version": 1, "name": "t", "stages": [
  {"name": "copy", "processor": {"exec": ["tools/copy.sh"]}, "inputs": ["in.txt"], "outputDir": "out", "outputs": ["a.txt"],
   "env": {"HTTPS_PROXY": "http://proxy:3128"}, "retry": {"maxAttempts": 50}}]}`
)

const (
	cleanMain = "package main\n\nimport \"os\"\n\nfunc main() { os.Exit(0) }\n"
	// urlMain imports net/url, which netlint allows by default.
	urlMain   = "package main\n\nimport (\n\t\"net/url\"\n\t\"os\"\n)\n\nfunc main() { _, _ = url.Parse(\"x\"); os.Exit(0) }\n"
	phoneMain = "package main\n\nimport (\n\t\"net\"\n\t\"os\"\n)\n\nfunc main() { _, _ = net.Dial(\"tcp\", \"127.0.0.1:1\"); os.Exit(0) }\n"
)

// ws is a throw-away workspace: a Go module with a pipeline spec, an exec
// processor and an input.
type ws struct {
	t     *testing.T
	dir   string
	guard *countingGuard
}

// countingGuard is the in-process guard, counting what it is asked.
type countingGuard struct {
	mu   sync.Mutex
	reqs []preflight.Request
}

func (c *countingGuard) Judge(ctx context.Context, req *preflight.Request) (*preflight.Response, error) {
	c.mu.Lock()
	c.reqs = append(c.reqs, *req)
	c.mu.Unlock()
	req.Protocol = preflight.Protocol
	return guard.Local{}.Judge(ctx, req)
}

// asked is how many requests the guard got.
func (c *countingGuard) asked() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.reqs)
}

func newWS(t *testing.T, spec string) *ws {
	t.Helper()
	dir := t.TempDir()
	if d, err := filepath.EvalSymlinks(dir); err == nil {
		dir = d
	}
	w := &ws{t: t, dir: dir, guard: &countingGuard{}}
	w.write("go.mod", "module example.com/ws\n\ngo 1.22\n")
	w.write("in.txt", "x\n")
	// No "#!" line: the policy would judge its interpreter (GR001), and
	// these tests never run the script.
	w.write("tools/copy.sh", "cp \"$@\"\n")
	require.NoError(t, os.Chmod(w.path("tools/copy.sh"), 0o755))
	w.write("processors/clean/main.go", cleanMain)
	w.write("processors/phone/main.go", phoneMain)
	w.write("processors/urls/main.go", urlMain)
	w.write("pipeline.json", spec)
	return w
}

func (w *ws) path(rel string) string { return filepath.Join(w.dir, filepath.FromSlash(rel)) }

func (w *ws) write(rel, content string) {
	w.t.Helper()
	p := w.path(rel)
	require.NoError(w.t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(w.t, os.WriteFile(p, []byte(content), 0o644))
}

func (w *ws) load() *pipeline.Pipeline {
	w.t.Helper()
	p, err := pipeline.Load(w.path("pipeline.json"), pipeline.LoadOptions{})
	require.NoError(w.t, err, "the spec itself must be valid")
	return p
}

// opts are the options of a run: the cache in the state dir.
func (w *ws) opts(p *pipeline.Pipeline) preflight.Options {
	return preflight.Options{CachePath: filepath.Join(p.StateDir, "preflight.json"), Guard: w.guard}
}

// run loads the spec, runs preflight and saves a passing verdict.
func (w *ws) run(o func(*preflight.Options)) (*preflight.Guards, error) {
	w.t.Helper()
	p := w.load()
	opts := w.opts(p)
	if o != nil {
		o(&opts)
	}
	g, err := preflight.Run(context.Background(), p, opts)
	if err == nil {
		require.NoError(w.t, g.Save())
	}
	return g, err
}

func TestCleanSpecPassesAndSaves(t *testing.T) {
	w := newWS(t, cleanSpec)
	p := w.load()
	opts := w.opts(p)
	opts.BestEffort = true
	g, err := preflight.Run(context.Background(), p, opts)
	require.NoError(t, err)
	assert.True(t, g.Sandbox.BestEffort)
	require.NotNil(t, g.Policy, "a new verdict is evaluated")
	assert.Empty(t, g.Policy.Violations)
	assert.Equal(t, "pass", g.Verdict.Policy)
	assert.Len(t, g.Verdict.Fingerprint, 64)
	assert.Equal(t, 0, g.Verdict.Warnings)
	require.NotNil(t, g.Verdict.Waived)
	assert.Equal(t, 0, *g.Verdict.Waived)
	assert.Equal(t, "pass (0 go processors)", g.Verdict.Netlint)
	assert.NotNil(t, g.Vet)

	_, err = os.Stat(opts.CachePath)
	require.ErrorIs(t, err, os.ErrNotExist, "nothing is written before Save")
	require.NoError(t, g.Save())
	b, err := os.ReadFile(opts.CachePath)
	require.NoError(t, err)
	assert.Equal(t, fmt.Sprintf("{\n  \"version\": 1,\n  \"policyFingerprint\": %q,\n  \"linted\": []\n}\n", g.Verdict.Fingerprint), string(b),
		"the cache format is version 1")
}

func TestCachedVerdict(t *testing.T) {
	w := newWS(t, goSpec("clean"))
	first, err := w.run(nil)
	require.NoError(t, err)
	require.NotNil(t, first.Policy)
	cache := filepath.Join(w.dir, "state", "preflight.json")
	before, err := os.Stat(cache)
	require.NoError(t, err)

	asked := w.guard.asked()
	require.Equal(t, 1, asked, "policy and lint verdicts are asked for in one request")
	assert.True(t, first.Guarded)
	second, err := w.run(nil)
	require.NoError(t, err)
	assert.Equal(t, asked, w.guard.asked(), "a run whose verdicts are all cached never asks the guard")
	assert.False(t, second.Guarded)
	assert.Nil(t, second.Policy, "a cached verdict is not evaluated")
	assert.Equal(t, "pass (cached)", second.Verdict.Policy)
	assert.Equal(t, first.Verdict.Fingerprint, second.Verdict.Fingerprint)
	assert.Nil(t, second.Verdict.Waived, "a cached verdict has no waived count")
	assert.Equal(t, "pass (1 go processors)", second.Verdict.Netlint)
	after, err := os.Stat(cache)
	require.NoError(t, err)
	assert.True(t, os.SameFile(before, after), "an unchanged verdict is not rewritten")

	third, err := w.run(func(o *preflight.Options) { o.NoCache = true })
	require.NoError(t, err)
	require.NotNil(t, third.Policy, "NoCache always evaluates")
	assert.Equal(t, "pass", third.Verdict.Policy)
	require.NotNil(t, third.Verdict.Waived)

	// Without a cache path nothing is cached, so every run evaluates.
	for range 2 {
		g, err := w.run(func(o *preflight.Options) { o.CachePath = "" })
		require.NoError(t, err)
		assert.NotNil(t, g.Policy)
	}
}

func TestCachedVerdictSkipsLint(t *testing.T) {
	// A verdict in the cache for exactly this source and config is trusted:
	// the package is not loaded again (here it would have findings).
	w := newWS(t, goSpec("phone"))
	p := w.load()
	hashes, err := runner.GoSourceHashes(p)
	require.NoError(t, err)
	dir := w.path("processors/phone")
	require.Contains(t, hashes, dir)
	fp, err := policy.Fingerprint(policy.Options{}, p, policy.DetectHost())
	require.NoError(t, err)
	w.write("state/preflight.json", fmt.Sprintf(`{"version": 1, "policyFingerprint": %q, "linted": [%q]}`, fp, preflight.LintKey(dir, hashes[dir])))

	g, err := preflight.Run(context.Background(), p, w.opts(p))
	require.NoError(t, err)
	assert.Equal(t, "pass (cached)", g.Verdict.Policy)
	assert.Equal(t, "pass (1 go processors)", g.Verdict.Netlint)

	// NoCache lints again.
	opts := w.opts(p)
	opts.NoCache = true
	_, err = preflight.Run(context.Background(), p, opts)
	var le *preflight.LintError
	require.ErrorAs(t, err, &le)

	// A cache of another version is ignored.
	w.write("state/preflight.json", fmt.Sprintf(`{"version": 2, "policyFingerprint": %q, "linted": [%q]}`, fp, preflight.LintKey(dir, hashes[dir])))
	_, err = preflight.Run(context.Background(), p, w.opts(p))
	require.ErrorAs(t, err, &le)
}

func TestRefused(t *testing.T) {
	cases := []struct {
		name   string
		spec   string
		strict bool
		// lenientFirst caches a lenient verdict of the same spec first.
		lenientFirst bool
		wantRules    []string
		wantStrict   bool
	}{
		{name: "denied", spec: deniedSpec, wantRules: []string{"GR004", "GR006"}},
		{name: "strict warning", spec: warnSpec, strict: true, wantRules: []string{"GR102"}, wantStrict: true},
		{name: "strict warning after a lenient pass", spec: warnSpec, strict: true, lenientFirst: true, wantRules: []string{"GR102"}, wantStrict: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newWS(t, tc.spec)
			p := w.load()
			if tc.lenientFirst {
				_, err := w.run(nil)
				require.NoError(t, err, "without --strict a warning passes")
			}
			_, statErr := os.Stat(p.StateDir)
			existed := statErr == nil
			opts := w.opts(p)
			opts.Strict = tc.strict
			var warn bytes.Buffer
			opts.Warnings = &warn
			g, err := preflight.Run(context.Background(), p, opts)
			var ve *policy.ViolationError
			require.ErrorAs(t, err, &ve)
			assert.Equal(t, tc.wantStrict, ve.Strict)
			var rules []string
			for _, v := range preflight.ViolationRecords(err) {
				rules = append(rules, v.Rule)
			}
			for _, r := range tc.wantRules {
				assert.Contains(t, rules, r)
			}
			require.NotNil(t, g, "the policy's result comes with the error")
			assert.Same(t, ve.Result, g.Policy)
			assert.Nil(t, g.Save, "a refused verdict cannot be saved")
			assert.Empty(t, warn.String(), "a refused spec's warnings are in the error")
			if !existed {
				_, err := os.Stat(p.StateDir)
				assert.ErrorIs(t, err, os.ErrNotExist, "nothing is written")
			}
		})
	}
}

func TestWarnings(t *testing.T) {
	w := newWS(t, warnSpec)
	cases := []struct {
		name, want, notWant string
		wantCached          bool
	}{
		{name: "new verdict lists them", want: "policy: warn [GR102] copy: ", notWant: "unchanged"},
		{name: "cached verdict counts them", want: "policy: 1 warning(s), unchanged since they were listed ('guardrun check' lists them)\n",
			notWant: "GR102", wantCached: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			g, err := w.run(func(o *preflight.Options) { o.Warnings = &buf })
			require.NoError(t, err)
			assert.Equal(t, tc.wantCached, g.Policy == nil)
			assert.Equal(t, 1, g.Verdict.Warnings)
			assert.Contains(t, buf.String(), tc.want)
			assert.NotContains(t, buf.String(), tc.notWant)
			assert.Equal(t, 1, strings.Count(buf.String(), "\n"))
		})
	}
}

func TestLint(t *testing.T) {
	cases := []struct {
		name string
		// before sets up the workspace passing a first preflight, if any;
		// change changes it before the preflight under test.
		before, change func(w *ws)
		wantPos        string
		wantRule       string
	}{
		{
			name:     "network import",
			change:   func(w *ws) { w.write("pipeline.json", goSpec("phone")) },
			wantPos:  "processors/phone/main.go:4:2",
			wantRule: "netlint/netimport",
		},
		{
			name:     "changed source",
			before:   func(w *ws) { w.write("pipeline.json", goSpec("clean")) },
			change:   func(w *ws) { w.write("processors/clean/main.go", phoneMain) },
			wantPos:  "processors/clean/main.go:4:2",
			wantRule: "netlint/netimport",
		},
		{
			name:     "changed .netlint.json",
			before:   func(w *ws) { w.write("pipeline.json", goSpec("urls")) },
			change:   func(w *ws) { w.write(suite.ConfigName, `{"deny": ["net/url"]}`) },
			wantPos:  "processors/urls/main.go:4:2",
			wantRule: "netlint/netimport",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newWS(t, cleanSpec)
			if tc.before != nil {
				tc.before(w)
				g, err := w.run(nil)
				require.NoError(t, err)
				assert.Equal(t, "pass (1 go processors)", g.Verdict.Netlint)
				g, err = w.run(nil)
				require.NoError(t, err)
				require.Nil(t, g.Policy, "the first verdict is cached")
			}
			tc.change(w)
			g, err := w.run(nil)
			var le *preflight.LintError
			require.ErrorAs(t, err, &le)
			require.NotEmpty(t, le.Findings)
			assert.Equal(t, tc.wantPos, le.Findings[0].Pos)
			assert.Contains(t, err.Error(), "netlint: 1 finding(s) in go processors:\n  "+tc.wantPos+": ")
			assert.Equal(t, le.Findings, g.Findings)
			assert.Nil(t, g.Save)
			recs := preflight.ViolationRecords(err)
			require.Len(t, recs, 1)
			assert.Equal(t, policy.Violation{Rule: tc.wantRule, Message: tc.wantPos + ": " + le.Findings[0].Message, Severity: "deny"}, recs[0])
		})
	}
}

func TestVetOnlyWhatChanged(t *testing.T) {
	w := newWS(t, goSpec("clean"))
	p := w.load()
	g, err := preflight.Run(context.Background(), p, w.opts(p))
	require.NoError(t, err)
	dir := w.path("processors/clean")
	hashes, err := runner.GoSourceHashes(p)
	require.NoError(t, err)
	linted := hashes[dir]
	require.NotEmpty(t, linted)

	// The source now phones home. Vetted with the hash preflight linted,
	// it is trusted without loading the package again ...
	w.write("processors/clean/main.go", phoneMain)
	require.NoError(t, g.Vet(context.Background(), dir, linted))
	// ... but the runner hashes the changed source, and that is vetted.
	changed, err := runner.GoSourceHashes(w.load())
	require.NoError(t, err)
	require.NotEqual(t, linted, changed[dir])
	err = g.Vet(context.Background(), dir, changed[dir])
	var le *preflight.LintError
	require.ErrorAs(t, err, &le)
	assert.Equal(t, "netimport", le.Findings[0].Analyzer)

	// A changed .netlint.json makes the linted source count as changed.
	w.write("processors/clean/main.go", urlMain)
	g, err = preflight.Run(context.Background(), w.load(), w.opts(p))
	require.NoError(t, err)
	hashes, err = runner.GoSourceHashes(w.load())
	require.NoError(t, err)
	require.NoError(t, g.Vet(context.Background(), dir, hashes[dir]))
	w.write(suite.ConfigName, `{"deny": ["net/url"]}`)
	require.ErrorAs(t, g.Vet(context.Background(), dir, hashes[dir]), &le)
}

func TestErrorsOfTheSpec(t *testing.T) {
	// A go processor outside any module cannot be hashed: a spec problem
	// naming the stage's field, returned as is.
	w := newWS(t, goSpec("clean"))
	require.NoError(t, os.Remove(w.path("go.mod")))
	_, err := w.run(nil)
	var se *pipeline.SpecError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, "stages[0].processor.go", se.Field)
	assert.True(t, strings.HasPrefix(err.Error(), "stages[0].processor.go: "), err.Error())
	assert.Nil(t, preflight.ViolationRecords(err))

	// A package that does not type-check is a lint failure, not findings.
	w = newWS(t, goSpec("clean"))
	w.write("processors/clean/main.go", "package main\n\nfunc main() { undefined() }\n")
	_, err = w.run(nil)
	var sue *suite.Error
	require.ErrorAs(t, err, &sue)
	assert.Nil(t, preflight.ViolationRecords(err))
}

func TestViolationRecords(t *testing.T) {
	res := &policy.Result{Violations: []policy.Violation{{Rule: "GR003", Stage: "fetch", Message: "runs curl", Severity: "deny"}}}
	findings := []suite.Finding{
		{Pos: "p/main.go:4:2", Analyzer: "netimport", Message: `forbidden network import "net"`},
		{Pos: "p/main.go:9:3", Analyzer: "netexec", Message: `runs network tool "curl"`},
	}
	cases := []struct {
		name string
		err  error
		want []policy.Violation
	}{
		{name: "policy", err: &policy.ViolationError{Result: res}, want: res.Violations},
		{name: "wrapped policy", err: fmt.Errorf("preflight: %w", &policy.ViolationError{Result: res}), want: res.Violations},
		{name: "lint", err: &preflight.LintError{Findings: findings}, want: []policy.Violation{
			{Rule: "netlint/netimport", Message: `p/main.go:4:2: forbidden network import "net"`, Severity: "deny"},
			{Rule: "netlint/netexec", Message: `p/main.go:9:3: runs network tool "curl"`, Severity: "deny"},
		}},
		{name: "other", err: errors.New("disk full"), want: nil},
		{name: "nil", err: nil, want: nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, preflight.ViolationRecords(tc.err))
		})
	}
}

func TestLintErrorMessage(t *testing.T) {
	err := &preflight.LintError{Findings: []suite.Finding{{Pos: "p/main.go:4:2", Analyzer: "netimport", Message: `forbidden network import "net"`}}}
	assert.Equal(t, "netlint: 1 finding(s) in go processors:\n  p/main.go:4:2: forbidden network import \"net\" (netimport)", err.Error())
}

func TestMissingGuard(t *testing.T) {
	w := newWS(t, cleanSpec)
	p := w.load()
	t.Setenv(preflight.GuardEnv, filepath.Join(w.dir, "no-such-guard"))
	t.Setenv("PATH", w.path("empty"))
	opts := w.opts(p)
	opts.Guard = preflight.ProcessGuard{}

	// Nothing cached: the verdict must be computed, and cannot be.
	_, err := preflight.Run(context.Background(), p, opts)
	require.ErrorIs(t, err, preflight.ErrNoGuard)
	var me *preflight.GuardMissingError
	require.ErrorAs(t, err, &me)
	assert.Contains(t, err.Error(), "guardrun-guard not found (it evaluates the policy and lints Go processors for guardrun; looked next to guardrun at ")
	assert.Contains(t, err.Error(), "at $GUARDRUN_GUARD="+filepath.Join(w.dir, "no-such-guard"))
	assert.Contains(t, err.Error(), "go build -o ")
	assert.Contains(t, err.Error(), " ./cmd/guardrun-guard")

	// Cached by a run that had a guard: no guard is needed, or looked for.
	_, err = w.run(nil)
	require.NoError(t, err)
	g, err := preflight.Run(context.Background(), p, opts)
	require.NoError(t, err)
	assert.Equal(t, "pass (cached)", g.Verdict.Policy)
	assert.False(t, g.Guarded)

	// NoCache (`guardrun check`) always needs it.
	opts.NoCache = true
	_, err = preflight.Run(context.Background(), p, opts)
	require.ErrorIs(t, err, preflight.ErrNoGuard)
}

func TestFindGuard(t *testing.T) {
	dir := t.TempDir()
	guardPath := filepath.Join(dir, preflight.GuardName)
	if runtime.GOOS == "windows" {
		guardPath += ".exe"
	}
	require.NoError(t, os.WriteFile(guardPath, []byte("x"), 0o755))
	t.Setenv("PATH", t.TempDir())

	t.Setenv(preflight.GuardEnv, guardPath)
	got, err := preflight.FindGuard()
	require.NoError(t, err)
	assert.Equal(t, guardPath, got, "$GUARDRUN_GUARD")

	t.Setenv(preflight.GuardEnv, "")
	t.Setenv("PATH", dir)
	got, err = preflight.FindGuard()
	require.NoError(t, err)
	assert.Equal(t, guardPath, got, "PATH")

	t.Setenv("PATH", t.TempDir())
	_, err = preflight.FindGuard()
	require.ErrorIs(t, err, preflight.ErrNoGuard)
	assert.Contains(t, err.Error(), "in $GUARDRUN_GUARD, and on PATH")
}

// TestProcessGuardFailures: what guardrun says when guardrun-guard
// misbehaves (fake guards written as shell scripts).
func TestProcessGuardFailures(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the fake guards are shell scripts")
	}
	cases := []struct {
		name, script, want string
	}{
		{name: "exits non-zero", script: "echo 'guard: broken' >&2; exit 2", want: "running %s: guard: broken"},
		{name: "answers garbage", script: "echo 'not json'", want: "reading the response of %s: "},
		{name: "speaks another protocol", script: `echo '{"protocol": 99}'`, want: "%s speaks protocol 99, guardrun 1: rebuild both from the same source"},
		{name: "reports an error", script: `echo '{"protocol": 1, "error": "fingerprint mismatch"}'`, want: "%s: fingerprint mismatch"},
		{name: "answers nothing", script: `echo '{"protocol": 1}'`, want: "guardrun-guard returned no policy verdict"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newWS(t, cleanSpec)
			fake := w.path("fake-guard")
			w.write("fake-guard", "#!/bin/sh\ncat >/dev/null\n"+tc.script+"\n")
			require.NoError(t, os.Chmod(fake, 0o755))
			p := w.load()
			opts := w.opts(p)
			opts.Guard = preflight.ProcessGuard{Path: fake}
			_, err := preflight.Run(context.Background(), p, opts)
			require.Error(t, err)
			want := tc.want
			if strings.Contains(want, "%s") {
				want = fmt.Sprintf(want, fake)
			}
			assert.Contains(t, err.Error(), want)
			assert.NotErrorIs(t, err, policy.ErrPolicy, "a broken guard is not a policy verdict")
		})
	}
}

// A policy that cannot be used comes back from the guard as the
// *policy.Error it was, file and all.
func TestPolicyErrorCrossesTheGuard(t *testing.T) {
	w := newWS(t, cleanSpec)
	w.write("mypolicy/bad.rego", "package guardrun.pipeline\n\ndeny[msg] { msg := \"x\" }\n")
	_, err := w.run(func(o *preflight.Options) { o.PolicyDirs = []string{w.path("mypolicy")} })
	var pe *policy.Error
	require.ErrorAs(t, err, &pe)
	require.ErrorIs(t, err, policy.ErrPolicy)
	assert.Equal(t, w.path("mypolicy/bad.rego"), pe.File)
	assert.Contains(t, err.Error(), "policy: parsing "+w.path("mypolicy/bad.rego")+" (Rego v1 syntax): ")
}

// The run after the run that created the intermediate files finds its
// verdict cached: what a stage produces for the next one does not change
// the policy's input document.
func TestCachedAfterTheFirstRun(t *testing.T) {
	w := newWS(t, `{"version": 1, "name": "t", "stages": [
  {"name": "a", "processor": {"exec": ["tools/copy.sh"]}, "inputs": ["in.txt"], "outputDir": "work", "outputs": ["a.txt"]},
  {"name": "b", "processor": {"exec": ["tools/copy.sh"]}, "inputs": ["work/a.txt"], "outputDir": "out", "outputs": ["b.txt"]}]}`)
	_, err := w.run(nil)
	require.NoError(t, err)
	asked := w.guard.asked()
	w.write("work/a.txt", "x\n") // what stage a produced
	w.write("out/b.txt", "x\n")
	g, err := w.run(nil)
	require.NoError(t, err)
	assert.False(t, g.Guarded)
	assert.Equal(t, asked, w.guard.asked())
	assert.Equal(t, "pass (cached)", g.Verdict.Policy)
}
