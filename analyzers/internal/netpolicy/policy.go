package netpolicy

import (
	"fmt"
	"path"
	"strings"
)

// Rule is one deny or allow pattern of a Policy and where it came from.
type Rule struct {
	Pattern string
	Reason  string // why the pattern is on the list
	Source  string // "default", "-deny flag", a config file path, ...
	layer   int    // 0 for the defaults, then one more per With
}

// Kind names what an exception covers.
type Kind string

// Kinds of findings an exception can cover.
const (
	KindImport Kind = "import" // netimport and nettransitive: an imported package path
	KindCall   Kind = "call"   // rawsocket: a qualified function such as "syscall.Socket"
	KindExec   Kind = "exec"   // netexec: a program name such as "curl"
)

// Exception exempts findings of one kind in some packages, with a reason.
type Exception struct {
	Package string `json:"package"`          // importing package pattern
	Import  string `json:"import,omitempty"` // import path pattern
	Call    string `json:"call,omitempty"`   // qualified function, e.g. golang.org/x/sys/unix.Socket
	Exec    string `json:"exec,omitempty"`   // program name, e.g. curl
	// Files, if set, is a glob (path.Match syntax) the base name of the
	// file holding the finding must match, e.g. "*_test.go".
	Files  string `json:"files,omitempty"`
	Reason string `json:"reason"`
	Source string `json:"-"`
}

// Kind reports which kind of finding e covers and the subject pattern.
func (e Exception) Kind() (Kind, string) {
	switch {
	case e.Import != "":
		return KindImport, e.Import
	case e.Call != "":
		return KindCall, e.Call
	default:
		return KindExec, e.Exec
	}
}

func (e Exception) validate() error {
	n := 0
	for _, s := range []string{e.Import, e.Call, e.Exec} {
		if s != "" {
			n++
		}
	}
	if n != 1 {
		return fmt.Errorf("exactly one of \"import\", \"call\" and \"exec\" must be set")
	}
	if err := ValidPattern(e.Package); err != nil {
		return fmt.Errorf("package: %w", err)
	}
	if e.Import != "" {
		if err := ValidPattern(e.Import); err != nil {
			return fmt.Errorf("import: %w", err)
		}
	}
	if e.Files != "" {
		if _, err := path.Match(e.Files, "x.go"); err != nil {
			return fmt.Errorf("files: %w", err)
		}
	}
	if strings.TrimSpace(e.Reason) == "" {
		return fmt.Errorf("reason is required: say why this is safe")
	}
	return nil
}

// Verdict is the outcome of asking whether a package is forbidden.
type Verdict struct {
	Forbidden bool
	Rule      Rule // the deciding rule; zero when no rule matched
}

// Policy decides which packages are forbidden and which findings are
// exempted. A Policy is immutable once built and safe for concurrent use.
type Policy struct {
	layer      int
	deny       []Rule
	allow      []Rule
	opaque     []Rule
	exceptions []Exception
	// unresolved is what to do with a program or trap number netlint cannot
	// resolve: "report" (the default) or "ignore".
	unresolved string
}

// Default returns the policy of the built-in lists.
func Default() *Policy {
	p := &Policy{}
	for _, e := range DefaultDeny {
		p.deny = append(p.deny, Rule{Pattern: e.Pattern, Reason: e.Reason, Source: "default"})
	}
	for _, e := range DefaultAllow {
		p.allow = append(p.allow, Rule{Pattern: e.Pattern, Reason: e.Reason, Source: "default"})
	}
	for _, e := range DefaultOpaque {
		p.opaque = append(p.opaque, Rule{Pattern: e.Pattern, Reason: e.Reason, Source: "default"})
	}
	return p
}

func (p *Policy) clone() *Policy {
	return &Policy{
		layer:      p.layer,
		deny:       append([]Rule(nil), p.deny...),
		allow:      append([]Rule(nil), p.allow...),
		opaque:     append([]Rule(nil), p.opaque...),
		exceptions: append([]Exception(nil), p.exceptions...),
		unresolved: p.unresolved,
	}
}

// Unresolved values: what netexec and rawsocket do with a program, script or
// trap number they cannot resolve.
const (
	UnresolvedReport = "report" // a finding (the default)
	UnresolvedWarn   = "warn"   // a warning: reported, but it does not fail the run
	UnresolvedIgnore = "ignore" // nothing
)

// UnresolvedSubject is the subject ("exec" or "call" of an exception) of a
// program, script or trap number that cannot be resolved.
const UnresolvedSubject = "?"

// WarningCategory is the analysis.Diagnostic category of a finding that is
// only a warning (an unresolved program or trap under "unresolved": "warn").
// Drivers print it and do not fail on it; go vet, which has no severities,
// fails on it like on any diagnostic.
const WarningCategory = "warning"

