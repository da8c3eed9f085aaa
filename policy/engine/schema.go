package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/guardrun/guardrun/policy"
)

// inputSchemas holds policy.InputSchema where OPA's type checker takes the
// schema of the whole input document (ast.SchemaRootRef), parsed once per
// process. With it, a reference to a path the input does not have
// (input.stages for input.pipeline.stages) is a compile error.
var inputSchemas = sync.OnceValues(func() (*ast.SchemaSet, error) {
	doc, err := schemaDoc()
	if err != nil {
		return nil, err
	}
	ss := ast.NewSchemaSet()
	ss.Put(ast.SchemaRootRef, doc)
	return ss, nil
})

func schemaDoc() (map[string]any, error) {
	var doc map[string]any
	if err := json.Unmarshal(policy.InputSchema(), &doc); err != nil {
		return nil, &policy.Error{File: policy.InputSchemaFile, Err: fmt.Errorf("reading the input schema %s: %w", policy.InputSchemaFile, err)}
	}
	return doc, nil
}

// schemaPaths lists every path the input schema describes, in Rego
// notation ("input.pipeline.stages[_].name", "input.host.resolved[_]"),
// sorted. Objects whose keys are data (resolved, env, params) end in
// "[_]" when their values have a shape, and are leaves otherwise.
var schemaPaths = sync.OnceValues(func() ([]string, error) {
	doc, err := schemaDoc()
	if err != nil {
		return nil, err
	}
	defs, _ := doc["definitions"].(map[string]any)
	var out []string
	var walk func(path string, s map[string]any, depth int)
	walk = func(path string, s map[string]any, depth int) {
		if ref, ok := s["$ref"].(string); ok {
			if def, ok := defs[strings.TrimPrefix(ref, "#/definitions/")].(map[string]any); ok && depth < 32 {
				walk(path, def, depth+1)
			}
			return
		}
		out = append(out, path)
		if props, ok := s["properties"].(map[string]any); ok {
			for k, p := range props {
				if ps, ok := p.(map[string]any); ok {
					walk(path+"."+k, ps, depth+1)
				}
			}
			return
		}
		if items, ok := s["items"].(map[string]any); ok {
			walk(path+"[_]", items, depth+1)
		}
		if add, ok := s["additionalProperties"].(map[string]any); ok && (add["properties"] != nil || add["items"] != nil || add["$ref"] != nil) {
			walk(path+"[_]", add, depth+1)
		}
	}
	walk("input", doc, 0)
	slices.Sort(out)
	return out, nil
})

// schemaError explains the type errors the input schema caused: a module
// that names a path the input document does not have, with the file and
// line, the reference, what is there instead and the closest path that
// exists. It returns nil when errs holds no such error.
func schemaError(errs ast.Errors) error {
	var lines []string
	file := ""
	for _, e := range errs {
		d, ok := e.Details.(*ast.RefErrInvalidDetail)
		if e.Code != ast.TypeErr || !ok || d.Have != nil || d.Pos <= 0 || d.Pos >= len(d.Ref) {
			continue
		}
		key, ok := d.Ref[d.Pos].Value.(ast.String)
		if !ok {
			continue
		}
		ref := shownRef(d.Ref, d.Pos)
		loc := "(unknown file)"
		if e.Location != nil {
			loc = where(e.Location.File, e.Location)
			if file == "" {
				file = e.Location.File
			}
		}
		var have []string
		for _, v := range d.OneOf {
			have = append(have, v.String())
		}
		line := fmt.Sprintf("%s: %s is not in the input document", loc, ref)
		if len(have) > 0 {
			line += fmt.Sprintf(": %s has %s", ref[:d.Pos], strings.Join(have, ", "))
		}
		if hint := suggest(ref, d.Pos, string(key), d.OneOf); hint != "" {
			line += "; did you mean " + hint + "?"
		}
		lines = append(lines, line)
	}
	if len(lines) == 0 {
		return nil
	}
	return &policy.Error{File: file, Err: fmt.Errorf(
		"%s\n  (policies are type-checked against the shape of their input, %s: a rule that names a path the input does not have would never fire; `guardrun check --policy-input` prints the input)",
		strings.Join(lines, "\n  "), policy.InputSchemaFile)}
}

// shownRef is ref as the module wrote it: the variables the compiler made
// up are "_", and the ones it appended after pos to iterate (`some s in
// input.stages` is input.stages[__local0__]) are dropped.
func shownRef(ref ast.Ref, pos int) ast.Ref {
	out := ref.Copy()
	end := len(out)
	for end > pos+1 && generated(out[end-1]) {
		end--
	}
	out = out[:end]
	for i, t := range out {
		if i > 0 && generated(t) {
			out[i] = ast.VarTerm("_")
		}
	}
	return out
}

func generated(t *ast.Term) bool {
	v, ok := t.Value.(ast.Var)
	return ok && (v.IsGenerated() || v.IsWildcard() || strings.HasPrefix(string(v), "__local"))
}

// suggest names what a wrong reference probably meant: the paths of the
// input that end in the same key (input.stages: input.pipeline.stages;
// s.memoryMB: input.pipeline.stages[_].resources.memoryMB, ...), at most
// three of them; else the key of the object there that is closest to it
// (s.idempotnt: s.idempotent).
func suggest(ref ast.Ref, pos int, key string, oneOf []ast.Value) string {
	if paths, err := schemaPaths(); err == nil {
		var hits []string
		suffix := "." + key + genericRef(ref[pos+1:])
		for _, p := range paths {
			if strings.HasSuffix(p, suffix) {
				hits = append(hits, p)
			}
		}
		if len(hits) > 0 && len(hits) <= 3 {
			return strings.Join(hits, " or ")
		}
	}
	best, bestDist := "", 3
	for _, v := range oneOf {
		s, ok := v.(ast.String)
		if !ok {
			continue
		}
		d := distance(strings.ToLower(key), strings.ToLower(string(s)))
		if d < bestDist {
			best, bestDist = string(s), d
		}
	}
	if best == "" {
		return ""
	}
	return ref[:pos].Append(ast.StringTerm(best)).String()
}

// genericRef renders the rest of a reference as schemaPaths does: keys as
// ".key", any other element as "[_]".
func genericRef(ref ast.Ref) string {
	var b strings.Builder
	for _, t := range ref {
		if s, ok := t.Value.(ast.String); ok {
			b.WriteString("." + string(s))
		} else {
			b.WriteString("[_]")
		}
	}
	return b.String()
}

// distance is the Levenshtein distance of a and b.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// asErrors finds OPA's compile errors in err (rego wraps them).
func asErrors(err error) ast.Errors {
	var errs ast.Errors
	if errors.As(err, &errs) {
		return errs
	}
	return nil
}
