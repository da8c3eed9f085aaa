package netpolicy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"go/build"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// ConfigName is the file netlint looks for at the root of the module being
// linted.
const ConfigName = ".netlint.json"

// ConfigEnv names the environment variable that points at a config file; it
// wins over discovery and loses to the -config flag.
const ConfigEnv = "NETLINT_CONFIG"

// Config is the content of a .netlint.json file.
type Config struct {
	// Deny adds import path patterns to the deny list.
	Deny []string `json:"deny,omitempty"`
	// Allow adds import path patterns to the allow list.
	Allow []string `json:"allow,omitempty"`
	// Opaque adds patterns of packages whose imports -transitive does not
	// follow (judged by the lists alone, like the standard library).
	Opaque []string `json:"opaque,omitempty"`
	// Exceptions exempt findings in given packages, each with a reason.
	Exceptions []Exception `json:"exceptions,omitempty"`
	// Unresolved is what to do with a program, script or trap number
	// netlint cannot resolve: "report" (the default: a finding), "warn" (a
	// warning, which does not fail the standalone driver) or "ignore".
	Unresolved string `json:"unresolved,omitempty"`
}

// ReadConfig strictly decodes the config file at path: unknown fields,
// trailing data, patterns that are not import paths and exceptions without
// a reason are errors.
func ReadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading netlint config: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var c Config
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("decoding netlint config %s: %w", path, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("decoding netlint config %s: trailing data after the object", path)
	}
	return &c, nil
}

// WithConfig returns p extended by the config read from path.
func (p *Policy) WithConfig(path string, c *Config) (*Policy, error) {
	var deny, allow []Rule
	for _, s := range c.Deny {
		deny = append(deny, Rule{Pattern: s, Reason: "denied by " + path, Source: path})
	}
	for _, s := range c.Allow {
		allow = append(allow, Rule{Pattern: s, Reason: "allowed by " + path, Source: path})
	}
	ex := make([]Exception, len(c.Exceptions))
	for i, e := range c.Exceptions {
		e.Source = path
		ex[i] = e
	}
	q, err := p.With(deny, allow, ex)
	if err != nil {
		return nil, fmt.Errorf("netlint config: %w", err)
	}
	var opaque []Rule
	for _, s := range c.Opaque {
		opaque = append(opaque, Rule{Pattern: s, Reason: "opaque by " + path, Source: path})
	}
	if q, err = q.WithOpaque(opaque); err != nil {
		return nil, fmt.Errorf("netlint config: %w", err)
	}
	if q, err = q.WithUnresolved(c.Unresolved, path); err != nil {
		return nil, fmt.Errorf("netlint config: %w", err)
	}
	return q, nil
}

// Discover looks for ConfigName in dir and its parents, up to and including
// the first directory that holds a go.mod. It never looks inside GOROOT or
// the module cache, so a dependency cannot ship a config that exempts
// itself. It returns "" when there is no config.
func Discover(dir string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return ""
	}
	for _, root := range untrustedRoots() {
		if root != "" && within(abs, root) {
			return ""
		}
	}
	for d := abs; ; {
		cand := filepath.Join(d, ConfigName)
		if st, err := os.Stat(cand); err == nil && st.Mode().IsRegular() {
			return cand
		}
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return ""
		}
		parent := filepath.Dir(d)
		if parent == d {
			return ""
		}
		d = parent
	}
}

// ForDir returns the default policy extended by the config discovered from
// dir, and the path of that config ("" if none).
func ForDir(dir string) (*Policy, string, error) {
	path := Discover(dir)
	if path == "" {
		return Default(), "", nil
	}
	c, err := ReadConfig(path)
	if err != nil {
		return nil, path, err
	}
	p, err := Default().WithConfig(path, c)
	return p, path, err
}

func within(path, root string) bool {
	rel, err := filepath.Rel(root, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

func untrustedRoots() []string {
	var roots []string
	if gr := os.Getenv("GOROOT"); gr != "" {
		roots = append(roots, gr)
	} else if build.Default.GOROOT != "" {
		roots = append(roots, build.Default.GOROOT)
	}
	if mc := os.Getenv("GOMODCACHE"); mc != "" {
		roots = append(roots, mc)
	} else {
		gopath := os.Getenv("GOPATH")
		if gopath == "" {
			gopath = build.Default.GOPATH
		}
		for _, p := range filepath.SplitList(gopath) {
			if p != "" {
				roots = append(roots, filepath.Join(p, "pkg", "mod"))
			}
		}
	}
	return roots
}
