package lint

import "github.com/guardrun/guardrun/analyzers/internal/netpolicy"

// Finding is one netlint diagnostic.
type Finding struct {
	// Pos is file:line:col, the file relative to the run's directory when it
	// is inside it.
	Pos      string `json:"pos"`
	Analyzer string `json:"analyzer"`
	Message  string `json:"message"`
	// Severity is "warning" for a finding that does not fail the run (an
	// unresolved program or trap under "unresolved": "warn"), else empty.
	Severity string `json:"severity,omitempty"`
}

// Warning is the Severity of a finding that does not fail the run.
const Warning = "warning"

// IsWarning reports whether f is only a warning.
func (f Finding) IsWarning() bool { return f.Severity == Warning }

func (f Finding) String() string {
	if f.IsWarning() {
		return f.Pos + ": warning: " + f.Message + " (" + f.Analyzer + ")"
	}
	return f.Pos + ": " + f.Message + " (" + f.Analyzer + ")"
}

// Error is a failure to lint (as opposed to findings): an invalid config, a
// package that does not load or type-check, or an analyzer failure. Which
// exit code it means is for each command to decide.
type Error struct {
	Op  string // "config", "load" or "analyze"
	Err error
}

func (e *Error) Error() string { return "netlint " + e.Op + ": " + e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// ConfigName is the name of the config file netlint discovers at the module
// root.
const ConfigName = netpolicy.ConfigName

// ConfigPath returns the .netlint.json that suite.VetPackage(dir) uses (""
// if none), so that a caller caching verdicts by source hash can mix the
// config's content into its key.
func ConfigPath(dir string) string { return netpolicy.Discover(dir) }
