package pipeline

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// SpecError is one problem found while loading a spec. Field names the place
// in JSON-path style ("stages[1].outputDir"); it is empty for problems of the
// document as a whole, which carry a Line and Col instead when they have one
// (syntax errors, trailing data).
type SpecError struct {
	File  string // base name of the spec file
	Field string // JSON path, e.g. "stages[0].retry.maxAttempts"
	Msg   string
	Line  int // 1-based; 0 when the problem has no position
	Col   int // 1-based, in characters
	Err   error
}

// Error renders "<file>: <field>: <msg>", or "<file>:<line>:<col>: <msg>" for
// positioned problems, leaving out the parts that are empty.
func (e *SpecError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d:%d", e.Line, e.Col)
	}
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// ErrInvalidSpec is what every *SpecError and SpecErrors is (errors.Is):
// a spec that cannot be loaded.
var ErrInvalidSpec = errors.New("invalid spec")

// Is makes errors.Is(err, ErrInvalidSpec) true.
func (e *SpecError) Is(target error) bool { return target == ErrInvalidSpec }

// Unwrap returns the underlying error, if any (for example fs.ErrNotExist).
func (e *SpecError) Unwrap() error { return e.Err }

// SpecErrors is every problem found in one spec, first problem first.
type SpecErrors []*SpecError

// Error joins the problems with newlines.
func (es SpecErrors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "\n")
}

// Unwrap lets errors.As find the individual problems.
func (es SpecErrors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// Problems lists the problems carried by err, whether it is a *SpecError, a
// SpecErrors or wraps either; it returns nil for any other error.
func Problems(err error) []*SpecError {
	var es SpecErrors
	if errors.As(err, &es) {
		return es
	}
	var e *SpecError
	if errors.As(err, &e) {
		return []*SpecError{e}
	}
	return nil
}

// problems collects SpecErrors for one spec file.
type problems struct {
	file string
	list SpecErrors
}

func newProblems(specPath string) *problems {
	return &problems{file: filepath.Base(specPath)}
}

func (p *problems) add(field, format string, args ...any) {
	p.list = append(p.list, &SpecError{File: p.file, Field: field, Msg: fmt.Sprintf(format, args...)})
}

func (p *problems) addAt(line, col int, format string, args ...any) {
	p.list = append(p.list, &SpecError{File: p.file, Line: line, Col: col, Msg: fmt.Sprintf(format, args...)})
}

func (p *problems) empty() bool { return len(p.list) == 0 }

// err returns nil, the single *SpecError, or all of them as SpecErrors.
func (p *problems) err() error {
	switch len(p.list) {
	case 0:
		return nil
	case 1:
		return p.list[0]
	default:
		return p.list
	}
}
