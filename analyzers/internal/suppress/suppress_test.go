package suppress_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"testing"

	"github.com/guardrun/guardrun/analyzers/internal/suppress"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/tools/go/analysis"
)

func TestParse(t *testing.T) {
	tests := []struct {
		text   string
		ok     bool
		verb   string
		reason string
		valid  bool
	}{
		{"//netlint:allow why not", true, "allow", "why not", true},
		{"// netlint:allow spaced", true, "allow", "spaced", true},
		{"//netlint:allow\ttabbed reason", true, "allow", "tabbed reason", true},
		{"//netlint:allow", true, "allow", "", false},
		{"//netlint:allow   ", true, "allow", "", false},
		{"//netlint:allow // want `x`", true, "allow", "", false},
		{"//netlint:allow reason // trailing", true, "allow", "reason", true},
		{"//netlint:ignore x", true, "ignore", "x", false},
		{"// mentions netlint:allow in prose", false, "", "", false},
		{"/* netlint:allow x */", false, "", "", false},
		{"//nolint", false, "", "", false},
	}
	for _, tt := range tests {
		d, ok := suppress.Parse(&ast.Comment{Text: tt.text})
		require.Equal(t, tt.ok, ok, tt.text)
		if !ok {
			continue
		}
		assert.Equal(t, tt.verb, d.Verb, tt.text)
		assert.Equal(t, tt.reason, d.Reason, tt.text)
		assert.Equal(t, tt.valid, d.Valid(), tt.text)
	}
}

const src = `package p

import (
	"a" //netlint:allow trailing covers line 4

	//netlint:allow own line covers line 7
	"b"
	"c"
)

//netlint:allow block
import (
	"d"
	"e"
)

import "f" //netlint:allow
`

func TestCoverage(t *testing.T) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "p.go", src, parser.ParseComments)
	require.NoError(t, err)
	pass := &analysis.Pass{Fset: fset, Files: []*ast.File{f}, ReadFile: func(string) ([]byte, error) { return []byte(src), nil }}
	ix := suppress.New(pass)
	covered := map[string]bool{}
	for _, spec := range f.Imports {
		_, ok := ix.Allowed(spec.Pos())
		covered[spec.Path.Value[1:2]] = ok
	}
	assert.Equal(t, map[string]bool{"a": true, "b": true, "c": false, "d": true, "e": true, "f": false}, covered)
	assert.Len(t, ix.Directives(), 4)
}

func TestNotHonouredInVersionedModules(t *testing.T) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "p.go", src, parser.ParseComments)
	require.NoError(t, err)
	pass := &analysis.Pass{Fset: fset, Files: []*ast.File{f}, ReadFile: os.ReadFile,
		Module: &analysis.Module{Path: "example.com/dep", Version: "v1.2.3"}}
	assert.False(t, suppress.Honoured(pass))
	ix := suppress.New(pass)
	for _, spec := range f.Imports {
		_, ok := ix.Allowed(spec.Pos())
		assert.False(t, ok, spec.Path.Value)
	}
}
