package pipeline

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseTemplate(t *testing.T) {
	tests := []struct {
		in   string
		vars []string
		err  string
	}{
		{in: "plain/file.txt"},
		{in: ""},
		{in: "{path}", vars: []string{"path"}},
		{in: "{path}{item}{dir}{name}{stem}{ext}", vars: []string{"path", "item", "dir", "name", "stem", "ext"}},
		{in: "{dir}/{stem}.gz", vars: []string{"dir", "stem"}},
		{in: "{stem}-{stem}", vars: []string{"stem", "stem"}},
		{in: "{{literal}}"},
		{in: "{{{name}}}", vars: []string{"name"}},
		{in: "a}}b{{c"},
		{in: "{nam}.txt", err: `unknown template variable {nam} in "{nam}.txt" (known: {path}, {item}, {dir}, {name}, {stem}, {ext}) (did you mean "name"?)`},
		{in: "{PATH}", err: `unknown template variable {PATH} in "{PATH}" (known: {path}, {item}, {dir}, {name}, {stem}, {ext}) (did you mean "path"?)`},
		{in: "{}", err: `unknown template variable {} in "{}" (known: {path}, {item}, {dir}, {name}, {stem}, {ext})`},
		{in: "{a/b}", err: `unknown template variable {a/b} in "{a/b}" (known: {path}, {item}, {dir}, {name}, {stem}, {ext})`},
		{in: "{stem", err: `unclosed { in "{stem" (write {{ for a literal brace)`},
		{in: "x{", err: `unclosed { in "x{" (write {{ for a literal brace)`},
		{in: "stem}", err: `unmatched } in "stem}" (write }} for a literal brace)`},
		{in: "{stem}}", err: `unmatched } in "{stem}}" (write }} for a literal brace)`},
	}
	for _, tt := range tests {
		vars, err := ParseTemplate(tt.in)
		if tt.err != "" {
			assert.EqualError(t, err, tt.err, "ParseTemplate(%q)", tt.in)
			assert.Nil(t, vars)
			continue
		}
		require.NoError(t, err, "ParseTemplate(%q)", tt.in)
		assert.Equal(t, tt.vars, vars, "ParseTemplate(%q)", tt.in)
	}
}

func TestIsTemplate(t *testing.T) {
	assert.True(t, IsTemplate("{stem}.txt"))
	assert.True(t, IsTemplate("{{x}}"))
	assert.True(t, IsTemplate("x}"))
	assert.False(t, IsTemplate("data/input/x.txt"))
	assert.False(t, IsTemplate(""))
}

func TestExpandTemplate(t *testing.T) {
	notes := ItemVars{Path: "data/input/sub/notes.txt", Item: "sub/notes.txt"}
	tests := []struct {
		tmpl string
		v    ItemVars
		want string
	}{
		// The SPEC's table: all six variables.
		{"{path}", notes, "data/input/sub/notes.txt"},
		{"{item}", notes, "sub/notes.txt"},
		{"{dir}", notes, "sub"},
		{"{name}", notes, "notes.txt"},
		{"{stem}", notes, "notes"},
		{"{ext}", notes, ".txt"},
		{"{dir}/{stem}.gz", notes, "sub/notes.gz"},
		{"{item}.{stem}{ext}", notes, "sub/notes.txt.notes.txt"},
		// Escapes.
		{"{{stem}}", notes, "{stem}"},
		{"{{{stem}}}", notes, "{notes}"},
		{"a}}b{{c", notes, "a}b{c"},
		{"plain.txt", notes, "plain.txt"},
		// {dir} at the root is "."; cleaning drops it.
		{"{dir}/{stem}.gz", ItemVars{Path: "data/input/a.txt", Item: "a.txt"}, "./a.gz"},
		{"{dir}", ItemVars{Path: "a.txt", Item: "a.txt"}, "."},
		// No extension.
		{"{stem}|{ext}|{name}", ItemVars{Path: "in/Makefile", Item: "Makefile"}, "Makefile||Makefile"},
		// Only the last extension.
		{"{stem}|{ext}", ItemVars{Path: "in/a.tar.gz", Item: "a.tar.gz"}, "a.tar|.gz"},
		// A dotfile has no extension; a dotfile with one has it.
		{"{stem}|{ext}", ItemVars{Path: "in/.env", Item: ".env"}, ".env|"},
		{"{stem}|{ext}", ItemVars{Path: "in/.env.gz", Item: ".env.gz"}, ".env|.gz"},
		{"{stem}|{ext}", ItemVars{Path: "in/x.", Item: "x."}, "x|."},
		// A chained stage: path, name, stem and ext follow the upstream
		// output, item and dir the id at the root of the chain.
		{"{path} {name} {stem} {ext} {item} {dir}", ItemVars{Path: "data/work/upper/notes.csv", Item: "sub/notes.txt"},
			"data/work/upper/notes.csv notes.csv notes .csv sub/notes.txt sub"},
	}
	for _, tt := range tests {
		_, err := ParseTemplate(tt.tmpl)
		require.NoError(t, err, tt.tmpl)
		assert.Equal(t, tt.want, ExpandTemplate(tt.tmpl, tt.v), "ExpandTemplate(%q, %+v)", tt.tmpl, tt.v)
	}
}
