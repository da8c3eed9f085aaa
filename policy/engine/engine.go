package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"slices"
	"sort"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"

	"github.com/guardrun/guardrun/pipeline"
	"github.com/guardrun/guardrun/policy"
)

// query reads the normalized verdict and what exceptions waived.
const query = "violations := data.guardrun.pipeline.violations; waived := data.guardrun.pipeline.waived"

// forbiddenBuiltins reach the network or the host; the policy engine's
// capabilities do not contain them.
var forbiddenBuiltins = []string{"http.send", "net.lookup_ip_addr", "opa.runtime"}

// Engine is a compiled policy, ready to evaluate specs. It is safe for
// concurrent use; build one per process.
type Engine struct {
	opts     policy.Options
	prepared rego.PreparedEvalQuery
	modules  map[string]*ast.Module
}

// Capabilities returns what policies may use: this OPA's builtins minus the
// ones that reach the network or the host (http.send, net.lookup_ip_addr,
// opa.runtime), with AllowNet empty so that nothing (not even a JSON schema
// reference) is fetched.
func Capabilities() *ast.Capabilities {
	c := ast.CapabilitiesForThisVersion()
	c.Builtins = slices.DeleteFunc(slices.Clone(c.Builtins), func(b *ast.Builtin) bool {
		return slices.Contains(forbiddenBuiltins, b.Name)
	})
	c.AllowNet = []string{}
	return c
}

// New compiles the built-in policy together with the modules under
// opts.Dirs. Compilation happens once; Evaluate only evaluates.
func New(ctx context.Context, opts policy.Options) (*Engine, error) {
	mods, err := loadModules(opts.Dirs, false)
	if err != nil {
		return nil, err
	}
	caps := Capabilities()
	schemas, err := inputSchemas()
	if err != nil {
		return nil, err
	}
	regoOpts := []func(*rego.Rego){
		rego.Query(query),
		rego.Capabilities(caps),
		rego.Schemas(schemas),
		rego.StrictBuiltinErrors(true),
		rego.SetRegoVersion(ast.RegoV1),
	}
	for _, name := range slices.Sorted(maps.Keys(mods)) {
		regoOpts = append(regoOpts, rego.ParsedModule(mods[name]))
	}
	pq, err := rego.New(regoOpts...).PrepareForEval(ctx)
	if err != nil {
		return nil, compileError(err)
	}
	return &Engine{opts: opts, prepared: pq, modules: mods}, nil
}

// Options returns the options the engine was built with.
func (e *Engine) Options() policy.Options { return e.opts }

// Modules lists the file names of the compiled modules, built-in first.
func (e *Engine) Modules() []string {
	names := slices.Sorted(maps.Keys(e.modules))
	sort.SliceStable(names, func(i, j int) bool {
		return strings.HasPrefix(names[i], policy.BuiltinPrefix) && !strings.HasPrefix(names[j], policy.BuiltinPrefix)
	})
	return names
}

// Evaluate judges a resolved spec. The error is only about evaluation
// itself; a refused spec is a Result with Failed(strict) true.
func (e *Engine) Evaluate(ctx context.Context, p *pipeline.Pipeline, host policy.Host) (*policy.Result, error) {
	if p == nil {
		return nil, &policy.Error{Err: fmt.Errorf("evaluating policy: no pipeline")}
	}
	in, err := policy.InputJSON(p, host)
	if err != nil {
		return nil, err
	}
	return e.EvaluateInput(ctx, in)
}

// EvaluateInput judges an input document as policy.InputJSON encodes it:
// what guardrun-guard receives from guardrun, so that the verdict is about
// exactly the document guardrun fingerprinted.
func (e *Engine) EvaluateInput(ctx context.Context, input []byte) (*policy.Result, error) {
	var doc struct {
		Pipeline struct {
			Stages []struct {
				Name string `json:"name"`
			} `json:"stages"`
		} `json:"pipeline"`
	}
	if err := json.Unmarshal(input, &doc); err != nil {
		return nil, &policy.Error{Err: fmt.Errorf("decoding policy input: %w", err)}
	}
	value, err := ast.ValueFromReader(bytes.NewReader(input))
	if err != nil {
		return nil, &policy.Error{Err: fmt.Errorf("decoding policy input: %w", err)}
	}
	rs, err := e.prepared.Eval(ctx, rego.EvalParsedInput(value))
	if err != nil {
		return nil, &policy.Error{Err: fmt.Errorf("evaluating policy: %w", err)}
	}
	if len(rs) != 1 {
		return nil, &policy.Error{Err: fmt.Errorf("evaluating policy: %d results, want 1", len(rs))}
	}
	res := &policy.Result{}
	if res.Violations, err = decodeViolations(rs[0].Bindings["violations"], ""); err != nil {
		return nil, err
	}
	if res.Waived, err = decodeViolations(rs[0].Bindings["waived"], "waived"); err != nil {
		return nil, err
	}
	order := map[string]int{}
	for i, s := range doc.Pipeline.Stages {
		order[s.Name] = i + 1
	}
	sortViolations(res.Violations, order)
	sortViolations(res.Waived, order)
	return res, nil
}

func decodeViolations(x any, severity string) ([]policy.Violation, error) {
	items, ok := x.([]any)
	if !ok {
		return nil, &policy.Error{Err: fmt.Errorf("evaluating policy: result is %T, want a set", x)}
	}
	out := make([]policy.Violation, 0, len(items))
	for _, it := range items {
		m, ok := it.(map[string]any)
		if !ok {
			return nil, &policy.Error{Err: fmt.Errorf("evaluating policy: violation is %T, want an object", it)}
		}
		v := policy.Violation{
			Rule:     str(m["rule"]),
			Stage:    str(m["stage"]),
			Message:  str(m["msg"]),
			Severity: str(m["severity"]),
		}
		if severity != "" {
			v.Severity = severity
		}
		out = append(out, v)
	}
	return out, nil
}

