// Package preflight owns every check that must pass before guardrun writes
// anything for a run: the policy verdict (built-in and --policy Rego
// modules, judged against the spec and this host) and netlint of the Go
// processors. It also owns the verdict cache, preflight.json in the state
// directory: the fingerprints of verdicts that passed, so that an unchanged
// pipeline compiles neither the policy nor any Go package on a rerun.
//
// Run returns the Guards the runner needs: the sandbox options, the VetFunc
// that vets again a Go processor whose source changed after preflight, and
// the verdict recorded in the audit chain. Errors name what failed
// (*policy.ViolationError, *policy.Error, *LintError, *pipeline.SpecError,
// *suite.Error); which exit code each one means is for the CLI to decide.
//
// The sandbox itself is probed by the runner when the first stage runs (and
// by `guardrun check`), not here: a no-op run never pays for it.
package preflight
