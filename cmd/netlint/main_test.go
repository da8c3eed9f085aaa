package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/guardrun/guardrun/analyzers/suite"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// demo is a module with findings of every kind, shared with the suite tests.
var demo = filepath.Join("..", "..", "analyzers", "suite", "testdata", "demo")

// buildNetlint builds the real binary once per test binary.
func buildNetlint(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "netlint")
	if runtime.GOOS == "windows" {
		bin += ".exe"
	}
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, string(out))
	return bin
}

type result struct {
	stdout, stderr string
	code           int
}

func runIn(t *testing.T, dir, name string, args ...string) result {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return result{stdout.String(), stderr.String(), code}
}

func TestBinary(t *testing.T) {
	bin := buildNetlint(t)
	dir, err := filepath.Abs(demo)
	require.NoError(t, err)

	t.Run("standalone", func(t *testing.T) {
		r := runIn(t, dir, bin, "./...")
		assert.Equal(t, exitFindings, r.code, r.stderr)
		want, err := os.ReadFile(filepath.Join(dir, "..", "golden", "direct.txt"))
		require.NoError(t, err)
		assert.Equal(t, string(want), r.stdout)
		assert.Contains(t, r.stderr, "7 finding(s)")
	})
	t.Run("transitive json", func(t *testing.T) {
		r := runIn(t, dir, bin, "-transitive", "-json", "./...")
		assert.Equal(t, exitFindings, r.code, r.stderr)
		var doc struct{ Findings []suite.Finding }
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &doc))
		var chains []string
		for _, f := range doc.Findings {
			if f.Analyzer == "nettransitive" {
				chains = append(chains, f.Pos)
			}
		}
		assert.Equal(t, []string{"app/app.go:7:2", "chain/b/b.go:4:8", "chain/c/c.go:4:8", "cmd/proc/main.go:4:8", "testonly/testonly_test.go:6:2"}, chains)
	})
	t.Run("clean package", func(t *testing.T) {
		r := runIn(t, dir, bin, "-transitive", "./clean", "./excepted", "./cmd/cleanproc")
		assert.Equal(t, exitClean, r.code, r.stdout+r.stderr)
		assert.Empty(t, r.stdout)
		r = runIn(t, dir, bin, "-json", "./clean")
		assert.Equal(t, exitClean, r.code)
		assert.JSONEq(t, `{"findings": []}`, r.stdout)
	})
	t.Run("-C and flags", func(t *testing.T) {
		r := runIn(t, t.TempDir(), bin, "-C", dir, "-deny", "net/url", "-config", "none", "./clean", "./excepted")
		assert.Equal(t, exitFindings, r.code)
		assert.Contains(t, r.stdout, `clean/clean.go:7:2: forbidden network import "net/url" (denied by -deny) (netimport)`)
		assert.Contains(t, r.stdout, `excepted/excepted.go:5:2: forbidden network import "net/smtp"`, "-config none drops the exceptions")
	})
	t.Run("windows", func(t *testing.T) {
		cmd := exec.Command(bin, "-transitive", "-test=false", "./win", "./raw")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOOS=windows", "GOARCH=amd64")
		out, err := cmd.Output()
		var ee *exec.ExitError
		require.ErrorAs(t, err, &ee)
		assert.Equal(t, exitFindings, ee.ExitCode())
		assert.Contains(t, string(out), `win/win_windows.go:3:8: forbidden network import "net/http"`)
		assert.Contains(t, string(out), `raw/raw_windows.go:8:12: syscall.LoadDLL("ws2_32.dll")`)
	})
	t.Run("errors", func(t *testing.T) {
		r := runIn(t, dir, bin, "-nosuchflag")
		assert.Equal(t, exitUsage, r.code)
		r = runIn(t, dir, bin, "./nosuchpackage")
		assert.Equal(t, exitError, r.code, r.stdout)
		assert.Contains(t, r.stderr, "nosuchpackage")
	})
	t.Run("unresolved warn", func(t *testing.T) {
		// An unresolved program and an unresolved trap under "unresolved":
		// "warn" are printed as warnings and exit 0; a real finding next to
		// them still exits 3; -unresolved=report makes them findings again.
		mod := t.TempDir()
		write := func(name, body string) {
			require.NoError(t, os.WriteFile(filepath.Join(mod, name), []byte(body), 0o644))
		}
		write("go.mod", "module example.com/w\n\ngo 1.22\n")
		write(".netlint.json", `{"unresolved": "warn"}`)
		write("main.go", "package main\n\nimport (\n\t\"os\"\n\t\"os/exec\"\n\t\"strconv\"\n\t\"syscall\"\n)\n\n"+
			"func main() {\n\t_ = exec.Command(os.Getenv(\"TOOL\")).Run()\n"+
			"\ttrap, _ := strconv.Atoi(os.Getenv(\"TRAP\"))\n\t_, _, _ = syscall.Syscall(uintptr(trap), 0, 0, 0)\n}\n")
		r := runIn(t, mod, bin, "./...")
		assert.Equal(t, exitClean, r.code, r.stdout+r.stderr)
		assert.Contains(t, r.stdout, "main.go:11:6: warning: unresolved command: runs a program netlint cannot resolve")
		assert.Contains(t, r.stdout, "main.go:13:12: warning: unresolved trap: raw system call syscall.Syscall")
		assert.Contains(t, r.stderr, "netlint: 2 warning(s)")

		r = runIn(t, mod, bin, "-json", "./...")
		assert.Equal(t, exitClean, r.code, r.stderr)
		var doc struct{ Findings []suite.Finding }
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &doc))
		require.Len(t, doc.Findings, 2)
		for _, f := range doc.Findings {
			assert.Equal(t, "warning", f.Severity, f.String())
		}

		r = runIn(t, mod, bin, "-unresolved=report", "./...")
		assert.Equal(t, exitFindings, r.code)
		assert.NotContains(t, r.stdout, "warning:")

		write("fetch.go", "package main\n\nimport \"os/exec\"\n\nfunc fetch() { _ = exec.Command(\"curl\", \"x\").Run() }\n")
		r = runIn(t, mod, bin, "./...")
		assert.Equal(t, exitFindings, r.code, r.stdout)
		assert.Contains(t, r.stderr, "netlint: 1 finding(s) and 2 warning(s)")

		// go vet has no severities: a warning is a diagnostic, and fails.
		require.NoError(t, os.Remove(filepath.Join(mod, "fetch.go")))
		r = runIn(t, mod, "go", "vet", "-vettool="+bin, "./...")
		assert.NotEqual(t, 0, r.code)
		assert.Contains(t, r.stderr, "unresolved command")
	})
	t.Run("go vet", func(t *testing.T) {
		r := runIn(t, dir, "go", "vet", "-vettool="+bin, "./...")
		assert.NotEqual(t, 0, r.code)
		for _, want := range []string{
			`chain/d/d.go:4:8: forbidden network import "net/http"`,
			`raw/raw_unix.go:10:9: raw socket call syscall.Socket`,
			`tools/tools.go:11:9: runs network tool "curl"`,
			`allowed/allowed_test.go:4:2: forbidden network import "net/http/httptest"`,
			`allowed/allowed.go:15:2: //netlint:allow needs a reason`,
		} {
			assert.Contains(t, r.stderr, want)
		}
		assert.NotContains(t, r.stderr, "reaches forbidden package", "transitive is off by default")
		assert.NotContains(t, r.stderr, "excepted", ".netlint.json exceptions apply under go vet")

		r = runIn(t, dir, "go", "vet", "-vettool="+bin, "-transitive", "./...")
		assert.NotEqual(t, 0, r.code)
		assert.Contains(t, r.stderr, `cmd/proc/main.go:4:8: import "example.com/demo/app" reaches forbidden package net/http: `+
			`example.com/demo/cmd/proc -> example.com/demo/app -> example.com/demo/chain/b -> example.com/demo/chain/c -> example.com/demo/chain/d -> net/http`)

		r = runIn(t, dir, "go", "vet", "-vettool="+bin, "./clean", "./cmd/cleanproc")
		assert.Equal(t, 0, r.code, r.stderr)
	})
}

func TestVetModeDetection(t *testing.T) {
	assert.True(t, vetMode([]string{"-V=full"}))
	assert.True(t, vetMode([]string{"-flags"}))
	assert.True(t, vetMode([]string{"-transitive", "/tmp/x/vet.cfg"}))
	assert.False(t, vetMode([]string{"./..."}))
	assert.False(t, vetMode(nil))
	assert.True(t, transitiveArg([]string{"-transitive", "x.cfg"}))
	assert.True(t, transitiveArg([]string{"--transitive=true", "x.cfg"}))
	assert.False(t, transitiveArg([]string{"-transitive=false", "x.cfg"}))
	assert.False(t, transitiveArg([]string{"x.cfg"}))
}

func TestUsage(t *testing.T) {
	var out, errOut bytes.Buffer
	code := exitCode(run(t.Context(), []string{"-h"}, &out, &errOut))
	assert.Equal(t, exitClean, code)
	assert.True(t, strings.Contains(errOut.String(), "-transitive"))
}
