package engine

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/cover"
	"github.com/open-policy-agent/opa/v1/tester"
)

// TestReport is the outcome of the Rego unit tests (test_* rules).
type TestReport struct {
	Passed   int
	Failed   []string // "file:row test_name: why"
	Skipped  int
	Coverage float64 // percent of policy lines (not test lines) covered
	// NotCovered lists "file:row-row" ranges of policy lines no test reached.
	NotCovered []string
}

// OK reports whether at least one test ran and none failed.
func (r *TestReport) OK() bool { return r.Passed > 0 && len(r.Failed) == 0 }

// Test runs the Rego unit tests in dirs (every *.rego, tests included)
// against the built-in policy plus the modules in dirs, under the same
// no-network capabilities and input schema as New (a module that names a
// path the input does not have is an error here too), and reports Rego
// coverage of the non-test modules. This is `opa test --coverage` for a
// --policy directory.
func Test(ctx context.Context, dirs []string) (*TestReport, error) {
	mods, err := loadModules(dirs, true)
	if err != nil {
		return nil, err
	}
	return runTests(ctx, mods)
}

func runTests(ctx context.Context, mods map[string]*ast.Module) (*TestReport, error) {
	schemas, err := inputSchemas()
	if err != nil {
		return nil, err
	}
	cov := cover.New()
	compiler := ast.NewCompiler().
		WithCapabilities(Capabilities()).
		WithSchemas(schemas).
		WithEnablePrintStatements(true).
		WithDefaultRegoVersion(ast.RegoV1)
	runner := tester.NewRunner().
		SetCompiler(compiler).
		SetDefaultRegoVersion(ast.RegoV1).
		CapturePrintOutput(true).
		RaiseBuiltinErrors(true).
		SetCoverageQueryTracer(cov).
		SetCoverageRuns(nil).
		SetModules(mods).
		SetTimeout(30 * time.Second)
	ch, err := runner.RunTests(ctx, nil)
	if err != nil {
		return nil, compileError(err)
	}
	rep := &TestReport{}
	for res := range ch {
		switch {
		case res.Skip:
			rep.Skipped++
		case res.Fail || res.Error != nil:
			why := "failed"
			if res.Error != nil {
				why = res.Error.Error()
			} else if res.FailedAt != nil {
				why = fmt.Sprintf("failed at %s: %s", res.FailedAt.Location, res.FailedAt)
			}
			if len(res.Output) > 0 {
				why += "\n" + strings.TrimSpace(string(res.Output))
			}
			rep.Failed = append(rep.Failed, fmt.Sprintf("%s %s: %s", res.Location, res.Name, why))
		default:
			rep.Passed++
		}
	}
	sort.Strings(rep.Failed)

	policyMods := map[string]*ast.Module{}
	for name, m := range mods {
		if !strings.HasSuffix(name, "_test.rego") {
			policyMods[name] = m
		}
	}
	// cover counts every traced file; count only the policy's own lines.
	report := cov.Report(policyMods)
	var covered, notCovered int
	for _, file := range slices.Sorted(maps.Keys(policyMods)) {
		fr := report.Files[file]
		if fr == nil {
			continue
		}
		covered += fr.CoveredLines
		notCovered += fr.NotCoveredLines
		for _, r := range fr.NotCovered {
			rep.NotCovered = append(rep.NotCovered, fmt.Sprintf("%s:%d-%d", file, r.Start.Row, r.End.Row))
		}
	}
	if covered+notCovered > 0 {
		rep.Coverage = 100 * float64(covered) / float64(covered+notCovered)
	}
	return rep, nil
}
