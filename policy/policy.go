package policy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"

	"github.com/guardrun/guardrun/pipeline"
)

// Package is the Rego package whose deny, warn and exception rules guardrun
// evaluates.
const Package = "guardrun.pipeline"

// query reads the normalized verdict and what exceptions waived.
const query = "violations := data.guardrun.pipeline.violations; waived := data.guardrun.pipeline.waived"

// Severities of a Violation.
const (
	SeverityDeny = "deny"
	SeverityWarn = "warn"
)

// forbiddenBuiltins reach the network or the host; the policy engine's
// capabilities do not contain them.
var forbiddenBuiltins = []string{"http.send", "net.lookup_ip_addr", "opa.runtime"}

// Options configure an Engine.
type Options struct {
	// Dirs are --policy directories: every *.rego file under them (not
	// *_test.rego) is compiled together with the built-in policy.
	Dirs []string
	// Strict makes warnings fail (Result.Err).
	Strict bool
}

// Host holds facts about this machine and the spec's files on it that the
// policy judges against. Zero values mean unknown; the rules that need them
// are skipped.
type Host struct {
	CPUs     int    `json:"cpus"`
	MemoryMB int64  `json:"memoryMB"`
	OS       string `json:"os"`
	// Resolved maps a stage name to the absolute, symlink-free path of its
	// processor: the program exec argv[0] runs, or the go package
	// directory. Evaluate fills in stages missing here (ResolveExec,
	// ResolveDir).
	Resolved map[string]string `json:"resolved,omitempty"`
	// RealInputs maps a stage name to the absolute, symlink-free path of
	// each of its inputs ("" when it does not exist yet). Evaluate fills in
	// stages missing here.
	RealInputs map[string][]string `json:"realInputs,omitempty"`
	// InputBytes maps a stage name to the total size of its inputs, when
	// known (it sharpens the checkpoint advice GR101).
	InputBytes map[string]int64 `json:"inputBytes,omitempty"`
}

// Violation is one finding of the policy.
type Violation struct {
	Rule     string `json:"rule"`
	Stage    string `json:"stage"` // empty for pipeline-wide findings
	Message  string `json:"message"`
	Severity string `json:"severity"` // "deny" | "warn"
}

func (v Violation) String() string {
	stage := v.Stage
	if stage == "" {
		stage = "(pipeline)"
	}
	return fmt.Sprintf("%s [%s] %s: %s", v.Severity, v.Rule, stage, v.Message)
}

// Result is the policy's verdict on one spec.
type Result struct {
	// Violations: denials first, then warnings; each in stage order, then
	// by rule id and message.
	Violations []Violation `json:"violations"`
	// Waived lists findings that an exception waived (for the audit log).
	Waived []Violation `json:"waived,omitempty"`
}

// Denied returns the violations with severity deny.
func (r *Result) Denied() []Violation { return r.bySeverity(SeverityDeny) }

// Warnings returns the violations with severity warn.
func (r *Result) Warnings() []Violation { return r.bySeverity(SeverityWarn) }

func (r *Result) bySeverity(sev string) []Violation {
	var out []Violation
	for _, v := range r.Violations {
		if v.Severity == sev {
			out = append(out, v)
		}
	}
	return out
}

// Failed reports whether the spec must not run: any denial, or with strict
// any warning.
func (r *Result) Failed(strict bool) bool {
	return len(r.Denied()) > 0 || (strict && len(r.Warnings()) > 0)
}

// Err returns a *ViolationError when Failed(strict), nil otherwise.
func (r *Result) Err(strict bool) error {
	if r.Failed(strict) {
		return &ViolationError{Result: r, Strict: strict}
	}
	return nil
}

// ErrPolicy is what a refused spec (*ViolationError) and a policy that
// cannot be used (*Error) are (errors.Is): the run must not start.
var ErrPolicy = errors.New("policy")

// ViolationError is a spec the policy refused. It is ErrPolicy.
type ViolationError struct {
	Result *Result
	Strict bool
}

// Is makes errors.Is(err, ErrPolicy) true.
func (e *ViolationError) Is(target error) bool { return target == ErrPolicy }

func (e *ViolationError) Error() string {
	var b strings.Builder
	deny, warn := len(e.Result.Denied()), len(e.Result.Warnings())
	fmt.Fprintf(&b, "policy refused the pipeline: %d denied, %d warnings", deny, warn)
	if e.Strict && warn > 0 {
		b.WriteString(" (warnings fail with --strict)")
	}
	for _, v := range e.Result.Violations {
		b.WriteString("\n  ")
		b.WriteString(v.String())
	}
	return b.String()
}

