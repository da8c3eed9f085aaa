// Package sdk is the tiny, standard-library-only kit for writing guardrun
// processors in Go. It owns the processor side of the protocol described in
// docs/PROCESSORS.md: reading the PIPELINE_* environment (FromEnv), opening
// staged outputs in append mode (Env.OpenOutput), sending checkpoint reports
// on the progress pipe (Env.Report), streaming the concatenated inputs line by
// line with resume and checkpoints (MapLines), and turning a processor's error
// into the protocol's exit code (Main, Transient, ExitError).
//
// Nothing in this package may import anything outside the standard library:
// processors are built inside the user's workspace and linted by netlint.
package sdk
