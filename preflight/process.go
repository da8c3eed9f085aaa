package preflight

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/guardrun/guardrun/internal/toolenv"
)

// GuardName is the program that computes verdicts for guardrun.
const GuardName = "guardrun-guard"

// GuardEnv names the environment variable that points at guardrun-guard
// when it is not next to guardrun.
const GuardEnv = "GUARDRUN_GUARD"

// ErrNoGuard is what a verdict that must be computed without guardrun-guard
// is (errors.Is): a *GuardMissingError.
var ErrNoGuard = errors.New("guardrun-guard not found")

// GuardMissingError says where guardrun-guard was looked for and how to
// build it. It is ErrNoGuard.
type GuardMissingError struct {
	// Next is where it was looked for next to guardrun ("" when guardrun's
	// own path is unknown).
	Next string
	// Env is $GUARDRUN_GUARD when it was set to something that is not a
	// program.
	Env string
}

// Is makes errors.Is(err, ErrNoGuard) true.
func (e *GuardMissingError) Is(target error) bool { return target == ErrNoGuard }

func (e *GuardMissingError) Error() string {
	var b strings.Builder
	b.WriteString(GuardName + " not found (it evaluates the policy and lints Go processors for guardrun; looked ")
	if e.Next != "" {
		fmt.Fprintf(&b, "next to guardrun at %s, ", e.Next)
	}
	if e.Env != "" {
		fmt.Fprintf(&b, "at $%s=%s, ", GuardEnv, e.Env)
	} else {
		fmt.Fprintf(&b, "in $%s, ", GuardEnv)
	}
	b.WriteString("and on PATH): build it next to guardrun from guardrun's source: go build -o ")
	if e.Next != "" {
		b.WriteString(e.Next)
	} else {
		b.WriteString(exeName(GuardName))
	}
	b.WriteString(" ./cmd/guardrun-guard")
	return b.String()
}

func exeName(name string) string {
	if runtime.GOOS == "windows" {
		return name + ".exe"
	}
	return name
}

// FindGuard returns guardrun-guard's path: next to the running executable
// (the guard of the same build), else $GUARDRUN_GUARD, else on PATH. The
// error is a *GuardMissingError.
func FindGuard() (string, error) {
	name := exeName(GuardName)
	missing := &GuardMissingError{}
	if self, err := os.Executable(); err == nil {
		next := filepath.Join(filepath.Dir(self), name)
		if isProgram(next) {
			return next, nil
		}
		missing.Next = next
	}
	if env := os.Getenv(GuardEnv); env != "" {
		if isProgram(env) {
			return env, nil
		}
		missing.Env = env
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	return "", missing
}

func isProgram(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular() && (runtime.GOOS == "windows" || st.Mode().Perm()&0o111 != 0)
}

// ProcessGuard is guardrun-guard started for each request: one process,
// one JSON request on its stdin, one JSON response on its stdout.
type ProcessGuard struct {
	// Path is the program; empty finds it with FindGuard when a request is
	// made (so that a run that needs no verdict never looks).
	Path string
}

// Judge runs guardrun-guard on req.
func (g ProcessGuard) Judge(ctx context.Context, req *Request) (*Response, error) {
	path := g.Path
	if path == "" {
		p, err := FindGuard()
		if err != nil {
			return nil, err
		}
		path = p
	}
	req.Protocol = Protocol
	in, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("encoding the request to %s: %w", GuardName, err)
	}
	// The guard runs the go command (go list, which compiles): with a
	// fixed environment (internal/toolenv) and a throw-away HOME, since
	// nothing is created in the workspace before the verdicts are in.
	home, err := os.MkdirTemp("", "guardrun-guard-home-")
	if err != nil {
		return nil, fmt.Errorf("creating a home for %s: %w", GuardName, err)
	}
	defer os.RemoveAll(home)
	if err := toolenv.TelemetryOff(home); err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, path)
	cmd.Env = toolenv.Go(home, "NETLINT_CONFIG", "GOCOVERDIR")
	cmd.Stdin = bytes.NewReader(in)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return nil, fmt.Errorf("running %s: %s", path, msg)
	}
	var resp Response
	if err := json.Unmarshal(stdout.Bytes(), &resp); err != nil {
		return nil, fmt.Errorf("reading the response of %s: %w", path, err)
	}
	if resp.Protocol != Protocol {
		return nil, fmt.Errorf("%s speaks protocol %d, guardrun %d: rebuild both from the same source", path, resp.Protocol, Protocol)
	}
	if resp.Error != "" {
		return nil, fmt.Errorf("%s: %s", path, resp.Error)
	}
	return &resp, nil
}
