package engine

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/format"
	"github.com/stretchr/testify/require"

	"github.com/guardrun/guardrun/policy"
)

// These tests keep the policy loadable by the OPA tools users run it with
// (docs/POLICY.md, "With conftest and opa"), without needing them at test
// time: `opa fmt` leaves every file as it is, `opa check --strict` passes
// under this OPA and under the capabilities of the OPA that conftest
// bundles, and the input schema type-checks every module.

// conftestOPA is the OPA release bundled with the conftest the policy is
// kept compatible with: conftest v0.71.0 bundles OPA v1.21.0, v0.71.1
// bundles v1.21.1; the older one's capabilities (the builtins and language
// features it has) are embedded in OPA.
const conftestOPA = "v1.21.0"

// regoFiles reads policy/*.rego, tests included.
func regoFiles(t *testing.T) map[string]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(regoDir, "*.rego"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	out := map[string]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		out[policy.BuiltinPrefix+filepath.Base(f)] = string(b)
	}
	return out
}

// `opa fmt --fail policy/` finds nothing to change.
func TestRegoIsFormatted(t *testing.T) {
	for name, src := range regoFiles(t) {
		t.Run(name, func(t *testing.T) {
			got, err := formatRego(name, src)
			require.NoError(t, err)
			require.Equal(t, src, got, "%s is not formatted as `opa fmt` formats it: run `opa fmt -w %s`", name, name)
		})
	}
}

// formatRego formats as `opa fmt` does by default (Rego v1).
func formatRego(name, src string) (string, error) {
	b, err := format.SourceWithOpts(name, []byte(src), format.Opts{RegoVersion: ast.RegoV1})
	return string(b), err
}

// The check the test above relies on sees a difference.
func TestFormatRegoSeesUnformattedSource(t *testing.T) {
	for _, src := range []string{
		"package p\n\nx := 1 \n",
		"package p\nx := 1\n",
		"package p\n\nallow if {\n    true\n}\n",
	} {
		got, err := formatRego("x.rego", src)
		require.NoError(t, err)
		require.NotEqual(t, src, got)
	}
}

// `opa check --strict` of policy/ (tests included), with the input schema
// (`-s policy/schema/input.json`), under this OPA's capabilities, under
// guardrun's (no network builtins) and under those of the OPA conftest
// bundles.
func TestRegoChecksStrict(t *testing.T) {
	conftestCaps, err := ast.LoadCapabilitiesVersion(conftestOPA)
	require.NoError(t, err, "OPA %s ships no capabilities for %s", ast.CapabilitiesForThisVersion().Features, conftestOPA)
	schemas, err := inputSchemas()
	require.NoError(t, err)
	for _, tc := range []struct {
		name string
		caps *ast.Capabilities
	}{
		{"this OPA", ast.CapabilitiesForThisVersion()},
		{"guardrun", Capabilities()},
		{"conftest's OPA " + conftestOPA, conftestCaps},
	} {
		t.Run(tc.name, func(t *testing.T) {
			errs := checkStrict(regoFiles(t), tc.caps, schemas)
			require.Empty(t, errs, "opa check --strict -s %s policy/ fails", "policy/schema/input.json")
		})
	}
}

// checkStrict parses and compiles modules as `opa check --strict` does.
func checkStrict(srcs map[string]string, caps *ast.Capabilities, schemas *ast.SchemaSet) ast.Errors {
	mods := map[string]*ast.Module{}
	var errs ast.Errors
	for _, name := range slices.Sorted(maps.Keys(srcs)) {
		m, err := ast.ParseModuleWithOpts(name, srcs[name], ast.ParserOptions{
			RegoVersion:       ast.RegoV1,
			Capabilities:      caps,
			ProcessAnnotation: true,
		})
		if err != nil {
			errs = append(errs, asErrors(err)...)
			continue
		}
		mods[name] = m
	}
	if len(errs) > 0 {
		return errs
	}
	c := ast.NewCompiler().
		WithCapabilities(caps).
		WithSchemas(schemas).
		WithStrict(true).
		WithEnablePrintStatements(true).
		WithDefaultRegoVersion(ast.RegoV1)
	c.Compile(mods)
	return c.Errors
}

// The strict check fails on what `opa check --strict` refuses: an unused
// import, an unused local variable, a builtin the capabilities lack, a path
// the input schema does not have.
func TestCheckStrictFailsOnStrictErrors(t *testing.T) {
	schemas, err := inputSchemas()
	require.NoError(t, err)
	noSplit := ast.CapabilitiesForThisVersion()
	noSplit.Builtins = slices.DeleteFunc(slices.Clone(noSplit.Builtins), func(b *ast.Builtin) bool { return b.Name == "split" })
	for _, tc := range []struct {
		name string
		src  string
		caps *ast.Capabilities
		want string
	}{
		{"unused import", "package p\n\nimport data.q\n\nx := 1\n", nil, "import data.q unused"},
		{"unused local", "package p\n\nx if {\n\ty := 1\n\ttrue\n}\n", nil, "assigned var y unused"},
		{"missing builtin", "package p\n\nx := split(\"a/b\", \"/\")\n", noSplit, "undefined function split"},
		{"schema", "package p\n\nx := input.stages\n", nil, "undefined ref: input.stages"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			caps := tc.caps
			if caps == nil {
				caps = ast.CapabilitiesForThisVersion()
			}
			errs := checkStrict(map[string]string{"p.rego": tc.src}, caps, schemas)
			require.NotEmpty(t, errs)
			require.Contains(t, errs.Error(), tc.want)
		})
	}
}

