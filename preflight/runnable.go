package preflight

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/guardrun/guardrun/internal/execpath"
	"github.com/guardrun/guardrun/pipeline"
)

// CheckRunnable finds what is certain to fail before anything runs, as
// spec problems naming the field (exit 2 in the CLI): an input that does
// not exist and that no stage produces, and an exec processor that is not
// found in the workspace or on PATH, is not executable, or is a directory.
// A program or input some stage produces is left to the run.
func CheckRunnable(p *pipeline.Pipeline) error {
	var probs pipeline.SpecErrors
	add := func(field, msg string) {
		probs = append(probs, &pipeline.SpecError{File: filepath.Base(p.SpecPath), Field: field, Msg: msg})
	}
	produced := p.Producer()
	res := execpath.NewResolver()
	// Thousands of stages run a handful of programs: each is resolved once.
	type key struct{ argv0, searchPath string }
	resolved := map[key]error{}
	for i, s := range p.Stages {
		at := "stages[" + strconv.Itoa(i) + "]"
		if len(s.Processor.Exec) > 0 {
			argv0 := s.Processor.Exec[0]
			rel := filepath.ToSlash(filepath.Clean(argv0))
			if !(strings.Contains(argv0, "/") && !filepath.IsAbs(argv0) && produced(rel)) {
				k := key{argv0, execpath.SearchPath(s.Env)}
				err, ok := resolved[k]
				if !ok {
					_, err = res.ResolveIn(p.Workspace, argv0, k.searchPath)
					resolved[k] = err
				}
				if err != nil && !isInterpreterErr(err) {
					add(fmt.Sprintf("%s.processor.exec[0]", at), fmt.Sprintf("%q: %s", argv0, describeProgramErr(err)))
				}
			}
		}
		for j, in := range s.Inputs {
			if pipeline.IsTemplate(in) {
				continue // per item: checked when the items are listed
			}
			if !filepath.IsAbs(in) && produced(in) {
				continue
			}
			if _, err := os.Stat(p.Abs(in)); errors.Is(err, fs.ErrNotExist) {
				add(fmt.Sprintf("%s.inputs[%d]", at, j), fmt.Sprintf("%q does not exist and no stage produces it", in))
			}
		}
	}
	if len(probs) == 0 {
		return nil
	}
	return probs
}

// describeProgramErr says what is wrong with a program in the words of
// the resolver, without repeating its name.
func describeProgramErr(err error) string {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "not found in the workspace or PATH"):
		return "not found in the workspace or on PATH"
	case strings.HasSuffix(msg, "is not executable"):
		return "is not executable (no x permission)"
	case strings.HasSuffix(msg, "is a directory"):
		return "is a directory, not a program"
	}
	return msg
}

// isInterpreterErr reports an error about a script's "#!" interpreter,
// which the policy reports (GR001) with the interpreter it judged.
func isInterpreterErr(err error) bool {
	return strings.Contains(err.Error(), "interpreter")
}
