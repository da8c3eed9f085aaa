package netpolicy

import (
	"flag"
	"os"
	"strings"
	"sync"
)

// listFlag is a repeatable, comma-separated list of patterns.
type listFlag struct {
	mu   sync.Mutex
	vals []string
}

func (l *listFlag) String() string {
	if l == nil {
		return ""
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.vals, ",")
}

func (l *listFlag) Set(s string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			l.vals = append(l.vals, v)
		}
	}
	return nil
}

func (l *listFlag) list() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.vals...)
}

// The flag values shared by every FlagSet RegisterFlags was called on.
var (
	flagDeny   listFlag
	flagAllow  listFlag
	flagConfig stringFlag
	// flagUnresolved: "report", "warn" or "ignore" ("" keeps the config's).
	flagUnresolved stringFlag
)

type stringFlag struct {
	mu  sync.Mutex
	val string
}

func (s *stringFlag) String() string {
	if s == nil {
		return ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.val
}

func (s *stringFlag) Set(v string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.val = v
	return nil
}

// RegisterFlags defines -deny, -allow and -config on fs. It may be called on
// several flag sets (the analyzer's and a driver's top level); they all set
// the same values, which Global reads.
func RegisterFlags(fs *flag.FlagSet) {
	fs.Var(&flagDeny, "deny", "comma-separated import path patterns to add to the deny list (pkg or pkg/...); repeatable")
	fs.Var(&flagAllow, "allow", "comma-separated import path patterns to add to the allow list (pkg or pkg/...); repeatable")
	fs.Var(&flagUnresolved, "unresolved", "what to do with a program, script or syscall trap netlint cannot resolve: report (default; a finding), warn (printed, does not fail) or ignore")
	fs.Var(&flagConfig, "config", "netlint config file (default: $"+ConfigEnv+", else "+ConfigName+" found from the working directory up to the module root; \"none\" disables)")
}

// ResetFlags clears the values set through RegisterFlags (for tests).
func ResetFlags() {
	flagDeny.mu.Lock()
	flagDeny.vals = nil
	flagDeny.mu.Unlock()
	flagAllow.mu.Lock()
	flagAllow.vals = nil
	flagAllow.mu.Unlock()
	_ = flagConfig.Set("")
	_ = flagUnresolved.Set("")
}

var global struct {
	mu     sync.Mutex
	key    string
	policy *Policy
	err    error
}

// Global returns the policy of the flags: the defaults, extended by the
// config file (-config, else $NETLINT_CONFIG, else discovered from the working
// directory) and by -deny and -allow. The result is cached until a flag
// changes.
func Global() (*Policy, error) {
	deny, allow := flagDeny.list(), flagAllow.list()
	cfg := flagConfig.String()
	if cfg == "" {
		cfg = os.Getenv(ConfigEnv)
	}
	wd, _ := os.Getwd()
	unresolved := flagUnresolved.String()
	key := strings.Join(deny, ",") + "\x00" + strings.Join(allow, ",") + "\x00" + cfg + "\x00" + wd + "\x00" + unresolved

	global.mu.Lock()
	defer global.mu.Unlock()
	if global.policy != nil || global.err != nil {
		if global.key == key {
			return global.policy, global.err
		}
	}
	global.key = key
	global.policy, global.err = buildPolicy(deny, allow, cfg, wd)
	if global.err == nil {
		global.policy, global.err = global.policy.WithUnresolved(unresolved, "-unresolved flag")
	}
	return global.policy, global.err
}

func buildPolicy(deny, allow []string, cfg, wd string) (*Policy, error) {
	p := Default()
	switch cfg {
	case "none", "off":
	case "":
		if path := Discover(wd); path != "" {
			c, err := ReadConfig(path)
			if err != nil {
				return nil, err
			}
			if p, err = p.WithConfig(path, c); err != nil {
				return nil, err
			}
		}
	default:
		c, err := ReadConfig(cfg)
		if err != nil {
			return nil, err
		}
		if p, err = p.WithConfig(cfg, c); err != nil {
			return nil, err
		}
	}
	var dr, ar []Rule
	for _, s := range deny {
		dr = append(dr, Rule{Pattern: s, Reason: "denied by -deny", Source: "-deny flag"})
	}
	for _, s := range allow {
		ar = append(ar, Rule{Pattern: s, Reason: "allowed by -allow", Source: "-allow flag"})
	}
	return p.With(dr, ar, nil)
}
