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

// command is one of guardrun's commands. commands is the one table of
// them: the usage text, help COMMAND and shell completion come from it, and
// each command's flags from its own flag set (flagsOf), never a copy.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

var commands []command

func init() {
	// In init: completion's entry reads the table it is in.
	commands = []command{
		{"run", "run the pipeline (skips what is up to date, resumes from checkpoints)", cmdRun},
		{"plan", "show what would run or be skipped, and why", cmdPlan},
		{"check", "validate the spec, the policy and Go processors; show what this host enforces", cmdCheck},
		{"status", "show the last run (or --run-id) and who holds the lock", cmdStatus},
		{"verify", "verify the audit chain", cmdVerify},
		{"report", "write a self-contained HTML report of a run", cmdReport},
		{"clean", "delete what is no longer needed: old runs' files, logs, builds, outputs of stages gone from the spec", cmdClean},
		{"completion", "print a shell completion script (bash, zsh or fish)", cmdCompletion},
		{"version", "print the version", cmdVersion},
		{"help", "list the commands, or one command's flags", nil},
	}
}

func usageText() string {
	var b strings.Builder
	b.WriteString("usage: guardrun <command> [flags]\n\ncommands:\n")
	for _, c := range commands {
		fmt.Fprintf(&b, "  %-10s %s\n", c.name, c.summary)
	}
	b.WriteString(`
exit codes: 0 ok, 1 a stage failed, 2 usage or invalid spec, 3 policy or lint violation,
            4 locked by another run, 130 interrupted

run 'guardrun help <command>' for the flags of a command`)
	return b.String()
}

func cmdVersion(_ context.Context, args []string, stdout, _ io.Writer) error {
	fs := newFlags("version", stdout)
	if err := parse(fs, args); err != nil {
		return err
	}
	fmt.Fprintln(stdout, versionLine())
	return nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usageText())
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
	case "--version", "-version":
		fmt.Fprintln(stdout, versionLine())
		return nil
	case "help", "-h", "--help":
		if len(rest) > 0 && isCommand(rest[0]) && rest[0] != "help" {
			// The command's own flags, on stdout.
			return dispatch(ctx, rest[0], []string{"-h"}, stdout, stdout)
		}
		if len(rest) > 0 && rest[0] != "help" && !strings.HasPrefix(rest[0], "-") {
			fmt.Fprintln(stderr, usageText())
			return &usageError{msg: fmt.Sprintf("unknown command %q", rest[0])}
		}
		fmt.Fprintln(stdout, usageText())
		return nil
	}
	for _, c := range commands {
		if c.name == cmd && c.run != nil {
			return c.run(ctx, rest, stdout, stderr)
		}
	}
	fmt.Fprintln(stderr, usageText())
	return &usageError{msg: fmt.Sprintf("unknown command %q", cmd)}
}

var version = "dev"

// isCommand reports whether name is one of guardrun's commands.
func isCommand(name string) bool {
	for _, c := range commands {
		if c.name == name {
			return true
		}
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

// newFlags returns a FlagSet that reports errors instead of exiting; -h
// and --help print the command's flags on helpOut (stdout: help is what
// was asked for, as `guardrun help COMMAND` does).
func newFlags(name string, helpOut io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("guardrun "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	if c, ok := helpOut.(*flagCollector); ok {
		c.fs = fs
	}
	flagOut.Store(fs, helpOut)
	return fs
}

// parse parses flags; -h is not an error, bad flags are usage errors.
func parse(fs *flag.FlagSet, args []string) error {
	if err := parseArgs(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return &usageError{msg: fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	return nil
}

// parseArgs is parse for a command that takes arguments after its flags.
func parseArgs(fs *flag.FlagSet, args []string) error {
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
