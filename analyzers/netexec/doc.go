// Package netexec defines the netexec analyzer: it reports starting a
// well-known network program whose name is a constant (a literal or a named
// constant), at the call. Covered launchers: os/exec.Command,
// exec.CommandContext, exec.LookPath, an exec.Cmd literal with a constant
// Path, os.StartProcess, syscall.Exec/ForkExec/StartProcess and
// golang.org/x/sys/unix.Exec.
//
// Three lists decide (see NetworkTools, Subcommands, Wrappers):
//
//   - programs that exist to talk to the network (curl, wget, nc, ssh, scp,
//     rsync, ftp, aws, gcloud, kubectl, ...) are reported whatever their
//     arguments;
//   - programs that are mostly local but have networking subcommands (git
//     clone/fetch/pull/push, go get, docker pull, pip install, npm install,
//     apt-get install, ...) are reported when their first constant
//     non-flag argument is such a subcommand;
//   - shells and wrappers (sh -c, bash, cmd /c, powershell, env, sudo,
//     busybox, xargs, timeout, ...) are looked through: every word of their
//     constant arguments is checked against the two lists above (and, for
//     PowerShell, Invoke-WebRequest and friends).
//
// Names built at run time cannot be judged statically and are not reported;
// the sandbox still has no network. Suppress a finding with
// "//netlint:allow <reason>" or an "exec" exception naming the program.
package netexec
