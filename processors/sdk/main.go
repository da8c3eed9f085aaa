package sdk

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Exit codes of the processor protocol.
const (
	ExitOK        = 0
	ExitFailure   = 1
	ExitTransient = 75 // EX_TEMPFAIL: worth a retry
)

// ErrTransient marks an error as transient: Main exits with ExitTransient
// for any error that wraps it.
var ErrTransient = errors.New("transient")

type transientError struct{ err error }

func (t transientError) Error() string   { return t.err.Error() }
func (t transientError) Unwrap() []error { return []error{t.err, ErrTransient} }

// Transient wraps err so that errors.Is(err, ErrTransient) holds and the
// message is unchanged. Transient(nil) is nil.
func Transient(err error) error {
	if err == nil {
		return nil
	}
	return transientError{err}
}

// ExitError makes Main exit with Code (for processors that must choose their
// exit code, e.g. to exercise a runner's retryableExitCodes).
type ExitError struct {
	Code int
	Err  error
}

func (x *ExitError) Error() string {
	if x.Err == nil {
		return fmt.Sprintf("exit code %d", x.Code)
	}
	return x.Err.Error()
}

func (x *ExitError) Unwrap() error { return x.Err }

// ExitCode maps an error returned by a processor to its exit code: 0 for
// nil, the code of a wrapped *ExitError, 75 for errors wrapping ErrTransient,
// 1 otherwise.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var x *ExitError
	if errors.As(err, &x) {
		return x.Code
	}
	if errors.Is(err, ErrTransient) {
		return ExitTransient
	}
	return ExitFailure
}

// Main is a processor's whole main function: it loads the environment, runs
// fn, prints fn's error (if any) to stderr and exits with ExitCode.
func Main(fn func(e *Env) error) {
	os.Exit(run(fn))
}

func run(fn func(e *Env) error) int {
	prog := filepath.Base(os.Args[0])
	e, err := FromEnv()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", prog, err)
		return ExitFailure
	}
	err = fn(e)
	if cerr := e.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("closing progress pipe: %w", cerr)
	}
	code := ExitCode(err)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", prog, err)
		if code == ExitOK { // an ExitError{Code: 0} still reports success
			return ExitOK
		}
	}
	return code
}
