// Package policy owns guardrun's policy-as-code: the embedded Rego modules
// (package guardrun.pipeline) that reject unsafe pipeline specs before
// anything runs, and everything about a verdict that needs no policy engine:
// the input document the policy judges (the resolved spec and the facts of
// this host, Input and Host), the fingerprint that identifies a verdict
// without compiling anything (Fingerprint), and what a verdict says
// (Result, Violation, ViolationError, Error, ErrPolicy).
//
// The evaluator, which compiles the modules with OPA, is package
// policy/engine; this package does not link OPA, so that guardrun starts in
// milliseconds and a run whose verdict is cached never pays for it.
package policy