// Every rule conftest would query in package guardrun.pipeline (a name
// starting with deny, violation or warn) is a set of findings with a "msg",
// not a function: conftest queries each by its name, and querying a
// function is an error.
func TestConftestRuleNames(t *testing.T) {
	for name, src := range regoFiles(t) {
		if strings.HasSuffix(name, "_test.rego") {
			continue
		}
		m, err := parse(name, src)
		require.NoError(t, err)
		for _, r := range m.Rules {
			n := r.Head.Name.String()
			if len(r.Head.Reference) > 0 {
				n = r.Head.Reference[0].String()
			}
			if !conftestRule(n) {
				continue
			}
			require.Empty(t, r.Head.Args, "%s:%d: %s is a function, which conftest cannot query; rename it", name, r.Location.Row, n)
			require.True(t, r.Head.RuleKind() == ast.MultiValue, "%s:%d: %s must be a partial set (`%s contains ...`) for conftest", name, r.Location.Row, n, n)
		}
	}
}

// conftestRule is conftest's test for a rule it queries (failureRegex and
// warningRegex of conftest's policy package).
func conftestRule(name string) bool {
	for _, prefix := range []string{"deny", "violation", "warn"} {
		if rest, ok := strings.CutPrefix(name, prefix); ok && (rest == "" || strings.HasPrefix(rest, "_")) {
			return true
		}
	}
	return false
}

// The policy never iterates a collection that is empty as written
// (`some x in set()`, `x in []`, `set()[_]`): OPA before v1.22, the one
// conftest v0.71 bundles included, refuses that as an undefined ref, and a
// capabilities check cannot tell (the construct is in every version's
// grammar).
func TestRegoIteratesNoEmptyLiteral(t *testing.T) {
	for name, src := range regoFiles(t) {
		m, err := parse(name, src)
		require.NoError(t, err)
		for _, row := range emptyIterations(m) {
			t.Errorf("%s:%d iterates a collection that is empty as written, which OPA before v1.22 (conftest's) refuses: leave the rule undefined instead", name, row)
		}
	}
}

func TestEmptyIterationsFindsThem(t *testing.T) {
	for _, src := range []string{
		"package p\n\nx contains y if {\n\tsome y in set()\n}\n",
		"package p\n\nx contains y if {\n\tsome k, y in []\n}\n",
		"package p\n\nx if {\n\t1 in set()\n}\n",
		"package p\n\nx contains y if {\n\ty := set()[_]\n}\n",
		"package p\n\nx if {\n\tevery y in [] {\n\t\ty > 1\n\t}\n}\n",
	} {
		m, err := parse("p.rego", src)
		require.NoError(t, err)
		require.NotEmpty(t, emptyIterations(m), "%s", src)
	}
	m, err := parse("p.rego", "package p\n\nx contains y if {\n\tsome y in {1}\n\tobject.get(input, \"a\", {}) == {}\n}\n")
	require.NoError(t, err)
	require.Empty(t, emptyIterations(m))
}

// emptyIterations lists the rows where m iterates an empty literal.
func emptyIterations(m *ast.Module) []int {
	var rows []int
	empty := func(t *ast.Term) bool {
		switch v := t.Value.(type) {
		case ast.Set:
			return v.Len() == 0
		case *ast.Array:
			return v.Len() == 0
		case ast.Object:
			return v.Len() == 0
		}
		return false
	}
	member := func(op ast.Ref, args []*ast.Term) bool {
		name := op.String()
		return (name == ast.Member.Name || name == ast.MemberWithKey.Name) && len(args) > 0 && empty(args[len(args)-1])
	}
	ast.NewGenericVisitor(func(x any) bool {
		switch x := x.(type) {
		case *ast.Expr:
			if x.IsCall() && member(x.Operator(), x.Operands()) {
				rows = append(rows, x.Location.Row)
			}
		case *ast.Term:
			switch v := x.Value.(type) {
			case ast.Call:
				if op, ok := v[0].Value.(ast.Ref); ok && member(op, v[1:]) {
					rows = append(rows, x.Location.Row)
				}
			case ast.Ref:
				if empty(v[0]) {
					rows = append(rows, x.Location.Row)
				}
			}
		case *ast.Every:
			if empty(x.Domain) {
				rows = append(rows, x.Location.Row)
			}
		}
		return false
	}).Walk(m)
	return rows
}
