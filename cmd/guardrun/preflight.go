package main

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
	"sync"

	"github.com/guardrun/guardrun/analyzers/suite"
	"github.com/guardrun/guardrun/internal/atomicfile"
	"github.com/guardrun/guardrun/pipeline"
	"github.com/guardrun/guardrun/policy"
	"github.com/guardrun/guardrun/runner"
	"github.com/guardrun/guardrun/sandbox"
)

type preflightOptions struct {
	bestEffort  bool
	policyDirs  []string
	strict      bool
	noCache     bool // check: always evaluate
	warnings    io.Writer
	transitive  bool
	skipVerdict bool // plan/status/verify: spec only
}

// guards are what preflight prepared for the run.
type guards struct {
	sandbox sandbox.Options
	vet     runner.VetFunc
	// verdict is recorded in the audit chain as the policy verdict.
	verdict map[string]any
	// policy is the policy's result (nil when served from the cache).
	policy *policy.Result
	// findings are netlint findings of go processors.
	findings []suite.Finding
	// save records the passing verdict for the next run.
	save func() error
}

// lintError: a go processor failed netlint (exit 3).
type lintError struct{ findings []suite.Finding }

func (e *lintError) Code() int { return runner.ExitPolicy }
func (e *lintError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "netlint: %d finding(s) in go processors:", len(e.findings))
	for _, f := range e.findings {
		b.WriteString("\n  " + f.String())
	}
	return b.String()
}

// verdictCache is stateDir/preflight.json: the fingerprints of verdicts that
// passed, so a no-op rerun neither compiles the policy nor loads packages.
type verdictCache struct {
	Version  int             `json:"version"`
	Policy   string          `json:"policyFingerprint"`
	Warnings []policyVerdict `json:"warnings,omitempty"`
	// Linted holds "<abs pkg dir>@<source hash>@<config hash>" of
	// processors that passed.
	Linted []string `json:"linted"`
}

type policyVerdict = policy.Violation

func cachePath(p *pipeline.Pipeline) string { return filepath.Join(p.StateDir, "preflight.json") }

func readVerdictCache(p *pipeline.Pipeline) verdictCache {
	var c verdictCache
	b, err := os.ReadFile(cachePath(p))
	if err != nil || json.Unmarshal(b, &c) != nil || c.Version != 1 {
		return verdictCache{Version: 1}
	}
	return c
}

// preflight runs every check that must pass before anything is written: the
// policy and netlint of go processors. Both verdicts are cached by
// fingerprint (policy modules + input document; processor source hash), so
// an unchanged pipeline pays for neither. The sandbox is probed by the
// runner when the first stage runs, and by `check`.
func preflight(ctx context.Context, p *pipeline.Pipeline, o preflightOptions) (*guards, error) {
	g := &guards{sandbox: sandbox.Options{BestEffort: o.bestEffort}}
	cache := readVerdictCache(p)
	if o.noCache {
		cache = verdictCache{Version: 1}
	}
	next := verdictCache{Version: 1, Linted: []string{}}

	// Policy.
	popts := policy.Options{Dirs: o.policyDirs, Strict: o.strict}
	host := policy.DetectHost()
	fp, err := policy.Fingerprint(popts, p, host)
	if err != nil {
		return nil, &policy.Error{Err: err}
	}
	next.Policy = fp
	if fp == cache.Policy && !o.noCache {
		next.Warnings = cache.Warnings
		g.verdict = map[string]any{"policy": "pass (cached)", "fingerprint": fp, "warnings": len(cache.Warnings)}
	} else {
		eng, err := policy.New(ctx, popts)
		if err != nil {
			return nil, err
		}
		res, err := eng.Evaluate(ctx, p, host)
		if err != nil {
			return nil, err
		}
		g.policy = res
		if err := res.Err(o.strict); err != nil {
			return g, err
		}
		next.Warnings = res.Warnings()
		g.verdict = map[string]any{"policy": "pass", "fingerprint": fp, "warnings": len(next.Warnings), "waived": len(res.Waived)}
	}
	// Warnings are listed in full when the verdict is new; a cached verdict
	// repeats only their number (`guardrun check` lists them again).
	if o.warnings != nil && len(next.Warnings) > 0 {
		if g.policy != nil {
			for _, w := range next.Warnings {
				fmt.Fprintf(o.warnings, "policy: %s\n", w)
			}
		} else {
			fmt.Fprintf(o.warnings, "policy: %d warning(s), unchanged since they were listed ('guardrun check' lists them)\n", len(next.Warnings))
		}
	}

	// netlint of go processors.
	hashes, err := runner.GoSourceHashes(p)
	if err != nil {
		return nil, &usageError{msg: err.Error()}
	}
	linted := map[string]bool{}
	for _, k := range cache.Linted {
		linted[k] = true
	}
	var mu sync.Mutex
	vetted := map[string]bool{}
	dirs := make([]string, 0, len(hashes))
	for d := range hashes {
		dirs = append(dirs, d)
	}
	sort.Strings(dirs)
	for _, dir := range dirs {
		k := dir + "@" + hashes[dir] + "@" + lintConfigHash(dir)
		if !linted[k] {
			fs, err := suite.VetPackage(ctx, dir, true)
			if err != nil {
				return nil, err
			}
			for i := range fs {
				if rel, err := filepath.Rel(p.Workspace, filepath.Join(dir, fs[i].Pos)); err == nil && !strings.HasPrefix(rel, "..") {
					fs[i].Pos = filepath.ToSlash(rel)
				}
			}
			g.findings = append(g.findings, fs...)
			if len(fs) > 0 {
				continue
			}
		}
		next.Linted = append(next.Linted, k)
		vetted[k] = true
	}
	if len(g.findings) > 0 {
		return g, &lintError{findings: g.findings}
	}
	g.verdict["netlint"] = fmt.Sprintf("pass (%d go processors)", len(dirs))
	// The runner vets again only a source that changed after preflight.
	g.vet = func(ctx context.Context, dir, src string) error {
		mu.Lock()
		ok := vetted[dir+"@"+src+"@"+lintConfigHash(dir)]
		mu.Unlock()
		if ok {
			return nil
		}
		fs, err := suite.VetPackage(ctx, dir, true)
		if err != nil {
			return err
		}
		if len(fs) > 0 {
			return &lintError{findings: fs}
		}
		return nil
	}
	g.save = func() error {
		if equalCache(cache, next) {
			return nil
		}
		if err := os.MkdirAll(p.StateDir, 0o755); err != nil {
			return err
		}
		return atomicfile.WriteJSON(cachePath(p), next)
	}
	return g, nil
}

// lintConfigHash identifies the .netlint.json that applies to dir (empty
// when none): a changed config must invalidate a cached lint verdict.
func lintConfigHash(dir string) string {
	path := suite.ConfigPath(dir)
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

// violationRecords turns a preflight failure into the --json records
// {rule, stage, message, severity}.
func violationRecords(err error) []policy.Violation {
	var ve *policy.ViolationError
	if errors.As(err, &ve) {
		return ve.Result.Violations
	}
	var le *lintError
	if errors.As(err, &le) {
		out := make([]policy.Violation, len(le.findings))
		for i, f := range le.findings {
			out[i] = policy.Violation{Rule: "netlint/" + f.Analyzer, Message: f.Pos + ": " + f.Message, Severity: "deny"}
		}
		return out
	}
	return nil
}
