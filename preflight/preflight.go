package preflight

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/guardrun/guardrun/analyzers/lint"
	"github.com/guardrun/guardrun/internal/atomicfile"
	"github.com/guardrun/guardrun/internal/runstate"
	"github.com/guardrun/guardrun/pipeline"
	"github.com/guardrun/guardrun/policy"
	"github.com/guardrun/guardrun/runner"
	"github.com/guardrun/guardrun/sandbox"
)

// A Guard computes the verdicts preflight cannot take from its cache: the
// policy's (OPA) and netlint's (go/analysis). ProcessGuard asks
// guardrun-guard; preflight/guard.Local computes them in this process (for
// tests and for programs that link OPA anyway).
type Guard interface {
	Judge(ctx context.Context, req *Request) (*Response, error)
}

// Options configure Run.
type Options struct {
	// BestEffort runs even where this host cannot enforce isolation or
	// limits; it is handed on in Guards.Sandbox.
	BestEffort bool
	// PolicyDirs are --policy directories of extra Rego modules.
	PolicyDirs []string
	// Strict makes policy warnings fail.
	Strict bool
	// NoCache ignores cached verdicts and evaluates afresh (`check`).
	NoCache bool
	// Warnings receives the policy's warnings (nil: not printed): in full
	// when the verdict is new, as a count when it comes from the cache.
	Warnings io.Writer
	// CachePath is the verdict cache, the state directory's preflight.json
	// (the caller knows the state layout). Empty: no cache is read or
	// written.
	CachePath string
	// Guard computes what the cache does not hold; nil is ProcessGuard{},
	// which starts guardrun-guard only when a verdict must be computed.
	Guard Guard
}

// Guards are what Run prepared for the run.
type Guards struct {
	// Sandbox are the sandbox options of the run.
	Sandbox sandbox.Options
	// Vet vets a Go processor again before it is built, unless its source
	// is the one preflight linted.
	Vet runner.VetFunc
	// Verdict is recorded in the audit chain as the policy verdict.
	Verdict runstate.PolicyVerdict
	// GoSources are the Go processors' source hashes preflight keyed the
	// lint verdicts with; the run takes them instead of hashing again.
	GoSources *runner.GoSources
	// Policy is the policy's result (nil when the verdict was cached).
	Policy *policy.Result
	// Findings are the netlint findings of Go processors.
	Findings []lint.Finding
	// Guarded reports whether the guard was asked for a verdict (false: every
	// verdict came from the cache).
	Guarded bool
	// Save records the passing verdicts in the cache for the next run.
	// `guardrun plan` never calls it: planning writes nothing.
	Save func() error
}

// LintError is netlint findings in Go processors.
type LintError struct {
	Findings []lint.Finding
}

func (e *LintError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "netlint: %d finding(s) in go processors:", len(e.Findings))
	for _, f := range e.Findings {
		b.WriteString("\n  " + f.String())
	}
	return b.String()
}

// verdictCache is preflight.json: the fingerprints of verdicts that passed,
// so a no-op rerun neither compiles the policy nor loads packages.
type verdictCache struct {
	Version  int                `json:"version"`
	Policy   string             `json:"policyFingerprint"`
	Warnings []policy.Violation `json:"warnings,omitempty"`
	// Linted holds "<abs pkg dir>@<source hash>@<config hash>" of
	// processors that passed.
	Linted []string `json:"linted"`
}

func readVerdictCache(path string) verdictCache {
	var c verdictCache
	if path == "" {
		return verdictCache{Version: 1}
	}
	b, err := os.ReadFile(path)
	if err != nil || json.Unmarshal(b, &c) != nil || c.Version != 1 {
		return verdictCache{Version: 1}
	}
	return c
}

