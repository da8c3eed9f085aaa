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
// The chosen file must then exist, not be a directory and (except on
// Windows) have an execute bit. Program.Real is filled whenever a path was
// chosen, even when those checks fail: a dangling link is followed to its
// target, so a link to an outside program that does not exist yet is still
// judged as outside; a path that does not exist at all leaves Real empty.
//
// It also owns the real-path resolution (RealPath, Resolver.Real) the policy
// uses for inputs and go package directories.
package execpath
