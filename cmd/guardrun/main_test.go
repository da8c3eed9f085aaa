package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/guardrun/guardrun/internal/testutil"
)

// guardrunBin is the real binary the end-to-end tests run, with
// guardrun-guard built next to it (where guardrun looks for it first). When
// GUARDRUN_E2E_COVERDIR is set (run_tests.sh), both are built with -cover and
// write their coverage there.
var guardrunBin, guardBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "guardrun-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	guardrunBin, guardBin = filepath.Join(dir, "guardrun"), filepath.Join(dir, "guardrun-guard")
	if runtime.GOOS == "windows" {
		guardrunBin += ".exe"
		guardBin += ".exe"
	}
	for _, b := range []struct{ out, pkg string }{{guardrunBin, "."}, {guardBin, "../guardrun-guard"}} {
		args := []string{"build", "-o", b.out}
		if os.Getenv("GUARDRUN_E2E_COVERDIR") != "" {
			args = append(args, "-cover", "-covermode=atomic", "-coverpkg=github.com/guardrun/guardrun/...")
		}
		cmd := exec.Command("go", append(args, b.pkg)...)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0") // static, as run_demo.sh builds them
		if out, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "building %s: %v\n%s", filepath.Base(b.out), err, out)
			os.Exit(1)
		}
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// result of one guardrun invocation.
type result struct {
	code           int
	stdout, stderr string
}

// guardrun runs the real binary in dir.
func guardrun(t testing.TB, dir string, args ...string) result {
	t.Helper()
	return guardrunEnv(t, dir, nil, args...)
}

// guardrunEnv runs the real binary in dir with extra environment variables.
func guardrunEnv(t testing.TB, dir string, extra []string, args ...string) result {
	t.Helper()
	return guardrunFilesEnv(t, dir, nil, extra, args...)
}

func e2eEnv() []string {
	env := os.Environ()
	if d := os.Getenv("GUARDRUN_E2E_COVERDIR"); d != "" {
		env = append(env, "GOCOVERDIR="+d)
	}
	return env
}

// workspace is a temp workspace with the test processors under bin/.
func workspace(t testing.TB, files map[string]string) string {
	return testutil.Workspace(t, files)
}
