// Package lint is what callers of netlint need without linking go/analysis:
// the types of its verdict (Finding, and Error for a package that cannot be
// linted) and where the .netlint.json that applies to a directory is
// (ConfigPath), so that a verdict cached by source hash can be trusted or
// not without loading a single package. analyzers/suite computes verdicts;
// its Finding and Error are these types.
package lint
