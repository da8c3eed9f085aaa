// Package guard computes the verdicts guardrun's preflight cannot take from
// its cache: it evaluates the policy with OPA (policy/engine) and lints Go
// processors with netlint (analyzers/suite). It is the program
// guardrun-guard (Main) and, in tests, the same code in-process (Local).
//
// Only guardrun-guard links it: OPA and go/analysis add tens of milliseconds
// of package initialisation to every start of the program that links them,
// and guardrun starts on every run, most of which find every verdict cached.
package guard
