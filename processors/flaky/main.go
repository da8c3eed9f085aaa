// Command flaky is a test processor: it fails its first failTimes attempts
// with exitCode, then behaves like copy.
//
// Params (all optional):
//
//	{"failTimes": 2, "exitCode": 75, "stateFile": "state/flaky.count",
//	 "failAfterLines": 0, "output": "copy.txt"}
//
// Attempts are counted with PIPELINE_ATTEMPT, or, when stateFile is set, by a
// counter in that file (relative to the working directory) that every
// invocation increments, so that failures can also span separate runs.
// With failAfterLines > 0 a failing attempt first copies (and checkpoints)
// that many lines and then fails, leaving output past the last checkpoint
// that the runner must truncate before the retry.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/guardrun/guardrun/processors/sdk"
)

type params struct {
	FailTimes      int    `json:"failTimes"`
	ExitCode       *int   `json:"exitCode"`
	StateFile      string `json:"stateFile"`
	FailAfterLines int64  `json:"failAfterLines"`
	Output         string `json:"output"`
}

var errPlanned = errors.New("planned failure")

func main() {
	sdk.Main(run)
}

func run(e *sdk.Env) error {
	var p params
	if err := e.DecodeParams(&p); err != nil {
		return err
	}
	code := sdk.ExitTransient
	if p.ExitCode != nil {
		code = *p.ExitCode
	}
	if code == 0 {
		return fmt.Errorf("params.exitCode: 0 is not a failure")
	}
	attempt := e.Attempt
	if p.StateFile != "" {
		n, err := bump(p.StateFile)
		if err != nil {
			return err
		}
		attempt = n
	}
	failing := attempt <= p.FailTimes
	if failing && p.FailAfterLines <= 0 {
		return &sdk.ExitError{Code: code, Err: fmt.Errorf("%w: attempt %d of %d failing", errPlanned, attempt, p.FailTimes)}
	}

	out, err := e.OpenOutput(e.OutputName(p.Output, "copy.txt"))
	if err != nil {
		return err
	}
	defer out.Close()
	var done int64
	err = sdk.MapLines(e, out, func(line []byte, w io.Writer) error {
		if failing && done >= p.FailAfterLines {
			return &sdk.ExitError{Code: code, Err: fmt.Errorf("%w: attempt %d of %d failing after %d lines", errPlanned, attempt, p.FailTimes, done)}
		}
		done++
		_, err := w.Write(line)
		return err
	})
	if err != nil {
		return err
	}
	if failing { // fewer lines than failAfterLines: fail at the end
		return &sdk.ExitError{Code: code, Err: fmt.Errorf("%w: attempt %d of %d failing at the end", errPlanned, attempt, p.FailTimes)}
	}
	return out.Close()
}

// bump increments the counter in path and returns the new value. The write
// is tmp + fsync + rename so that a crash leaves the old or the new count.
func bump(path string) (int, error) {
	n := 0
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		n, err = strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil {
			return 0, fmt.Errorf("params.stateFile %s: not a counter: %w", path, err)
		}
	case !errors.Is(err, os.ErrNotExist):
		return 0, fmt.Errorf("params.stateFile: %w", err)
	}
	n++
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return 0, fmt.Errorf("params.stateFile: %w", err)
	}
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return 0, fmt.Errorf("params.stateFile: %w", err)
	}
	_, werr := f.WriteString(strconv.Itoa(n) + "\n")
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		return 0, fmt.Errorf("params.stateFile: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return 0, fmt.Errorf("params.stateFile: %w", err)
	}
	return n, nil
}
