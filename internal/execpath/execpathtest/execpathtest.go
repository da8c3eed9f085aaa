// Package execpathtest builds, for tests, a workspace and a PATH holding
// every shape of exec argv[0] that execpath resolves, with what each must
// resolve to. The execpath tests check the rule against it; the runner's
// agreement test checks that the runner and the policy both follow it.
package execpathtest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Case is one argv[0] and what it must resolve to.
type Case struct {
	Name  string
	Argv0 string
	Path  string // Program.Path: what runs
	Real  string // Program.Real: what the policy judges
	Err   string // "" when the program runs; else the whole error message
	// Interps is the Real of each of Program.Interpreters, in order: the
	// "#!" interpreters the policy judges too. Every plain file of the
	// fixture is a script of the interpreter Outside/sh.
	Interps []string
}

// Fixture is a workspace, an outside directory and a PATH directory.
type Fixture struct {
	Workspace string // symlink-free
	Outside   string // a directory outside the workspace
	Bin       string // the only absolute PATH entry
	Cases     []Case
}

// New builds the fixture under t's temporary directories, sets PATH to
// Bin plus a relative entry and changes into a directory where that
// relative entry holds a program. It uses t.Setenv and t.Chdir, so the
// test must not be parallel. Not for Windows (execute bits, PATHEXT).
func New(t testing.TB) *Fixture {
	t.Helper()
	real := func(p string) string {
		r, err := filepath.EvalSymlinks(p)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	ws, out, bin, cwd := real(t.TempDir()), real(t.TempDir()), real(t.TempDir()), real(t.TempDir())
	j := filepath.Join
	s := filepath.ToSlash
	sh := j(out, "sh") // the interpreter of every script below
	script := func(p string, mode os.FileMode, content string) string {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil { // umask
			t.Fatal(err)
		}
		return p
	}
	file := func(p string, mode os.FileMode) string {
		t.Helper()
		return script(p, mode, "#!"+sh+"\nexit 0\n")
	}
	dir := func(p string) string {
		t.Helper()
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	link := func(target, p string) string {
		t.Helper()
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	file(j(ws, "run.sh"), 0o755)
	file(j(ws, "x.sh"), 0o755)
	file(j(ws, "tools", "x.sh"), 0o755)
	file(j(ws, "data.txt"), 0o644)
	dir(j(ws, "tool"))
	dir(j(ws, "dir"))
	link(j(out, "curl"), j(ws, "curl"))
	link(j(out, "missing"), j(ws, "dangle"))
	link(j(out, "missing2"), j(ws, "tools", "dangle"))
	link(j("..", filepath.Base(out), "d"), j(ws, "linkdir")) // relative link to a directory
	link(j(out, "d"), j(ws, "lnk"))
	link(os.DevNull, j(ws, "devnull"))

	file(j(out, "curl"), 0o755)
	file(j(out, "abs.sh"), 0o755)
	file(j(out, "x.sh"), 0o755)
	dir(j(out, "d"))
	file(j(out, "realpy"), 0o755)

	file(j(bin, "tool"), 0o755)
	file(j(bin, "pathonly"), 0o755)
	file(j(bin, "dangle"), 0o755)
	file(j(bin, "linkdir"), 0o755)
	file(j(bin, "data.txt"), 0o755)
	link(j(out, "realpy"), j(bin, "pylink"))
	file(j(cwd, "rel", "dotonly"), 0o755)

	// Interpreters (binaries: no "#!") and scripts of every "#!" shape.
	bin2 := func(p string) string { return script(p, 0o755, "\x7fELF not a script\n") }
	bin2(sh)
	bin2(j(out, "py"))
	bin2(j(out, "env")) // an env: its first program word is looked up
	bin2(j(out, "realpy2"))
	bin2(j(out, "alt", "fakepy"))
	link(j(out, "realpy2"), j(bin, "fakepy"))
	script(j(out, "noexec"), 0o644, "\x7fELF\n")
	script(j(out, "wrap"), 0o755, "#!"+j(out, "py")+"\n") // an interpreter that is a script
	sb := func(name, line string) string {
		return script(j(ws, "sb", name), 0o755, "#!"+line+"\nexit 0\n")
	}
	sb("abs", " "+j(out, "py")+" -u")
	sb("env", j(out, "env")+" fakepy")
	sb("env-split", j(out, "env")+" -S fakepy -u -v")
	sb("env-split-glued", j(out, "env")+" -Sfakepy -u")
	sb("env-path", j(out, "env")+" PATH="+j(out, "alt")+" fakepy")
	sb("env-abs", j(out, "env")+" "+j(out, "py"))
	sb("env-opt", j(out, "env")+" -i fakepy")
	sb("env-none", j(out, "env"))
	sb("env-missing", j(out, "env")+" no-such-interp-guardrun")
	sb("env-dot", j(out, "env")+" dotonly")
	sb("env-rel", j(out, "env")+" ./py")
	sb("relative", "py -u")
	sb("empty", "  ")
	sb("missing", j(out, "missing-interp"))
	sb("crlf", j(out, "py")+"\r")
	sb("noexec", j(out, "noexec"))
	sb("dir", out)
	sb("device", os.DevNull)
	sb("chain", j(out, "wrap"))
	sb("ws-interp", j(ws, "run.sh"))
	script(j(ws, "sb", "nul"), 0o755, "#!"+j(out, "py")+"\x00ignored\n")

	if filepath.Dir(ws) != filepath.Dir(out) {
		t.Fatalf("temp dirs %s and %s do not share a parent", ws, out)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+"rel")
	t.Chdir(cwd)

	notFound := func(name string) string {
		return `processor "` + name + `" not found in the workspace or PATH`
	}
	shR, pyR, fakeR := []string{s(sh)}, []string{s(j(out, "py"))}, []string{s(j(out, "realpy2"))}
	sbCase := func(name string, interps []string, err string) Case {
		p := j(ws, "sb", name)
		if err != "" {
			err = "processor " + p + ": " + err
		}
		return Case{Name: "#! " + name, Argv0: "sb/" + name, Path: p, Real: s(p), Interps: interps, Err: err}
	}
	return &Fixture{Workspace: ws, Outside: out, Bin: bin, Cases: []Case{
		{Name: "bare name of a workspace file", Argv0: "run.sh",
			Path: j(ws, "run.sh"), Real: s(j(ws, "run.sh")), Interps: shR},
		{Name: "bare name of a workspace directory, on PATH too", Argv0: "tool",
			Path: j(bin, "tool"), Real: s(j(bin, "tool")), Interps: shR},
		{Name: "bare name of a workspace directory, not on PATH", Argv0: "dir",
			Err: notFound("dir")},
		{Name: "bare name of a workspace link to a directory, on PATH too", Argv0: "linkdir",
			Path: j(bin, "linkdir"), Real: s(j(bin, "linkdir")), Interps: shR},
		{Name: "bare name only on PATH", Argv0: "pathonly",
			Path: j(bin, "pathonly"), Real: s(j(bin, "pathonly")), Interps: shR},
		{Name: "bare name on PATH through a symlink", Argv0: "pylink",
			Path: j(bin, "pylink"), Real: s(j(out, "realpy")), Interps: shR},
		{Name: "bare name found only through a relative PATH entry", Argv0: "dotonly",
			Err: notFound("dotonly")},
		{Name: "bare name nowhere", Argv0: "no-such-program-guardrun",
			Err: notFound("no-such-program-guardrun")},
		{Name: "empty", Argv0: "",
			Err: notFound("")},
		{Name: "dot slash", Argv0: "./run.sh",
			Path: j(ws, "run.sh"), Real: s(j(ws, "run.sh")), Interps: shR},
		{Name: "relative with a directory", Argv0: "tools/x.sh",
			Path: j(ws, "tools", "x.sh"), Real: s(j(ws, "tools", "x.sh")), Interps: shR},
		{Name: "relative with dot-dot through a symlink", Argv0: "lnk/../x.sh",
			Path: j(ws, "x.sh"), Real: s(j(ws, "x.sh")), Interps: shR},
		{Name: "absolute", Argv0: j(out, "abs.sh"),
			Path: j(out, "abs.sh"), Real: s(j(out, "abs.sh")), Interps: shR},
		{Name: "absolute with dot-dot through a symlink", Argv0: ws + string(filepath.Separator) + strings.Join([]string{"lnk", "..", "x.sh"}, string(filepath.Separator)),
			Path: j(ws, "x.sh"), Real: s(j(ws, "x.sh")), Interps: shR},
		{Name: "workspace symlink to an outside program", Argv0: "curl",
			Path: j(ws, "curl"), Real: s(j(out, "curl")), Interps: shR},
		{Name: "workspace symlink to an outside program, dot slash", Argv0: "./curl",
			Path: j(ws, "curl"), Real: s(j(out, "curl")), Interps: shR},
		{Name: "bare name of a dangling workspace symlink, on PATH too", Argv0: "dangle",
			Path: j(ws, "dangle"), Real: s(j(out, "missing")),
			Err: "processor " + j(ws, "dangle") + ": no such file or directory"},
		{Name: "dangling symlink with a directory", Argv0: "tools/dangle",
			Path: j(ws, "tools", "dangle"), Real: s(j(out, "missing2")),
			Err: "processor " + j(ws, "tools", "dangle") + ": no such file or directory"},
		{Name: "directory", Argv0: "./dir",
			Path: j(ws, "dir"), Real: s(j(ws, "dir")),
			Err: "processor " + j(ws, "dir") + " is a directory"},
		{Name: "missing", Argv0: "tools/missing.sh",
			Path: j(ws, "tools", "missing.sh"),
			Err:  "processor " + j(ws, "tools", "missing.sh") + ": no such file or directory"},
		{Name: "missing absolute", Argv0: j(out, "nothing.sh"),
			Path: j(out, "nothing.sh"),
			Err:  "processor " + j(out, "nothing.sh") + ": no such file or directory"},
		{Name: "not executable, on PATH too", Argv0: "data.txt",
			Path: j(ws, "data.txt"), Real: s(j(ws, "data.txt")),
			Err: "processor " + j(ws, "data.txt") + " is not executable"},
		{Name: "not a regular file", Argv0: "./devnull",
			Path: j(ws, "devnull"), Real: s(os.DevNull),
			Err: "processor " + j(ws, "devnull") + " is not a regular file"},
		{Name: "not executable, dot slash", Argv0: "./data.txt",
			Path: j(ws, "data.txt"), Real: s(j(ws, "data.txt")),
			Err: "processor " + j(ws, "data.txt") + " is not executable"},
		sbCase("abs", pyR, ""),
		sbCase("env", fakeR, ""),
		sbCase("env-split", fakeR, ""),
		sbCase("env-split-glued", fakeR, ""),
		sbCase("env-path", []string{s(j(out, "alt", "fakepy"))}, ""),
		sbCase("env-abs", pyR, ""),
		sbCase("env-opt", nil, `#!`+j(out, "env")+` -i fakepy: env option "-i" is not supported; name the interpreter by its absolute path`),
		sbCase("env-none", nil, `#!`+j(out, "env")+`: env names no program`),
		sbCase("env-missing", nil, `interpreter "no-such-interp-guardrun" (#!`+j(out, "env")+` no-such-interp-guardrun) not found on PATH`),
		sbCase("env-dot", nil, `interpreter "dotonly" (#!`+j(out, "env")+` dotonly) not found on PATH`),
		sbCase("env-rel", nil, `interpreter "./py" (#!`+j(out, "env")+` ./py) is not an absolute path`),
		sbCase("relative", nil, `interpreter "py" (#!py -u) is not an absolute path`),
		sbCase("empty", nil, `its #! line names no interpreter`),
		sbCase("missing", []string{""}, "interpreter "+j(out, "missing-interp")+": no such file or directory"),
		sbCase("crlf", []string{""}, "interpreter "+j(out, "py")+"\r: no such file or directory"),
		sbCase("noexec", []string{s(j(out, "noexec"))}, "interpreter "+j(out, "noexec")+" is not executable"),
		sbCase("dir", []string{s(out)}, "interpreter "+out+" is a directory"),
		sbCase("device", []string{s(os.DevNull)}, "interpreter "+os.DevNull+" is not a regular file"),
		sbCase("chain", []string{s(j(out, "wrap")), s(j(out, "py"))}, ""),
		sbCase("ws-interp", []string{s(j(ws, "run.sh")), s(sh)}, ""),
		sbCase("nul", pyR, ""),
	}}
}
