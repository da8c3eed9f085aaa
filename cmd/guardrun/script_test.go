package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/tools/txtar"

	"github.com/guardrun/guardrun/internal/hashcache"
	"github.com/guardrun/guardrun/internal/testutil"
)

var update = flag.Bool("update", false, "rewrite golden files in script tests (cmp-golden)")

// TestScripts runs testdata/script/*.txtar: each archive's files form a
// workspace (with the test processors under bin/, or the Go processors'
// source when the archive holds a "-- go-workspace --" file), and its
// comment is a script of commands, one per line:
//
//	guardrun ARGS...       run the real binary; must exit 0
//	env-run K=V ARGS...    the same with one more environment variable
//	! guardrun ARGS...     must exit non-zero
//	status N               the last guardrun exited with N
//	stdout|stderr REGEXP   the last output matches (! negates)
//	exists|! exists PATH
//	cmp PATH1 PATH2        files are identical
//	cmp-golden PATH GOLDEN PATH equals the archive file GOLDEN (-update rewrites it)
//	json PATH FIELD VALUE  a JSON field (dotted path, numbers index arrays) equals
//	                       VALUE, or matches it when VALUE is ~REGEXP
//	cp SRC DST | write PATH TEXT | rm PATH | chmod OCTAL PATH
//	snapshot NAME          remember identity (inode, size, mtime) of every file under data/
//	unchanged NAME         nothing under data/ was rewritten since the snapshot
//	sleep DURATION
//
// $WORK expands to the workspace.
func TestScripts(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "script", "*.txtar"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no scripts: %v", err)
	}
	for _, file := range files {
		file := file
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txtar"), func(t *testing.T) {
			t.Parallel()
			runScript(t, file)
		})
	}
}

