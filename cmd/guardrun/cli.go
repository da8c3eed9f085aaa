package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime/debug"
	"strings"
	"sync"
)

// errSilent marks an error already reported to the user.
var errSilent = errors.New("")

// usageError is a command-line mistake (exit 2). It is the only usage
// error type: libraries report theirs with sentinels that exitCode maps.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

const usage = `usage: guardrun <command> [flags]

commands:
  run     run the pipeline (skips what is up to date, resumes from checkpoints)
  plan    show what would run or be skipped, and why
  check   validate the spec, the policy and Go processors; show what this host enforces
  status  show the last run (or --run-id) and who holds the lock
  verify  verify the audit chain
  report  write a self-contained HTML report of a run
  version print the version

exit codes: 0 ok, 1 a stage failed, 2 usage or invalid spec, 3 policy or lint violation,
            4 locked by another run, 130 interrupted

run 'guardrun <command> -h' for the flags of a command`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return &usageError{msg: "missing command"}
	}
	err := dispatch(ctx, args[0], args[1:], stdout, stderr)
	if errors.Is(err, errHelp) {
		return nil
	}
	return err
}

func dispatch(ctx context.Context, cmd string, rest []string, stdout, stderr io.Writer) error {
	switch cmd {
	case "run":
		return cmdRun(ctx, rest, stdout, stderr)
	case "plan":
		return cmdPlan(ctx, rest, stdout, stderr)
	case "check":
		return cmdCheck(ctx, rest, stdout, stderr)
	case "status":
		return cmdStatus(ctx, rest, stdout, stderr)
	case "verify":
		return cmdVerify(ctx, rest, stdout, stderr)
	case "report":
		return cmdReport(ctx, rest, stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, versionLine())
		return nil
	case "help", "-h", "--help":
		if len(rest) > 0 && isCommand(rest[0]) {
			// The command's own flags, on stdout.
			return dispatch(ctx, rest[0], []string{"-h"}, stdout, stdout)
		}
		fmt.Fprintln(stdout, usage)
		return nil
	}
	fmt.Fprintln(stderr, usage)
	return &usageError{msg: fmt.Sprintf("unknown command %q", cmd)}
}

var version = "dev"

// isCommand reports whether name is one of guardrun's commands.
func isCommand(name string) bool {
	switch name {
	case "run", "plan", "check", "status", "verify", "report", "version":
		return true
	}
	return false
}

// versionLine is "guardrun <version> (<module version>, rev <revision>
// [modified], <go version>)", from the binary's build information.
func versionLine() string {
	s := "guardrun " + version
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return s
	}
	parts := []string{bi.Main.Version}
	var rev, modified string
	for _, kv := range bi.Settings {
		switch kv.Key {
		case "vcs.revision":
			rev = kv.Value
		case "vcs.modified":
			if kv.Value == "true" {
				modified = ", modified"
			}
		}
	}
	if rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		parts = append(parts, "rev "+rev+modified)
	}
	parts = append(parts, bi.GoVersion)
	return s + " (" + strings.Join(parts, ", ") + ")"
}

// flagOut is where each command's flag set prints its help (-h): flag
// errors are not printed by the flag package (the CLI prints one line).
var flagOut sync.Map // *flag.FlagSet -> io.Writer

// newFlags returns a FlagSet that reports errors instead of exiting.
func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("guardrun "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	flagOut.Store(fs, stderr)
	return fs
}

// parse parses flags; -h is not an error, bad flags are usage errors.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			if w, ok := flagOut.Load(fs); ok {
				out := w.(io.Writer)
				fmt.Fprintf(out, "usage: %s [flags]\n\nflags:\n", fs.Name())
				fs.SetOutput(out)
				fs.PrintDefaults()
				fs.SetOutput(io.Discard)
			}
			return errHelp
		}
		name := strings.TrimPrefix(fs.Name(), "guardrun ")
		return &usageError{msg: fmt.Sprintf("%s: %v (guardrun help %s lists its flags)", name, err, name)}
	}
	if fs.NArg() > 0 {
		return &usageError{msg: fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	return nil
}

var errHelp = errors.New("help")

// validRunID reports whether id is a run id: ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$
// (checked without compiling a regexp at every start).
func validRunID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || c != '.' && c != '_' && c != '-') {
			return false
		}
	}
	return true
}

// multiFlag is a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }
