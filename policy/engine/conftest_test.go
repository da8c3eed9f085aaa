package engine

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/stretchr/testify/require"

	"github.com/guardrun/guardrun/pipeline"
	"github.com/guardrun/guardrun/policy"
)

// unsafeFiles is a workspace whose spec most rules refuse or warn about,
// a fan-out stage included.
var unsafeFiles = map[string]string{
	"tools/run.sh": "#!/bin/sh\nexit 0\n",
	"data/in.txt":  "x\n",
	"pipeline.json": `{"version": 1, "name": "unsafe", "resources": {"cpus": 2, "memoryMB": 2048},
 "stages": [
  {"name": "fetch", "processor": {"exec": ["tools/run.sh", "curl", "https://example.com/data"]},
   "inputs": ["data/in.txt"], "outputDir": "out/fetch", "outputs": ["a.txt"],
   "env": {"HTTPS_PROXY": "http://proxy:3128"}, "retry": {"maxAttempts": 50}},
  {"name": "sort", "processor": {"exec": ["sort", "-k1"]}, "inputs": ["/etc/hostname"],
   "outputDir": "out/sort", "outputs": ["s.txt"], "idempotency": {"enabled": false},
   "resources": {"pids": 100000}, "timeoutSeconds": 172800},
  {"name": "each", "foreach": {"glob": "data/*.txt"}, "processor": {"exec": ["tools/run.sh"]},
   "inputs": ["{path}", "../{name}"], "outputDir": "out/each", "outputs": ["{stem}.txt"],
   "batch": {"maxItems": 5}, "checkpoint": {"enabled": false}}
 ]}`,
}

// conftest runs the policy on the input document guardrun prints (`guardrun
// check --policy-input`) as `conftest test --policy policy/ --policy DIR
// --namespace NS input.json` does, and reports what guardrun reports:
// in namespace guardrun.conftest always (exceptions included), in
// guardrun.pipeline the same denials and warnings before exceptions.
func TestConftestSeesGuardrunsVerdict(t *testing.T) {
	ws := t.TempDir()
	for name, content := range unsafeFiles {
		p := filepath.Join(ws, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o755))
	}
	p, err := pipeline.Load(filepath.Join(ws, "pipeline.json"), loadOpts)
	require.NoError(t, err)
	input, err := policy.InputJSON(p, testHost)
	require.NoError(t, err)

	userDir := func(src string) []string {
		if src == "" {
			return nil
		}
		dir := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(dir, "user.rego"), []byte("package guardrun.pipeline\n\n"+src), 0o644))
		return []string{dir}
	}
	for _, tc := range []struct {
		name string
		user string
		// pipelineNS: what conftest reports in namespace guardrun.pipeline,
		// compared with guardrun's verdict.
		pipelineNS string
	}{
		{name: "built-in policy", pipelineNS: "same"},
		{name: "a user rule", user: "deny contains {\"rule\": \"ACME1\", \"stage\": s.name, \"msg\": \"needs env TEAM\"} if {\n\tsome s in input.pipeline.stages\n\tnot s.env.TEAM\n}\n", pipelineNS: "same"},
		{name: "a user exception", user: "exception contains {\"rule\": \"GR006\", \"stage\": \"fetch\"}\n", pipelineNS: "one more"},
		{name: "a pipeline-wide exception", user: "exception contains {\"rule\": \"GR012\", \"stage\": \"\"}\n", pipelineNS: "nothing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dirs := userDir(tc.user)
			e := newEngine(t, policy.Options{Dirs: dirs})
			res, err := e.EvaluateInput(context.Background(), input)
			require.NoError(t, err)
			require.NotEmpty(t, res.Denied())
			var wantDeny, wantWarn, wantDenyMsgs, wantWarnMsgs []string
			for _, v := range res.Violations {
				stage := v.Stage
				if stage == "" {
					stage = "(pipeline)"
				}
				line := fmt.Sprintf("[%s] %s: %s", v.Rule, stage, v.Message)
				if v.Severity == policy.SeverityDeny {
					wantDeny, wantDenyMsgs = append(wantDeny, line), append(wantDenyMsgs, v.Message)
				} else {
					wantWarn, wantWarnMsgs = append(wantWarn, line), append(wantWarnMsgs, v.Message)
				}
			}
			mods, err := loadModules(dirs, false)
			require.NoError(t, err)

			got := conftestCheck(t, mods, "guardrun.conftest", input)
			require.Equal(t, sorted(wantDeny), got.failures)
			require.Equal(t, sorted(wantWarn), got.warnings)
			require.Zero(t, got.exceptions)

			got = conftestCheck(t, mods, policy.Package, input)
			switch tc.pipelineNS {
			case "same":
				require.Equal(t, sorted(wantDenyMsgs), got.failures)
				require.Equal(t, sorted(wantWarnMsgs), got.warnings)
			case "one more": // conftest does not read guardrun's exceptions
				require.Len(t, got.failures, len(wantDenyMsgs)+1)
				require.Subset(t, got.failures, wantDenyMsgs)
			case "nothing": // conftest's exception query matches the empty stage
				require.Empty(t, got.failures)
				require.Empty(t, got.warnings)
				require.NotZero(t, got.exceptions)
			}
		})
	}
}

type conftestResult struct {
	failures, warnings []string
	exceptions         int
}

var (
	conftestWarning = regexp.MustCompile("^warn(_[a-zA-Z0-9]+)*$")
	conftestFailure = regexp.MustCompile("^(deny|violation)(_[a-zA-Z0-9]+)*$")
)

// conftestCheck is conftest v0.71's check of one input (policy.Engine.check
// and query in conftest's source) with the OPA library: the modules
// compiled under the capabilities of conftest's OPA, every rule of
// namespace ns named deny*, violation* or warn* queried, skipped when
// `data.NS.exception[_][_] == NAME` holds (NAME: the rule name without its
// deny_/violation_/warn_ prefix, "" for deny itself); the messages of the
// findings, sorted.
func conftestCheck(t *testing.T, mods map[string]*ast.Module, ns string, input []byte) conftestResult {
	t.Helper()
	caps, err := ast.LoadCapabilitiesVersion(conftestOPA)
	require.NoError(t, err)
	c := ast.NewCompiler().WithEnablePrintStatements(true).WithCapabilities(caps)
	c.Compile(mods)
	require.Empty(t, c.Errors)
	in, err := ast.ValueFromReader(bytes.NewReader(input))
	require.NoError(t, err)
	query := func(q string) rego.ResultSet {
		rs, err := rego.New(rego.Query(q), rego.Compiler(c), rego.ParsedInput(in)).Eval(context.Background())
		require.NoError(t, err, q)
		return rs
	}
	var rules []string
	for _, name := range slices.Sorted(maps.Keys(mods)) {
		m := mods[name]
		if strings.TrimPrefix(m.Package.Path.String(), "data.") != ns {
			continue
		}
		for _, r := range m.Rules {
			n := r.Head.Name.String()
			if (conftestFailure.MatchString(n) || conftestWarning.MatchString(n)) && !slices.Contains(rules, n) {
				rules = append(rules, n)
			}
		}
	}
	require.NotEmpty(t, rules, "conftest finds no rule in namespace %s", ns)
	var out conftestResult
	for _, rule := range rules {
		short := rule
		if rule == "deny" || rule == "violation" || rule == "warn" {
			short = ""
		}
		for _, prefix := range []string{"violation_", "deny_", "warn_"} {
			short = strings.TrimPrefix(short, prefix)
		}
		if len(query(fmt.Sprintf("data.%s.exception[_][_] == %q", ns, short))) > 0 {
			out.exceptions++
			continue
		}
		for _, r := range query(fmt.Sprintf("data.%s.%s", ns, rule)) {
			for _, x := range r.Expressions {
				values, _ := x.Value.([]any)
				for _, v := range values {
					msg, ok := v.(string)
					if m, isMap := v.(map[string]any); isMap {
						msg, ok = m["msg"].(string)
					}
					require.True(t, ok, "conftest cannot read a finding of %s: %v", rule, v)
					if conftestFailure.MatchString(rule) {
						out.failures = append(out.failures, msg)
					} else {
						out.warnings = append(out.warnings, msg)
					}
				}
			}
		}
	}
	out.failures, out.warnings = sorted(out.failures), sorted(out.warnings)
	return out
}

func sorted(s []string) []string {
	if s == nil {
		return []string{}
	}
	return slices.Sorted(slices.Values(s))
}
