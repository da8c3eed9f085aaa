// Package policy owns guardrun's policy-as-code: the embedded Rego modules
// (package guardrun.pipeline) that reject unsafe pipeline specs before
// anything runs, and the Go evaluator that compiles them once, with user
// modules from --policy directories, under capabilities that reach no
// network.
package policy
