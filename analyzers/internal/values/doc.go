// Package values resolves, on the SSA form of a package, what string, argv
// and integer values reach a call: constants through local variables,
// package variables, concatenation, fmt.Sprintf with a constant format,
// strings.Join, slices, append and "args...", and calls of functions whose
// bodies are in the same package. A value that depends on a parameter of
// the enclosing function is kept as a placeholder (ParamMark, SpreadMark) so
// that callers can substitute their arguments (see Subst); anything else it
// cannot follow is Unknown.
//
// SSA is the analyzer the netlint analyzers require: buildssa's construction
// (without ctrlflow), run only on packages that have syntax and are not part of the standard
// library or golang.org/x/sys.
package values
