package preflight

// LintKey is lintKey, for the tests of package preflight_test (which use
// preflight/guard, and so cannot be in package preflight).
var LintKey = lintKey
