package pipeline

import (
	"fmt"
	"path"
	"strings"
)

// Templates are how a fan-out stage's inputs and outputs name the files of
// one item: "{stem}.txt", "{dir}/{name}.gz". Each {var} is replaced by a
// value of the item (ItemVars); "{{" and "}}" are literal braces.

// TemplateVars are the variables a template may use, in documentation
// order.
var TemplateVars = []string{"path", "item", "dir", "name", "stem", "ext"}

// ItemVars is what an item gives the templates of its stage.
type ItemVars struct {
	// Path is the item's file, workspace-relative with forward slashes:
	// the matched file, or for a chained stage the upstream item's first
	// output.
	Path string
	// Item is the item's id: its file relative to the foreach root
	// (stable along a chain of fan-out stages).
	Item string
}

func (v ItemVars) lookup(name string) string {
	switch name {
	case "path":
		return v.Path
	case "item":
		return v.Item
	case "dir":
		return path.Dir(v.Item)
	case "name":
		return path.Base(v.Path)
	case "stem":
		b := path.Base(v.Path)
		return strings.TrimSuffix(b, lastExt(b))
	case "ext":
		return lastExt(path.Base(v.Path))
	}
	return ""
}

// lastExt is the last extension of base name b, dot included; a leading dot
// starts no extension (".env" has none, ".env.gz" has ".gz").
func lastExt(b string) string {
	e := path.Ext(b)
	if len(e) == len(b) {
		return ""
	}
	return e
}

// ParseTemplate checks a template's syntax and returns the variables it
// uses, in order (nil for a plain string).
func ParseTemplate(s string) ([]string, error) {
	var vars []string
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '{':
			if i+1 < len(s) && s[i+1] == '{' {
				i++
				continue
			}
			end := strings.IndexByte(s[i+1:], '}')
			if end < 0 {
				return nil, fmt.Errorf("unclosed { in %q (write {{ for a literal brace)", s)
			}
			name := s[i+1 : i+1+end]
			if !isTemplateVar(name) {
				return nil, fmt.Errorf("unknown template variable {%s} in %q (known: {%s})%s", name, s, strings.Join(TemplateVars, "}, {"), didYouMean(name, TemplateVars))
			}
			vars = append(vars, name)
			i += end + 1
		case '}':
			if i+1 < len(s) && s[i+1] == '}' {
				i++
				continue
			}
			return nil, fmt.Errorf("unmatched } in %q (write }} for a literal brace)", s)
		}
	}
	return vars, nil
}

func isTemplateVar(name string) bool {
	for _, v := range TemplateVars {
		if v == name {
			return true
		}
	}
	return false
}

// IsTemplate reports whether s uses a template variable or brace escape.
func IsTemplate(s string) bool { return strings.ContainsAny(s, "{}") }

// ExpandTemplate replaces the variables of a valid template (ParseTemplate)
// by the item's values.
func ExpandTemplate(s string, v ItemVars) string {
	if !IsTemplate(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '{' && i+1 < len(s) && s[i+1] == '{', c == '}' && i+1 < len(s) && s[i+1] == '}':
			b.WriteByte(c)
			i++
		case c == '{':
			end := strings.IndexByte(s[i+1:], '}')
			if end < 0 {
				b.WriteString(s[i:])
				return b.String()
			}
			b.WriteString(v.lookup(s[i+1 : i+1+end]))
			i += end + 1
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
