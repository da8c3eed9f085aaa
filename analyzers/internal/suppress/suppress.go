package suppress

import (
	"bytes"
	"go/ast"
	"go/token"
	"sort"
	"strings"

	"golang.org/x/tools/go/analysis"
)

// Prefix starts every netlint directive.
const Prefix = "netlint:"

// Directive is one //netlint:... comment.
type Directive struct {
	Pos    token.Pos
	Verb   string // "allow" for a well-formed directive name
	Reason string // text after the verb, "" if missing
	Known  bool   // the verb is one netlint knows
}

// Valid reports whether the directive suppresses anything: a known verb with
// a reason.
func (d Directive) Valid() bool { return d.Known && d.Reason != "" }

// span is a range of lines of one file covered by a directive.
type span struct {
	file       *token.File
	start, end int // lines, inclusive
	dir        *Directive
}

// Index answers which directive, if any, covers a position.
type Index struct {
	fset       *token.FileSet
	directives []*Directive
	spans      []span
	honoured   bool
}

// Honoured reports whether directives count in the package of pass: they do in
// the main module, in local (replaced or workspace) modules and in GOPATH
// mode, and they do not in versioned modules from the module cache.
func Honoured(pass *analysis.Pass) bool {
	return pass.Module == nil || pass.Module.Version == ""
}

// Parse parses one comment. It returns false if the comment is not a netlint
// directive. Both "//netlint:allow why" and "// netlint:allow why" are
// recognised; the reason ends at a nested "//" so that a trailing comment
// (such as an analysistest "// want") is not part of it.
func Parse(c *ast.Comment) (Directive, bool) {
	text, ok := strings.CutPrefix(c.Text, "//")
	if !ok {
		return Directive{}, false
	}
	text = strings.TrimPrefix(text, " ")
	rest, ok := strings.CutPrefix(text, Prefix)
	if !ok {
		return Directive{}, false
	}
	verb, reason, _ := strings.Cut(rest, " ")
	if v, _, cut := strings.Cut(verb, "\t"); cut {
		verb, reason = v, rest[len(v):]
	}
	if i := strings.Index(reason, "//"); i >= 0 {
		reason = reason[:i]
	}
	d := Directive{Pos: c.Slash, Verb: verb, Reason: strings.TrimSpace(reason)}
	d.Known = verb == "allow"
	return d, true
}

// New indexes the directives of the files of pass. When the package does
// not honour directives (see Honoured) the index covers nothing, but
// Directives still lists them.
func New(pass *analysis.Pass) *Index {
	ix := &Index{fset: pass.Fset, honoured: Honoured(pass)}
	for _, f := range pass.Files {
		ix.addFile(pass, f)
	}
	return ix
}

func (ix *Index) addFile(pass *analysis.Pass, f *ast.File) {
	tf := ix.fset.File(f.Pos())
	if tf == nil {
		return
	}
	var src []byte // read lazily, only when the file has a directive
	loaded := false
	for _, cg := range f.Comments {
		for _, c := range cg.List {
			d, ok := Parse(c)
			if !ok {
				continue
			}
			dp := &d
			ix.directives = append(ix.directives, dp)
			if !d.Valid() {
				continue
			}
			if !loaded {
				loaded = true
				if pass.ReadFile != nil {
					src, _ = pass.ReadFile(tf.Name())
				}
			}
			line := tf.Line(c.Slash)
			target := line
			if ownLine(tf, src, c.Slash) {
				// A directive on a line of its own covers the line after
				// its comment group.
				target = tf.Line(cg.End()) + 1
			}
			start, end := target, target
			// A directive covering the "import (" line covers the block.
			for _, decl := range f.Decls {
				gd, ok := decl.(*ast.GenDecl)
				if !ok || gd.Tok != token.IMPORT || !gd.Lparen.IsValid() {
					continue
				}
				if tf.Line(gd.Pos()) == target || tf.Line(gd.Lparen) == target {
					end = max(end, tf.Line(gd.Rparen))
				}
			}
			ix.spans = append(ix.spans, span{file: tf, start: start, end: end, dir: dp})
		}
	}
}

// ownLine reports whether only white space precedes pos on its line. Without
// the source it falls back to "yes" when the comment starts the line's
// first column.
func ownLine(tf *token.File, src []byte, pos token.Pos) bool {
	off := tf.Offset(pos)
	if src == nil || off > len(src) {
		return tf.Position(pos).Column == 1
	}
	start := bytes.LastIndexByte(src[:off], '\n') + 1
	return len(bytes.TrimSpace(src[start:off])) == 0
}

// Allowed returns the valid directive that covers pos, if any.
func (ix *Index) Allowed(pos token.Pos) (*Directive, bool) {
	if !ix.honoured || !pos.IsValid() {
		return nil, false
	}
	tf := ix.fset.File(pos)
	if tf == nil {
		return nil, false
	}
	line := tf.Line(pos)
	for _, s := range ix.spans {
		if s.file == tf && line >= s.start && line <= s.end {
			return s.dir, true
		}
	}
	return nil, false
}

// Directives returns every netlint directive of the package, valid or not, in
// source order.
func (ix *Index) Directives() []Directive {
	out := make([]Directive, len(ix.directives))
	for i, d := range ix.directives {
		out[i] = *d
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Pos < out[j].Pos })
	return out
}