// Run runs every check that must pass before anything is written: the
// policy and netlint of Go processors. Both verdicts are cached by
// fingerprint (policy modules + input document; processor source hash +
// .netlint.json), so an unchanged pipeline pays for neither: the guard is
// asked, once, only for what the cache does not hold.
//
// When the policy refuses the spec or a processor has findings, Run returns
// the Guards so far (Policy, Findings) with the error. Nothing is written
// before Guards.Save is called.
func Run(ctx context.Context, p *pipeline.Pipeline, o Options) (*Guards, error) {
	// What is certain to fail is said first, naming the field.
	if err := CheckRunnable(p); err != nil {
		return nil, err
	}
	guard := o.Guard
	if guard == nil {
		guard = ProcessGuard{}
	}
	g := &Guards{Sandbox: sandbox.Options{BestEffort: o.BestEffort}}
	cache := readVerdictCache(o.CachePath)
	if o.NoCache {
		cache = verdictCache{Version: 1}
	}
	next := verdictCache{Version: 1, Linted: []string{}}

	// What is known: the policy verdict by fingerprint, lint verdicts by
	// package, source and config.
	popts := policy.Options{Dirs: o.PolicyDirs, Strict: o.Strict}
	input, err := policy.InputJSON(p, policy.DetectHost())
	if err != nil {
		return nil, err
	}
	fp, err := policy.FingerprintInput(popts, input)
	if err != nil {
		return nil, err
	}
	next.Policy = fp
	policyCached := fp == cache.Policy
	// A Go processor that cannot be hashed is a spec problem, reported once
	// the policy has had its say.
	sources, hashErr := runner.HashGoSources(p)
	var hashes map[string]string
	if hashErr == nil {
		hashes = sources.Hashes()
	}
	linted := map[string]bool{}
	for _, k := range cache.Linted {
		linted[k] = true
	}
	dirs := make([]string, 0, len(hashes))
	for d := range hashes {
		dirs = append(dirs, d)
	}
	sort.Strings(dirs)

	// What is not known is asked of the guard, in one request.
	req := &Request{}
	if !policyCached {
		req.Policy = &PolicyRequest{Dirs: o.PolicyDirs, Strict: o.Strict, Input: input, Fingerprint: fp}
	}
	if hashErr == nil {
		for _, dir := range dirs {
			if !linted[lintKey(dir, hashes[dir])] {
				req.Lint = append(req.Lint, dir)
			}
		}
	}
	resp := &Response{}
	if req.Policy != nil || len(req.Lint) > 0 {
		if resp, err = guard.Judge(ctx, req); err != nil {
			return nil, err
		}
		g.Guarded = true
	}

	// Policy.
	if policyCached {
		next.Warnings = cache.Warnings
		g.Verdict = runstate.PolicyVerdict{Policy: "pass (cached)", Fingerprint: fp, Warnings: len(cache.Warnings)}
	} else {
		pr := resp.Policy
		switch {
		case pr == nil || (pr.Result == nil && pr.Error == nil):
			return nil, fmt.Errorf("%s returned no policy verdict", GuardName)
		case pr.Error != nil:
			return nil, pr.Error.policyError()
		}
		g.Policy = pr.Result
		if err := pr.Result.Err(o.Strict); err != nil {
			return g, err
		}
		next.Warnings = pr.Result.Warnings()
		waived := len(pr.Result.Waived)
		g.Verdict = runstate.PolicyVerdict{Policy: "pass", Fingerprint: fp, Warnings: len(next.Warnings), Waived: &waived}
	}
	// Warnings are listed in full when the verdict is new (identical ones of
	// many stages on one line); a cached verdict repeats only their number
	// (`guardrun check` lists them again).
	if o.Warnings != nil && len(next.Warnings) > 0 {
		if g.Policy != nil {
			for _, line := range policy.FormatViolations(next.Warnings) {
				fmt.Fprintf(o.Warnings, "policy: %s\n", line)
			}
		} else {
			fmt.Fprintf(o.Warnings, "policy: %d warning(s), unchanged since they were listed ('guardrun check' lists them)\n", len(next.Warnings))
		}
	}
	if hashErr != nil {
		return nil, hashErr
	}
	g.GoSources = sources

	// netlint of Go processors.
	answers := map[string]LintResponse{}
	for _, lr := range resp.Lint {
		answers[lr.Dir] = lr
	}
	vetted := map[string]bool{} // read-only once Run returns
	for _, dir := range dirs {
		k := lintKey(dir, hashes[dir])
		if !linted[k] {
			lr, ok := answers[dir]
			switch {
			case !ok:
				return nil, fmt.Errorf("%s returned no netlint verdict for %s", GuardName, dir)
			case lr.Error != nil:
				return nil, lr.Error.lintError()
			}
			fs := lr.Findings
			for i := range fs {
				if rel, err := filepath.Rel(p.Workspace, filepath.Join(dir, fs[i].Pos)); err == nil && !strings.HasPrefix(rel, "..") {
					fs[i].Pos = filepath.ToSlash(rel)
				}
			}
			g.Findings = append(g.Findings, fs...)
			if len(fs) > 0 {
				continue
			}
		}
		next.Linted = append(next.Linted, k)
		vetted[k] = true
	}
	if len(g.Findings) > 0 {
		return g, &LintError{Findings: g.Findings}
	}
	g.Verdict.Netlint = fmt.Sprintf("pass (%d go processors)", len(dirs))
	// The runner vets again only a source that changed after preflight.
	g.Vet = func(ctx context.Context, dir, src string) error {
		if vetted[lintKey(dir, src)] {
			return nil
		}
		resp, err := guard.Judge(ctx, &Request{Lint: []string{dir}})
		if err != nil {
			return err
		}
		if len(resp.Lint) != 1 {
			return fmt.Errorf("%s returned %d netlint verdicts for %s, want 1", GuardName, len(resp.Lint), dir)
		}
		if lr := resp.Lint[0]; lr.Error != nil {
			return lr.Error.lintError()
		} else if len(lr.Findings) > 0 {
			return &LintError{Findings: lr.Findings}
		}
		return nil
	}
	g.Save = func() error {
		if o.CachePath == "" || equalCache(cache, next) {
			return nil
		}
		if err := os.MkdirAll(filepath.Dir(o.CachePath), 0o755); err != nil {
			return err
		}
		return atomicfile.WriteJSON(o.CachePath, next)
	}
	return g, nil
}

// lintKey identifies a lint verdict: the package, its source and the
// .netlint.json that applies to it.
func lintKey(dir, srcHash string) string {
	return dir + "@" + srcHash + "@" + lintConfigHash(dir)
}

// lintConfigHash identifies the .netlint.json that applies to dir (empty
// when none): a changed config must invalidate a cached lint verdict.
func lintConfigHash(dir string) string {
	path := lint.ConfigPath(dir)
	if path == "" {
		return ""
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

func equalCache(a, b verdictCache) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

// ViolationRecords turns a preflight failure into the --json records
// {rule, stage, message, severity}: the policy's violations, or one deny
// record per netlint finding (rule "netlint/<analyzer>"). It returns nil for
// any other error.
func ViolationRecords(err error) []policy.Violation {
	var ve *policy.ViolationError
	if errors.As(err, &ve) {
		return ve.Result.Violations
	}
	var le *LintError
	if errors.As(err, &le) {
		out := make([]policy.Violation, len(le.Findings))
		for i, f := range le.Findings {
			out[i] = policy.Violation{Rule: "netlint/" + f.Analyzer, Message: f.Pos + ": " + f.Message, Severity: "deny"}
		}
		return out
	}
	return nil
}
