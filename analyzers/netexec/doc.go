// Package netexec defines the netexec analyzer: it reports starting a
// network program, judged by the values that reach the launcher on the SSA
// form of the package (constants through variables, concatenation,
// fmt.Sprintf, strings.Join, slices, append, "args...", closures and helper
// functions), at the call. Covered launchers: os/exec.Command,
// exec.CommandContext, exec.LookPath, golang.org/x/sys/execabs, exec.Cmd's
// Path and Args (literal or assigned), os.StartProcess,
// syscall.Exec/ForkExec/StartProcess and golang.org/x/sys/unix.Exec, also
// when kept in a variable.
//
// The lists decide (see NetworkTools, Subcommands, Openers, Interpreters,
// Wrappers, Shells):
//
//   - programs that exist to talk to the network (curl, wget, nc, ssh, scp,
//     rsync, ftp, aws, kubectl, browsers, ...) are reported whatever their
//     arguments;
//   - mostly-local programs with networking subcommands (git clone/fetch,
//     go get/mod tidy/run pkg@version, docker run/pull, openssl s_client,
//     pip install, ...) when their first non-flag arguments name one;
//   - URL openers (xdg-open, open, start) when given a URL;
//   - interpreters (python -c, perl -e, node -e, ruby -e, php -r, ...)
//     whose code uses network modules, URLs or runs a network program;
//   - shells (sh -c, cmd /c, powershell -Command/-EncodedCommand) whose
//     script, split into simple commands, runs one in command position
//     (so "echo $HOST" and "test -x /usr/bin/nc" are not reported), or uses
//     /dev/tcp; wrappers (env, sudo, timeout, xargs, busybox, ...) are looked
//     through.
//
// A function whose parameters reach a launcher exports a Launches fact with
// argv templates, so each call of it, in any package, is judged with its
// arguments; a function that runs a network program exports the chain, and
// calls from other packages are reported with it. A program, script or code
// netlint cannot resolve is an "unresolved command" finding (config
// "unresolved": "warn" or -unresolved=warn makes it a warning, of
// diagnostic category "warning", that the netlint driver prints without
// failing; "ignore" turns these off; an "exec" exception for "?" allows
// them). Suppress a finding with
// "//netlint:allow <reason>" or an "exec" exception naming the program.
package netexec
