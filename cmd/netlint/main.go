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
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
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

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("netlint", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		transitive = fs.Bool("transitive", false, "also report imports that reach a forbidden package through other packages (shortest chain)")
		jsonOut    = fs.Bool("json", false, "print findings as JSON on stdout (the exit code still says whether there were any)")
		tests      = fs.Bool("test", true, "also lint test files")
		tags       = fs.String("tags", "", "comma-separated build tags")
		dir        = fs.String("C", "", "run as if started in `dir`")
		timing     = fs.Bool("timing", false, "print the duration of each phase on stderr")
	)
	suite.RegisterFlags(fs)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: netlint [flags] [packages]\n       go vet -vettool=$(command -v netlint) [-transitive] [packages]\n\nnetlint reports Go code that could reach a network. Flags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitClean
		}
		return exitUsage
	}
	opts := suite.Options{
		Dir:        *dir,
		Patterns:   fs.Args(),
		Transitive: *transitive,
		Tests:      *tests,
		FromFlags:  true,
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
			fmt.Fprintf(stderr, "netlint: %v\n", err)
			return exitUsage
		}
		opts.Dir = ""
	}
	start := time.Now()
	findings, err := suite.Run(ctx, opts)
	if *timing {
		fmt.Fprintf(stderr, "netlint: %-8s %v\n", "total", time.Since(start).Round(time.Millisecond))
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitError
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
			fmt.Fprintln(stderr, err)
			return exitError
		}
	} else {
		for _, f := range findings {
			fmt.Fprintln(stdout, f.String())
		}
	}
	if len(findings) > 0 {
		if !*jsonOut {
			fmt.Fprintf(stderr, "netlint: %d finding(s); suppress one only with //netlint:allow <reason>\n", len(findings))
		}
		return exitFindings
	}
	return exitClean
}
