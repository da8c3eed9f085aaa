// Package engine compiles and evaluates guardrun's policy with OPA: the
// embedded Rego modules of package policy together with the user modules of
// --policy directories, under capabilities that reach no network (no
// http.send, net.lookup_ip_addr or opa.runtime, AllowNet empty), every
// module type-checked against the JSON schema of the input document
// (policy.InputSchema), so that a rule naming a path the input does not have
// is refused when the policy is loaded.
//
// It is the heavy half of the policy: linking OPA costs guardrun's start-up
// about 20 ms of package initialisation, so only guardrun-guard (and tests)
// link this package. Everything guardrun needs without evaluating (the input
// document, the fingerprint of a verdict, the result and error types) is in
// package policy.
package engine