func runScript(t *testing.T, file string) {
	ar, err := txtar.ParseFile(file)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	goWS := false
	for _, f := range ar.Files {
		if f.Name == "go-workspace" {
			goWS = true
			continue
		}
		files[f.Name] = string(f.Data)
	}
	var dir string
	if goWS {
		dir = testutil.GoWorkspace(t, files)
	} else {
		dir = testutil.Workspace(t, files)
	}
	s := &scriptState{t: t, dir: dir, ar: ar, file: file, snaps: map[string]map[string]hashcache.FileID{}}
	for n, line := range strings.Split(string(ar.Comment), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		s.line = n + 1
		s.exec(strings.ReplaceAll(line, "$WORK", dir))
		if t.Failed() {
			t.Logf("%s:%d: %s\nstdout:\n%s\nstderr:\n%s", file, n+1, line, s.last.stdout, s.last.stderr)
			return
		}
	}
	if *update && s.dirty {
		if err := os.WriteFile(file, txtar.Format(ar), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

type scriptState struct {
	t     *testing.T
	dir   string
	ar    *txtar.Archive
	file  string
	line  int
	last  result
	snaps map[string]map[string]hashcache.FileID
	dirty bool
}

// fields splits on spaces, keeping "quoted strings" together; \" is a
// literal quote.
func fields(s string) []string {
	var out []string
	var cur strings.Builder
	inQ, has := false, false
	rs := []rune(s)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case r == '\\' && i+1 < len(rs) && rs[i+1] == '"':
			cur.WriteRune('"') // \" is a literal quote
			i++
			has = true
		case r == '"':
			inQ, has = !inQ, true
		case r == ' ' && !inQ:
			if has {
				out = append(out, cur.String())
				cur.Reset()
				has = false
			}
		default:
			cur.WriteRune(r)
			has = true
		}
	}
	if has {
		out = append(out, cur.String())
	}
	return out
}

func (s *scriptState) path(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(s.dir, filepath.FromSlash(p))
}

func (s *scriptState) errorf(format string, args ...any) {
	s.t.Helper()
	s.t.Errorf("%s:%d: %s", filepath.Base(s.file), s.line, fmt.Sprintf(format, args...))
}

func (s *scriptState) exec(line string) {
	t := s.t
	neg := false
	if strings.HasPrefix(line, "! ") {
		neg, line = true, strings.TrimSpace(line[2:])
	}
	args := fields(line)
	cmd, args := args[0], args[1:]
	switch cmd {
	case "guardrun":
		s.last = guardrun(t, s.dir, args...)
		if neg != (s.last.code != 0) {
			s.errorf("guardrun %s: exit %d", strings.Join(args, " "), s.last.code)
		}
	case "env-run": // env-run NAME=VALUE ARGS...: guardrun with one more variable
		s.last = guardrunEnv(t, s.dir, []string{args[0]}, args[1:]...)
		if neg != (s.last.code != 0) {
			s.errorf("%s guardrun %s: exit %d", args[0], strings.Join(args[1:], " "), s.last.code)
		}
	case "status":
		want, _ := strconv.Atoi(args[0])
		if s.last.code != want {
			s.errorf("exit code %d, want %d", s.last.code, want)
		}
	case "stdout", "stderr":
		out := s.last.stdout
		if cmd == "stderr" {
			out = s.last.stderr
		}
		re, err := regexp.Compile("(?m)" + args[0])
		if err != nil {
			s.errorf("bad regexp: %v", err)
			return
		}
		if re.MatchString(out) == neg {
			s.errorf("%s %s %q: no match was wanted=%v", cmd, map[bool]string{true: "!", false: ""}[neg], args[0], neg)
		}
	case "exists":
		_, err := os.Stat(s.path(args[0]))
		if (err == nil) == neg {
			s.errorf("exists %s: %v (negated=%v)", args[0], err, neg)
		}
	case "cmp":
		a, _ := os.ReadFile(s.path(args[0]))
		b, _ := os.ReadFile(s.path(args[1]))
		if string(a) != string(b) {
			s.errorf("%s and %s differ", args[0], args[1])
		}
	case "cmp-golden":
		got, err := os.ReadFile(s.path(args[0]))
		if err != nil {
			s.errorf("%v", err)
			return
		}
		for i := range s.ar.Files {
			f := &s.ar.Files[i]
			if f.Name != args[1] {
				continue
			}
			if *update {
				f.Data, s.dirty = got, true
			} else if string(f.Data) != string(got) {
				s.errorf("%s differs from golden %s:\n%s", args[0], args[1], got)
			}
			return
		}
		s.errorf("no golden file %s in the archive", args[1])
	case "json":
		b, err := os.ReadFile(s.path(args[0]))
		if err != nil {
			s.errorf("%v", err)
			return
		}
		var v any
		if err := json.Unmarshal(b, &v); err != nil {
			s.errorf("%s does not parse: %v", args[0], err)
			return
		}
		got := fmt.Sprint(lookup(v, args[1]))
		match := got == args[2]
		if strings.HasPrefix(args[2], "~") { // ~REGEXP matches instead
			match = regexp.MustCompile(args[2][1:]).MatchString(got)
		}
		if match == neg {
			s.errorf("json %s %s = %q, want %s%q", args[0], args[1], got, map[bool]string{true: "not ", false: ""}[neg], args[2])
		}
	case "cp":
		b, err := os.ReadFile(s.path(args[0]))
		if err != nil {
			s.errorf("%v", err)
			return
		}
		testutil.WriteFile(t, s.path(args[1]), string(b))
	case "write":
		testutil.WriteFile(t, s.path(args[0]), strings.ReplaceAll(args[1], `\n`, "\n"))
	case "chmod":
		mode, err := strconv.ParseUint(args[0], 8, 32)
		if err == nil {
			err = os.Chmod(s.path(args[1]), os.FileMode(mode))
		}
		if err != nil {
			s.errorf("chmod: %v", err)
		}
	case "rm":
		if err := os.RemoveAll(s.path(args[0])); err != nil {
			s.errorf("%v", err)
		}
	case "snapshot":
		s.snaps[args[0]] = s.snapshot()
	case "unchanged":
		before, now := s.snaps[args[0]], s.snapshot()
		var changed []string
		for p, id := range now {
			if before[p] != id {
				changed = append(changed, p)
			}
		}
		for p := range before {
			if _, ok := now[p]; !ok {
				changed = append(changed, p)
			}
		}
		sort.Strings(changed)
		if len(changed) > 0 {
			s.errorf("rewritten since snapshot %s: %v", args[0], changed)
		}
	case "sleep":
		d, _ := time.ParseDuration(args[0])
		time.Sleep(d)
	default:
		s.errorf("unknown command %q", cmd)
	}
}

func (s *scriptState) snapshot() map[string]hashcache.FileID {
	m := map[string]hashcache.FileID{}
	_ = filepath.Walk(filepath.Join(s.dir, "data"), func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			id, _, _ := hashcache.Stat(p)
			rel, _ := filepath.Rel(s.dir, p)
			m[filepath.ToSlash(rel)] = id
		}
		return nil
	})
	return m
}

// lookup follows a dotted path ("stages.0.status") into decoded JSON.
func lookup(v any, path string) any {
	for _, k := range strings.Split(path, ".") {
		switch x := v.(type) {
		case map[string]any:
			v = x[k]
		case []any:
			i, err := strconv.Atoi(k)
			if err != nil || i < 0 || i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}
