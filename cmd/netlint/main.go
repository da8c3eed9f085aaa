package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/guardrun/guardrun/analyzers/suite"
	"golang.org/x/tools/go/analysis/unitchecker"
)

// Exit codes of the standalone mode.
const (
	exitClean    = 0
	exitError    = 1
	exitUsage    = 2
	exitFindings = 3
)

// findingsError: the linted code has findings (exit 3). They are on stdout
// already; the error is the summary line for stderr.
type findingsError struct {
	count    int // findings that are not warnings
	warnings int
	// json: the JSON document on stdout says it all; nothing goes to
	// stderr.
	json bool
}

func (e *findingsError) Error() string {
	if e.warnings > 0 {
		return fmt.Sprintf("netlint: %d finding(s) and %d warning(s); suppress one only with //netlint:allow <reason>", e.count, e.warnings)
	}
	return fmt.Sprintf("netlint: %d finding(s); suppress one only with //netlint:allow <reason>", e.count)
}

// usageError is a command-line mistake (exit 2).
type usageError struct {
	err error
	// reported: the flag package has printed it with the usage already.
	reported bool
}

func (e *usageError) Error() string { return "netlint: " + e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// exitCode is the one place errors become exit codes. A failure to lint
// (*suite.Error: a bad config, a package that does not load, an analyzer
// failure) is exit 1 in the standalone mode, like any other error.
func exitCode(err error) int {
	var (
		fe *findingsError
		ue *usageError
	)
	switch {
	case err == nil:
		return exitClean
	case errors.As(err, &fe):
		return exitFindings
	case errors.As(err, &ue):
		return exitUsage
	default:
		return exitError
	}
}

// report prints err on stderr unless it has been reported already.
func report(stderr io.Writer, err error) {
	var (
		fe *findingsError
		ue *usageError
	)
	switch {
	case err == nil:
	case errors.As(err, &fe) && fe.json:
	case errors.As(err, &ue) && ue.reported:
	default:
		fmt.Fprintln(stderr, err)
	}
}

func main() {
	if vetMode(os.Args[1:]) {
		// The go command speaks the unitchecker protocol: -V=full, -flags,
		// then one invocation per package with a .cfg file. -transitive and
		// the policy flags are registered globally so that "go vet" accepts
		// and forwards them.
		flag.Bool("transitive", false, "also report imports that reach a forbidden package through other packages")
		suite.RegisterFlags(flag.CommandLine)
		unitchecker.Main(suite.Analyzers(transitiveArg(os.Args[1:]))...)
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	report(os.Stderr, err)
	stop()
	os.Exit(exitCode(err))
}

// vetMode reports whether the go command is driving netlint as a vet tool.
func vetMode(args []string) bool {
	for _, a := range args {
		switch {
		case a == "-flags", a == "--flags", strings.HasPrefix(a, "-V"), strings.HasPrefix(a, "--V"):
			return true
		}
	}
	return len(args) > 0 && strings.HasSuffix(args[len(args)-1], ".cfg")
}

// transitiveArg finds -transitive[=bool] before the analyzers are chosen.
func transitiveArg(args []string) bool {
	on := false
	for _, a := range args {
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || name != "transitive" {
			continue
		}
		on = true
		if hasVal {
			on, _ = strconv.ParseBool(val)
		}
	}
	return on
}

// run is the standalone mode. Its error says what went wrong (main prints
// it and maps it to the exit code).
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("netlint", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		transitive = fs.Bool("transitive", false, "also report imports that reach a forbidden package through other packages (shortest chain)")
		jsonOut    = fs.Bool("json", false, "print findings as JSON on stdout (the exit code still says whether there were any)")
		tests      = fs.Bool("test", true, "also lint test files")
		tags       = fs.String("tags", "", "comma-separated build tags")
		dir        = fs.String("C", "", "run as if started in `dir`")
		timing     = fs.Bool("timing", false, "print the duration of each phase on stderr")
		cpuprofile = fs.String("cpuprofile", "", "write a CPU profile of the run to `file` (go tool pprof)")
		deps       = fs.Bool("deps", false, "also analyse dependencies in versioned modules from source, for call chains through them (slower; those in local modules always are)")
	)
	suite.RegisterFlags(fs)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: netlint [flags] [packages]\n       go vet -vettool=$(command -v netlint) [-transitive] [packages]\n\nnetlint reports Go code that could reach a network. Flags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return &usageError{err: err, reported: true}
	}
	opts := suite.Options{
		Dir:        *dir,
		Patterns:   fs.Args(),
		Transitive: *transitive,
		Tests:      *tests,
		FromFlags:  true,
		Deps:       *deps,
	}
	if *tags != "" {
		opts.BuildFlags = []string{"-tags=" + *tags}
	}
	if *timing {
		opts.Timings = func(phase string, d time.Duration) {
			fmt.Fprintf(stderr, "netlint: %-8s %v\n", phase, d.Round(time.Millisecond))
		}
	}
	if *dir != "" {
		// Relative config paths and discovery follow -C like go -C does.
		if err := os.Chdir(*dir); err != nil {
			return &usageError{err: err}
		}
		opts.Dir = ""
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return &usageError{err: err}
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	start := time.Now()
	findings, err := suite.Run(ctx, opts)
	if *timing {
		fmt.Fprintf(stderr, "netlint: %-8s %v\n", "total", time.Since(start).Round(time.Millisecond))
	}
	if err != nil && len(findings) == 0 {
		return err
	}
	if *jsonOut {
		if findings == nil {
			findings = []suite.Finding{}
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(struct {
			Findings []suite.Finding `json:"findings"`
		}{findings}); err != nil {
			return err
		}
	} else {
		for _, f := range findings {
			fmt.Fprintln(stdout, f.String())
		}
	}
	if err != nil {
		return err // a package that does not load: exit 1, with the others' findings printed
	}
	warnings := 0
	for _, f := range findings {
		if f.IsWarning() {
			warnings++
		}
	}
	if n := len(findings) - warnings; n > 0 {
		return &findingsError{count: n, warnings: warnings, json: *jsonOut}
	}
	if warnings > 0 && !*jsonOut {
		fmt.Fprintf(stderr, "netlint: %d warning(s) (unresolved programs or traps, \"unresolved\": \"warn\"): not failing\n", warnings)
	}
	return nil
}
