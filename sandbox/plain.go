package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"time"
)

// New returns the best sandbox this host supports (see Report). Pass it
// to Close once its last attempt has been waited for.
func New(opts Options) (Sandbox, error) {
	closeInheritedOnExec()
	return newPlatform(opts)
}

// Close releases what sb keeps between attempts: on Linux as root, the
// drained attempt cgroups kept for later attempts (docs/SANDBOX.md,
// "Reused cgroups") and the run's network namespace. Start fails on a
// closed sandbox. Sandboxes without a Close() error method keep nothing.
func Close(sb Sandbox) error {
	if c, ok := sb.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

// plain runs processes with process-group (Unix) tree kill and whatever
// rlimits the platform file adds; it enforces no network isolation.
type plain struct {
	opts   Options
	report Report
	// wrap, when set, rewrites the command to apply limits (rlimits through
	// /bin/sh's ulimit on BSDs) and lists the limits it could not apply.
	wrap func(c *Cmd) (path string, args []string, unenforced []string)
}

func (p *plain) Report() Report { return p.report }
func (p *plain) Sweep() error   { return nil }
func (p *plain) Close() error   { return nil }

func (p *plain) Start(ctx context.Context, c *Cmd) (Process, error) {
	path, args, miss := c.Path, c.Args, requested(c.Limits)
	if p.wrap != nil {
		path, args, miss = p.wrap(c)
	}
	var notes []string
	if len(miss) > 0 {
		if !p.opts.BestEffort {
			return nil, fmt.Errorf("starting %s: %s %w", c.Path, strings.Join(miss, ", "), ErrUnenforceable)
		}
		for _, m := range miss {
			notes = append(notes, m+" not enforced")
		}
	}
	cmd := exec.Command(path)
	cmd.Args = args
	cmd.Env = c.Env
	cmd.Dir = c.Dir
	cmd.Stdin, cmd.Stdout, cmd.Stderr = c.Stdin, c.Stdout, c.Stderr
	cmd.ExtraFiles = c.ExtraFiles
	setTreeAttrs(cmd)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", c.Path, err)
	}
	pr := &plainProc{cmd: cmd, start: start, notes: notes}
	pr.supervisor = supervise(ctx, func() error { return killTree(cmd) }, pr.reap)
	return pr, nil
}

type plainProc struct {
	*supervisor
	cmd   *exec.Cmd
	start time.Time
	notes []string
}

func (p *plainProc) Pid() int { return p.cmd.Process.Pid }

func (p *plainProc) reap() (Result, error) {
	// There is no portable wait without reaping here: kills stay possible
	// until cmd.Wait returns.
	err := p.cmd.Wait()
	p.markReaped(nil)
	// Reap anything left in the group (children that outlived the leader).
	_ = killTree(p.cmd)
	res := Result{Wall: time.Since(p.start), Notes: p.notes}
	fillFromState(&res, p.cmd.ProcessState)
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		return res, fmt.Errorf("waiting for %s: %w", p.cmd.Path, err)
	}
	return res, nil
}

// requested lists the limits l asks for, by name.
func requested(l Limits) []string {
	var out []string
	if l.MemoryBytes > 0 {
		out = append(out, "memory limit")
	}
	if l.CPUs > 0 {
		out = append(out, "cpu limit")
	}
	if l.Pids > 0 {
		out = append(out, "pids limit")
	}
	if l.ReadBps > 0 || l.WriteBps > 0 {
		out = append(out, "io limit")
	}
	return out
}
