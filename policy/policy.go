package policy

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/guardrun/guardrun/internal/execpath"
	"github.com/guardrun/guardrun/pipeline"
)

// Package is the Rego package whose deny, warn and exception rules guardrun
// evaluates.
const Package = "guardrun.pipeline"

// Severities of a Violation.
const (
	SeverityDeny = "deny"
	SeverityWarn = "warn"
)

// Options select the policy: the --policy directories and --strict. They
// are part of a verdict's fingerprint.
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
	// Interpreters maps an exec stage whose argv[0] is a script to the
	// "#!" interpreters the kernel runs for it (execpath.Program's
	// Interpreters, resolved with the stage's PATH), each judged like the
	// processor (GR001). Input fills in stages missing here.
	Interpreters map[string][]execpath.Interpreter `json:"interpreters,omitempty"`
	// RealInputs maps a stage name to the absolute, symlink-free path of
	// each of its inputs ("" when it does not exist yet, and for an input
	// another stage declares as its output). Evaluate fills in stages
	// missing here.
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
	// Identical findings of many stages are one line each (GroupViolations);
	// Result.Violations keeps every one of them.
	for _, line := range FormatViolations(e.Result.Violations) {
		b.WriteString("\n  ")
		b.WriteString(line)
	}
	if paths := allowHints(e.Result.Violations); len(paths) > 0 {
		// Most newcomers meet the policy here: say how to allow, in full.
		b.WriteString("\n  to allow them: a directory with a .rego file holding\n      package guardrun.config\n")
		for _, p := range paths {
			fmt.Fprintf(&b, "      allowed_outside_paths contains %q\n", p)
		}
		b.WriteString("    and --policy DIR on check, plan and run (README, \"Policy\")")
	}
	return b.String()
}

// allowMsg is how a denial names the path it would take to allow it
// (compiled on first use: start-up compiles no regexp).
var allowMsg = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`allow ("(?:[^"\\]|\\.)*") in data\.guardrun\.config\.allowed_outside_paths`)
})

// allowHints are the distinct paths (at most 5) denied findings would have
// allowed_outside_paths allow, in the order first met.
func allowHints(vs []Violation) []string {
	var paths []string
	seen := map[string]bool{}
	for _, v := range vs {
		if v.Severity != SeverityDeny {
			continue
		}
		m := allowMsg().FindStringSubmatch(v.Message)
		if m == nil {
			continue
		}
		p, err := strconv.Unquote(m[1])
		if err != nil || seen[p] {
			continue
		}
		seen[p] = true
		if paths = append(paths, p); len(paths) == 5 {
			break
		}
	}
	return paths
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
	interps := maps.Clone(host.Interpreters)
	if interps == nil {
		interps = map[string][]execpath.Interpreter{}
	}
	// An input that another stage declares as its output is guardrun's own
	// product, promoted as a regular file beneath an outputDir the loader
	// checked: it is judged by its name, as before the run that creates it
	// (realInputs ""), so that the run after that run finds the same
	// document, and its verdict in the cache, instead of a new one.
	produced := map[string]bool{}
	for _, s := range p.Stages {
		for _, o := range s.Outputs {
			produced[path.Join(s.OutputDir, o)] = true
		}
	}
	r := newResolver()
	for _, s := range p.Stages {
		_, haveProg := resolved[s.Name]
		_, haveInterps := interps[s.Name]
		switch {
		case len(s.Processor.Exec) > 0 && (!haveProg || !haveInterps):
			// The runner runs prog.Path through prog.Interpreters.
			prog := r.program(p.Workspace, &s)
			if !haveProg && prog.Real != "" {
				resolved[s.Name] = prog.Real
			}
			if !haveInterps && len(prog.Interpreters) > 0 {
				interps[s.Name] = prog.Interpreters
			}
		case s.Processor.Go != "" && !haveProg:
			if path := r.path(p.Workspace, s.Processor.Go); path != "" {
				resolved[s.Name] = path
			}
		}
		if _, ok := real[s.Name]; !ok && len(s.Inputs) > 0 {
			paths := make([]string, len(s.Inputs))
			for i, in := range s.Inputs {
				if !produced[in] {
					paths[i] = r.path(p.Workspace, in)
				}
			}
			real[s.Name] = paths
		}
	}
	host.Resolved, host.RealInputs, host.Interpreters = resolved, real, interps
	return map[string]any{"pipeline": p, "host": host}
}

// InputJSON is Input encoded as JSON: the document Fingerprint hashes and
// guardrun-guard evaluates.
func InputJSON(p *pipeline.Pipeline, host Host) ([]byte, error) {
	if p == nil {
		return nil, &Error{Err: errors.New("encoding policy input: no pipeline")}
	}
	b, err := json.Marshal(Input(p, host))
	if err != nil {
		return nil, &Error{Err: fmt.Errorf("encoding policy input: %w", err)}
	}
	return b, nil
}

// ModuleFiles lists the Rego modules of a --policy directory: every *.rego
// under dir (recursively, hidden directories skipped), *_test.rego only
// when withTests, sorted.
func ModuleFiles(dir string, withTests bool) ([]string, error) {
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
