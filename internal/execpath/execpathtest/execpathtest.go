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
	file := func(p string, mode os.FileMode) string {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("#!/bin/sh\nexit 0\n"), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil { // umask
			t.Fatal(err)
		}
		return p
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
	j := filepath.Join
	s := filepath.ToSlash

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

	if filepath.Dir(ws) != filepath.Dir(out) {
		t.Fatalf("temp dirs %s and %s do not share a parent", ws, out)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+"rel")
	t.Chdir(cwd)

	notFound := func(name string) string {
		return `processor "` + name + `" not found in the workspace or PATH`
	}
	return &Fixture{Workspace: ws, Outside: out, Bin: bin, Cases: []Case{
		{Name: "bare name of a workspace file", Argv0: "run.sh",
			Path: j(ws, "run.sh"), Real: s(j(ws, "run.sh"))},
		{Name: "bare name of a workspace directory, on PATH too", Argv0: "tool",
			Path: j(bin, "tool"), Real: s(j(bin, "tool"))},
		{Name: "bare name of a workspace directory, not on PATH", Argv0: "dir",
			Err: notFound("dir")},
		{Name: "bare name of a workspace link to a directory, on PATH too", Argv0: "linkdir",
			Path: j(bin, "linkdir"), Real: s(j(bin, "linkdir"))},
		{Name: "bare name only on PATH", Argv0: "pathonly",
			Path: j(bin, "pathonly"), Real: s(j(bin, "pathonly"))},
		{Name: "bare name on PATH through a symlink", Argv0: "pylink",
			Path: j(bin, "pylink"), Real: s(j(out, "realpy"))},
		{Name: "bare name found only through a relative PATH entry", Argv0: "dotonly",
			Err: notFound("dotonly")},
		{Name: "bare name nowhere", Argv0: "no-such-program-guardrun",
			Err: notFound("no-such-program-guardrun")},
		{Name: "empty", Argv0: "",
			Err: notFound("")},
		{Name: "dot slash", Argv0: "./run.sh",
			Path: j(ws, "run.sh"), Real: s(j(ws, "run.sh"))},
		{Name: "relative with a directory", Argv0: "tools/x.sh",
			Path: j(ws, "tools", "x.sh"), Real: s(j(ws, "tools", "x.sh"))},
		{Name: "relative with dot-dot through a symlink", Argv0: "lnk/../x.sh",
			Path: j(ws, "x.sh"), Real: s(j(ws, "x.sh"))},
		{Name: "absolute", Argv0: j(out, "abs.sh"),
			Path: j(out, "abs.sh"), Real: s(j(out, "abs.sh"))},
		{Name: "absolute with dot-dot through a symlink", Argv0: ws + string(filepath.Separator) + strings.Join([]string{"lnk", "..", "x.sh"}, string(filepath.Separator)),
			Path: j(ws, "x.sh"), Real: s(j(ws, "x.sh"))},
		{Name: "workspace symlink to an outside program", Argv0: "curl",
			Path: j(ws, "curl"), Real: s(j(out, "curl"))},
		{Name: "workspace symlink to an outside program, dot slash", Argv0: "./curl",
			Path: j(ws, "curl"), Real: s(j(out, "curl"))},
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
		{Name: "not executable, dot slash", Argv0: "./data.txt",
			Path: j(ws, "data.txt"), Real: s(j(ws, "data.txt")),
			Err: "processor " + j(ws, "data.txt") + " is not executable"},
	}}
}