// Error is a policy that cannot be loaded, compiled or evaluated: a user
// module with a syntax error, a refused builtin, a rule conflict. It is
// ErrPolicy.
type Error struct {
	// File is the module at fault, when known.
	File string
	// Builtin names the refused builtin, for calls to one.
	Builtin string
	Err     error
}

// Is makes errors.Is(err, ErrPolicy) true.
func (e *Error) Is(target error) bool { return target == ErrPolicy }

func (e *Error) Error() string { return "policy: " + e.Err.Error() }

func (e *Error) Unwrap() error { return e.Err }

// Engine is a compiled policy, ready to evaluate specs. It is safe for
// concurrent use; build one per process.
type Engine struct {
	opts     Options
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
func New(ctx context.Context, opts Options) (*Engine, error) {
	mods, err := loadModules(opts.Dirs, false)
	if err != nil {
		return nil, err
	}
	caps := Capabilities()
	regoOpts := []func(*rego.Rego){
		rego.Query(query),
		rego.Capabilities(caps),
		rego.StrictBuiltinErrors(true),
		rego.SetRegoVersion(ast.RegoV1),
	}
	for _, name := range sortedKeys(mods) {
		regoOpts = append(regoOpts, rego.ParsedModule(mods[name]))
	}
	pq, err := rego.New(regoOpts...).PrepareForEval(ctx)
	if err != nil {
		return nil, compileError(err)
	}
	return &Engine{opts: opts, prepared: pq, modules: mods}, nil
}

// Options returns the options the engine was built with.
func (e *Engine) Options() Options { return e.opts }

// Modules lists the file names of the compiled modules, built-in first.
func (e *Engine) Modules() []string {
	names := sortedKeys(e.modules)
	sort.SliceStable(names, func(i, j int) bool {
		return strings.HasPrefix(names[i], builtinPrefix) && !strings.HasPrefix(names[j], builtinPrefix)
	})
	return names
}

// Input builds the policy's input document for a spec on a host, filling
// in host.Resolved and host.RealInputs for stages they leave out. It only
// reads the file system (stat, readlink).
func Input(p *pipeline.Pipeline, host Host) map[string]any {
	resolved := maps.Clone(host.Resolved)
	if resolved == nil {
		resolved = map[string]string{}
	}
	real := maps.Clone(host.RealInputs)
	if real == nil {
		real = map[string][]string{}
	}
	r := newResolver()
	for _, s := range p.Stages {
		if _, ok := resolved[s.Name]; !ok {
			var path string
			switch {
			case len(s.Processor.Exec) > 0:
				path = r.exec(p.Workspace, s.Processor.Exec[0])
			case s.Processor.Go != "":
				path = r.path(p.Workspace, s.Processor.Go)
			}
			if path != "" {
				resolved[s.Name] = path
			}
		}
		if _, ok := real[s.Name]; !ok && len(s.Inputs) > 0 {
			paths := make([]string, len(s.Inputs))
			for i, in := range s.Inputs {
				paths[i] = r.path(p.Workspace, in)
			}
			real[s.Name] = paths
		}
	}
	host.Resolved, host.RealInputs = resolved, real
	return map[string]any{"pipeline": p, "host": host}
}

// Evaluate judges a resolved spec. The error is only about evaluation
// itself; a refused spec is a Result with Failed(strict) true.
func (e *Engine) Evaluate(ctx context.Context, p *pipeline.Pipeline, host Host) (*Result, error) {
	if p == nil {
		return nil, &Error{Err: fmt.Errorf("evaluating policy: no pipeline")}
	}
	value, err := toValue(Input(p, host))
	if err != nil {
		return nil, &Error{Err: fmt.Errorf("encoding policy input: %w", err)}
	}
	rs, err := e.prepared.Eval(ctx, rego.EvalParsedInput(value))
	if err != nil {
		return nil, &Error{Err: fmt.Errorf("evaluating policy: %w", err)}
	}
	if len(rs) != 1 {
		return nil, &Error{Err: fmt.Errorf("evaluating policy: %d results, want 1", len(rs))}
	}
	res := &Result{}
	if res.Violations, err = decodeViolations(rs[0].Bindings["violations"], ""); err != nil {
		return nil, err
	}
	if res.Waived, err = decodeViolations(rs[0].Bindings["waived"], "waived"); err != nil {
		return nil, err
	}
	order := map[string]int{}
	for i, s := range p.Stages {
		order[s.Name] = i + 1
	}
	sortViolations(res.Violations, order)
	sortViolations(res.Waived, order)
	return res, nil
}

func toValue(x any) (ast.Value, error) {
	b, err := json.Marshal(x)
	if err != nil {
		return nil, err
	}
	return ast.ValueFromReader(bytes.NewReader(b))
}

func decodeViolations(x any, severity string) ([]Violation, error) {
	items, ok := x.([]any)
	if !ok {
		return nil, &Error{Err: fmt.Errorf("evaluating policy: result is %T, want a set", x)}
	}
	out := make([]Violation, 0, len(items))
	for _, it := range items {
		m, ok := it.(map[string]any)
		if !ok {
			return nil, &Error{Err: fmt.Errorf("evaluating policy: violation is %T, want an object", it)}
		}
		v := Violation{
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

func sortViolations(vs []Violation, stageOrder map[string]int) {
	sev := func(s string) int {
		if s == SeverityDeny {
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
	for name, src := range BuiltinModules() {
		m, err := parse(name, src)
		if err != nil {
			return nil, err
		}
		mods[name] = m
	}
	for _, dir := range dirs {
		files, err := regoFiles(dir, withTests)
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			src, err := os.ReadFile(f)
			if err != nil {
				return nil, &Error{File: f, Err: fmt.Errorf("reading policy module: %w", err)}
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

func regoFiles(dir string, withTests bool) ([]string, error) {
	info, err := os.Stat(dir)
	if err != nil {
		return nil, &Error{File: dir, Err: fmt.Errorf("reading policy directory: %w", err)}
	}
	if !info.IsDir() {
		return nil, &Error{File: dir, Err: fmt.Errorf("reading policy directory: %s is not a directory", dir)}
	}
	var files []string
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != dir && strings.HasPrefix(d.Name(), ".") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(d.Name(), ".rego") {
			return nil
		}
		if !withTests && strings.HasSuffix(d.Name(), "_test.rego") {
			return nil
		}
		files = append(files, filepath.Clean(path))
		return nil
	})
	if err != nil {
		return nil, &Error{File: dir, Err: fmt.Errorf("reading policy directory: %w", err)}
	}
	if len(files) == 0 {
		return nil, &Error{File: dir, Err: fmt.Errorf("policy directory %s holds no .rego modules", dir)}
	}
	sort.Strings(files)
	return files, nil
}

func parse(name, src string) (*ast.Module, error) {
	m, err := ast.ParseModuleWithOpts(name, src, ast.ParserOptions{RegoVersion: ast.RegoV1})
	if err != nil {
		return nil, &Error{File: name, Err: fmt.Errorf("parsing %s (Rego v1 syntax): %w", name, err)}
	}
	if m == nil {
		return nil, &Error{File: name, Err: fmt.Errorf("parsing %s: empty module", name)}
	}
	return m, nil
}

// verdictRules are the rule names guardrun reads from package
// guardrun.pipeline; elsewhere they would be silently ignored.
var verdictRules = []string{"deny", "warn", "exception"}

// checkUserModule refuses calls to builtins outside the capabilities with a
// message naming them, and verdict rules in a package guardrun never reads.
func checkUserModule(file string, m *ast.Module) error {
	var found *Error
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
			found = &Error{File: file, Builtin: name, Err: fmt.Errorf(
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
	if pkg == Package || pkg == "guardrun.config" {
		return nil
	}
	for _, r := range m.Rules {
		name := r.Head.Name.String()
		if len(r.Head.Reference) > 0 {
			name = r.Head.Reference[0].String()
		}
		if slices.Contains(verdictRules, name) {
			return &Error{File: file, Err: fmt.Errorf(
				"%s defines %q in package %s, which guardrun never reads: declare `package %s`",
				where(file, r.Location), name, pkg, Package)}
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
	var errs ast.Errors
	if e, ok := err.(ast.Errors); ok {
		errs = e
	}
	for _, e := range errs {
		for _, b := range forbiddenBuiltins {
			if strings.Contains(e.Message, "undefined function "+b) || strings.Contains(e.Message, "undefined ref: "+b) {
				file := ""
				if e.Location != nil {
					file = e.Location.File
				}
				return &Error{File: file, Builtin: b, Err: fmt.Errorf(
					"%s calls %s, which guardrun's policy engine does not provide: policies are evaluated without network or host access",
					where(file, e.Location), b)}
			}
		}
	}
	file := ""
	if len(errs) > 0 && errs[0].Location != nil {
		file = errs[0].Location.File
	}
	return &Error{File: file, Err: fmt.Errorf("compiling policy: %w", err)}
}
