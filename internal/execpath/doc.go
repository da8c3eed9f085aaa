// Package execpath owns the one rule that turns an exec processor's argv[0]
// into the program that runs. The runner executes Program.Path and the
// policy judges Program.Real of the same resolution, so the two cannot
// disagree about which file a stage runs: a bare name that matches a
// workspace directory, or a dangling workspace symlink, resolves the same
// way for both.
//
// The rule, for argv[0] against the workspace (the spec's directory):
//
//   - an absolute path is taken as is (cleaned);
//   - a path with a separator (/ or \) is taken relative to the workspace;
//   - a bare name is the workspace entry of that name when one exists
//     (os.Lstat, so a dangling symlink counts) and is not a directory (a
//     symlink to a directory counts as a directory); otherwise it is looked
//     up on PATH (exec.LookPath; a match relative to the current directory
//     is refused).
//
// The chosen file must then exist, not be a directory, be a regular file
// (not a FIFO or device) and (except on Windows) have an execute bit. Program.Real is filled whenever a path was
// chosen, even when those checks fail: a dangling link is followed to its
// target, so a link to an outside program that does not exist yet is still
// judged as outside; a path that does not exist at all leaves Real empty.
//
// A program that is a script is run by the kernel through the interpreter
// its "#!" line names, so Resolve follows that line too (not on Windows,
// which has none) and returns the chain in Program.Interpreters: the policy
// judges every interpreter's Real like argv[0]'s, the runner hashes them
// into the stage's identity. The line is read as Linux reads it (the first
// 256 bytes, "#!", blanks, an absolute interpreter path, the rest as its
// arguments); a relative interpreter is refused. "#!/usr/bin/env NAME" (any
// interpreter named env) resolves NAME on the PATH the program runs with
// (ResolveIn; a PATH=... assignment on the line wins), refusing a match
// through a relative PATH entry as exec.LookPath does; env's options other
// than -S and -v are refused rather than guessed at, and env itself is a
// launcher, not judged. An interpreter that is a script is followed in turn,
// up to 4 levels. An interpreter that is missing, a directory or not
// executable is an error, with the chain resolved so far still returned.
//
// It also owns the real-path resolution (RealPath, Resolver.Real) the policy
// uses for inputs and go package directories.
package execpath
