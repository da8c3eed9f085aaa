// Command guardrun-guard computes verdicts for guardrun: it evaluates the
// Rego policy with OPA and lints Go processors with netlint, for the specs
// and processors whose verdicts guardrun does not find in its cache
// (state/preflight.json), and for every `guardrun check`.
//
// It is not meant to be run by hand. guardrun looks for it next to its own
// executable, then at $GUARDRUN_GUARD, then on PATH, and starts it only
// when a verdict must be computed, so that the common run (nothing changed)
// never links or initialises OPA or go/analysis. It reads one JSON request
// on stdin and writes one JSON response on stdout (docs/POLICY.md,
// "guardrun-guard"); `guardrun-guard -h` says what it is.
package main