// ReportUnresolved reports whether unresolved programs and trap numbers are
// reported at all (as findings or as warnings).
func (p *Policy) ReportUnresolved() bool { return p.unresolved != UnresolvedIgnore }

// UnresolvedCategory is the diagnostic category of an unresolved program or
// trap: WarningCategory under "warn", else the analyzer's own name.
func (p *Policy) UnresolvedCategory(analyzer string) string {
	if p.unresolved == UnresolvedWarn {
		return WarningCategory
	}
	return analyzer
}

// WithUnresolved returns a copy of p with the given severity for unresolved
// values ("" keeps p's).
func (p *Policy) WithUnresolved(v, source string) (*Policy, error) {
	switch v {
	case "":
		return p, nil
	case UnresolvedReport, UnresolvedWarn, UnresolvedIgnore:
	default:
		return nil, fmt.Errorf("unresolved (%s): %q is not %q, %q or %q", source, v, UnresolvedReport, UnresolvedWarn, UnresolvedIgnore)
	}
	q := p.clone()
	q.unresolved = v
	return q, nil
}

// With returns a copy of p extended by extra deny and allow rules and
// exceptions. Invalid patterns are errors.
func (p *Policy) With(deny, allow []Rule, exceptions []Exception) (*Policy, error) {
	q := p.clone()
	q.layer++
	for _, r := range deny {
		r.layer = q.layer
		if err := ValidPattern(r.Pattern); err != nil {
			return nil, fmt.Errorf("deny (%s): %w", r.Source, err)
		}
		q.deny = append(q.deny, r)
	}
	for _, r := range allow {
		r.layer = q.layer
		if err := ValidPattern(r.Pattern); err != nil {
			return nil, fmt.Errorf("allow (%s): %w", r.Source, err)
		}
		q.allow = append(q.allow, r)
	}
	for i, e := range exceptions {
		if err := e.validate(); err != nil {
			return nil, fmt.Errorf("exceptions[%d] (%s): %w", i, e.Source, err)
		}
		q.exceptions = append(q.exceptions, e)
	}
	return q, nil
}

// Check decides whether importing path is forbidden: the longest matching
// pattern of either list wins; on a tie, a rule added later (flags over the
// config file over the defaults) wins, and deny wins within one layer.
func (p *Policy) Check(path string) Verdict {
	type cand struct {
		rule   Rule
		n      int
		denied bool
	}
	var best *cand
	consider := func(r Rule, denied bool) {
		n, ok := Match(r.Pattern, path)
		if !ok {
			return
		}
		c := &cand{r, n, denied}
		switch {
		case best == nil, n > best.n:
			best = c
		case n < best.n:
		case r.layer > best.rule.layer:
			best = c
		case r.layer == best.rule.layer && denied && !best.denied:
			best = c
		}
	}
	for _, r := range p.deny {
		consider(r, true)
	}
	for _, r := range p.allow {
		consider(r, false)
	}
	if best == nil {
		return Verdict{}
	}
	return Verdict{Forbidden: best.denied, Rule: best.rule}
}

// Opaque reports whether the transitive mode judges path by the lists alone
// instead of following its imports: the standard library and the opaque
// patterns (golang.org/x/sys/... by default).
func (p *Policy) Opaque(path string) bool {
	if IsStd(path) {
		return true
	}
	for _, r := range p.opaque {
		if _, ok := Match(r.Pattern, path); ok {
			return true
		}
	}
	return false
}

// WithOpaque returns a copy of p with more opaque patterns.
func (p *Policy) WithOpaque(rules []Rule) (*Policy, error) {
	q := p.clone()
	for _, r := range rules {
		if err := ValidPattern(r.Pattern); err != nil {
			return nil, fmt.Errorf("opaque (%s): %w", r.Source, err)
		}
		q.opaque = append(q.opaque, r)
	}
	return q, nil
}

// Forbidden is shorthand for Check(path).Forbidden.
func (p *Policy) Forbidden(path string) bool { return p.Check(path).Forbidden }

// Except returns the exception covering a finding of kind about subject in
// package pkg, in the file named file (a path or base name; "" when the
// finding has no file, and then exceptions restricted by Files do not apply).
// For KindImport the subject is matched as an import path pattern, otherwise
// it must be equal.
func (p *Policy) Except(pkg, file string, kind Kind, subject string) (Exception, bool) {
	base := file
	if i := strings.LastIndexAny(base, `/\`); i >= 0 {
		base = base[i+1:]
	}
	for _, e := range p.exceptions {
		k, pat := e.Kind()
		if k != kind {
			continue
		}
		if _, ok := Match(e.Package, pkg); !ok {
			continue
		}
		if e.Files != "" {
			if ok, _ := path.Match(e.Files, base); !ok || base == "" {
				continue
			}
		}
		if kind == KindImport {
			if _, ok := Match(pat, subject); ok {
				return e, true
			}
			continue
		}
		if pat == subject {
			return e, true
		}
	}
	return Exception{}, false
}
