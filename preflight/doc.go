// Package preflight owns every check that must pass before guardrun writes
// anything for a run: what is certain to fail (CheckRunnable: missing
// inputs no stage produces, programs not found or not executable), the
// policy verdict (built-in and --policy Rego modules, judged against the
// spec and this host) and netlint of the Go processors. `check`, `plan` and `run` all go through Run, with the same
// options, so they reach the same verdict. It also owns the verdict cache,
// preflight.json in the state directory: the fingerprints of verdicts that
// passed, so that an unchanged pipeline compiles neither the policy nor any
// Go package on a rerun.
//
// This package links neither OPA nor go/analysis: it decides from the cache
// what is known, and asks a Guard for the rest, in one request. The Guard
// is guardrun-guard (ProcessGuard, started only when a verdict must be
// computed; the protocol is Request and Response), or in tests the same
// code in-process (preflight/guard.Local). Its answers come back as the
// typed errors they were.
//
// Run returns the Guards the runner needs: the sandbox options, the VetFunc
// that vets again a Go processor whose source changed after preflight, and
// the verdict recorded in the audit chain. Errors name what failed
// (*policy.ViolationError, *policy.Error, *LintError, *pipeline.SpecError,
// *lint.Error, ErrNoGuard); which exit code each one means is for the CLI to
// decide.
//
// The sandbox itself is probed by the runner when the first stage runs (and
// by `guardrun check`), not here: a no-op run never pays for it.
package preflight