func str(x any) string {
	if s, ok := x.(string); ok {
		return s
	}
	if x == nil {
		return ""
	}
	return fmt.Sprint(x)
}

func sortViolations(vs []policy.Violation, stageOrder map[string]int) {
	sev := func(s string) int {
		if s == policy.SeverityDeny {
			return 0
		}
		return 1
	}
	sort.SliceStable(vs, func(i, j int) bool {
		a, b := vs[i], vs[j]
		if sev(a.Severity) != sev(b.Severity) {
			return sev(a.Severity) < sev(b.Severity)
		}
		if stageOrder[a.Stage] != stageOrder[b.Stage] {
			return stageOrder[a.Stage] < stageOrder[b.Stage]
		}
		if a.Rule != b.Rule {
			return a.Rule < b.Rule
		}
		return a.Message < b.Message
	})
}

// ---------------------------------------------------------------------------
// Loading modules.

// loadModules parses the built-in modules and every *.rego under dirs
// (with tests only when withTests).
func loadModules(dirs []string, withTests bool) (map[string]*ast.Module, error) {
	mods := map[string]*ast.Module{}
	for name, src := range policy.BuiltinModules() {
		m, err := parse(name, src)
		if err != nil {
			return nil, err
		}
		mods[name] = m
	}
	for _, dir := range dirs {
		files, err := policy.ModuleFiles(dir, withTests)
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			src, err := os.ReadFile(f)
			if err != nil {
				return nil, &policy.Error{File: f, Err: fmt.Errorf("reading policy module: %w", err)}
			}
			m, err := parse(f, string(src))
			if err != nil {
				return nil, err
			}
			if err := checkUserModule(f, m); err != nil {
				return nil, err
			}
			if _, dup := mods[f]; dup {
				continue // the same file named twice
			}
			mods[f] = m
		}
	}
	return mods, nil
}

func parse(name, src string) (*ast.Module, error) {
	m, err := ast.ParseModuleWithOpts(name, src, ast.ParserOptions{RegoVersion: ast.RegoV1})
	if err != nil {
		return nil, &policy.Error{File: name, Err: fmt.Errorf("parsing %s (Rego v1 syntax): %w", name, err)}
	}
	if m == nil {
		return nil, &policy.Error{File: name, Err: fmt.Errorf("parsing %s: empty module", name)}
	}
	return m, nil
}

// verdictRules are the rule names guardrun reads from package
// guardrun.pipeline; elsewhere they would be silently ignored.
var verdictRules = []string{"deny", "warn", "exception"}

// checkUserModule refuses calls to builtins outside the capabilities with a
// message naming them, and verdict rules in a package guardrun never reads.
func checkUserModule(file string, m *ast.Module) error {
	var found *policy.Error
	ast.NewGenericVisitor(func(x any) bool {
		if found != nil {
			return true
		}
		var op ast.Ref
		var loc *ast.Location
		switch x := x.(type) {
		case *ast.Expr:
			if x.IsCall() {
				op, loc = x.Operator(), x.Location
			}
		case *ast.Term:
			if call, ok := x.Value.(ast.Call); ok && len(call) > 0 {
				op, _ = call[0].Value.(ast.Ref)
				loc = x.Location
			}
		}
		if op == nil {
			return false
		}
		if name := op.String(); slices.Contains(forbiddenBuiltins, name) {
			found = &policy.Error{File: file, Builtin: name, Err: fmt.Errorf(
				"%s calls %s, which guardrun's policy engine does not provide: policies are evaluated without network or host access (refused builtins: %s)",
				where(file, loc), name, strings.Join(forbiddenBuiltins, ", "))}
			return true
		}
		return false
	}).Walk(m)
	if found != nil {
		return found
	}
	pkg := strings.TrimPrefix(m.Package.Path.String(), "data.")
	if pkg == policy.Package || pkg == "guardrun.config" {
		return nil
	}
	for _, r := range m.Rules {
		name := r.Head.Name.String()
		if len(r.Head.Reference) > 0 {
			name = r.Head.Reference[0].String()
		}
		if slices.Contains(verdictRules, name) {
			return &policy.Error{File: file, Err: fmt.Errorf(
				"%s defines %q in package %s, which guardrun never reads: declare `package %s`",
				where(file, r.Location), name, pkg, policy.Package)}
		}
	}
	return nil
}

func where(file string, loc *ast.Location) string {
	if loc != nil && loc.Row > 0 {
		return fmt.Sprintf("%s:%d", file, loc.Row)
	}
	return file
}

// compileError turns OPA's compile errors into an *Error, naming a refused
// builtin when the compiler tripped over one (e.g. inside a test module).
func compileError(err error) error {
	errs := asErrors(err)
	for _, e := range errs {
		for _, b := range forbiddenBuiltins {
			if strings.Contains(e.Message, "undefined function "+b) || strings.Contains(e.Message, "undefined ref: "+b) {
				file := ""
				if e.Location != nil {
					file = e.Location.File
				}
				return &policy.Error{File: file, Builtin: b, Err: fmt.Errorf(
					"%s calls %s, which guardrun's policy engine does not provide: policies are evaluated without network or host access",
					where(file, e.Location), b)}
			}
		}
	}
	if err := schemaError(errs); err != nil {
		return err
	}
	file := ""
	if len(errs) > 0 && errs[0].Location != nil {
		file = errs[0].Location.File
	}
	return &policy.Error{File: file, Err: fmt.Errorf("compiling policy: %w", err)}
}
