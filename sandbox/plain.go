package sandbox

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"sync"
	"time"
)

// New returns the best sandbox this host supports (see Report).
func New(opts Options) (Sandbox, error) { return newPlatform(opts) }

// plain runs processes with process-group (Unix) tree kill and whatever
// rlimits the platform file adds; it enforces no network isolation.
type plain struct {
	opts   Options
	report Report
}

func (p *plain) Report() Report { return p.report }
func (p *plain) Sweep() error   { return nil }

func (p *plain) Start(ctx context.Context, c *Cmd) (Process, error) {
	cmd := exec.Command(c.Path, c.Args[1:]...)
	cmd.Args = c.Args
	cmd.Env = c.Env
	cmd.Dir = c.Dir
	cmd.Stdin, cmd.Stdout, cmd.Stderr = c.Stdin, c.Stdout, c.Stderr
	cmd.ExtraFiles = c.ExtraFiles
	setTreeAttrs(cmd)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", c.Path, err)
	}
	pr := &plainProc{cmd: cmd, start: start, done: make(chan struct{})}
	go func() {
		select {
		case <-ctx.Done():
			_ = pr.Kill()
		case <-pr.done:
		}
	}()
	return pr, nil
}

type plainProc struct {
	cmd   *exec.Cmd
	start time.Time
	done  chan struct{}
	once  sync.Once
}

func (p *plainProc) Pid() int { return p.cmd.Process.Pid }

func (p *plainProc) Kill() error { return killTree(p.cmd) }

func (p *plainProc) Wait() (Result, error) {
	err := p.cmd.Wait()
	p.once.Do(func() { close(p.done) })
	// Reap anything left in the group (children that outlived the leader).
	_ = killTree(p.cmd)
	res := Result{Wall: time.Since(p.start)}
	fillFromState(&res, p.cmd.ProcessState)
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		return res, fmt.Errorf("waiting for %s: %w", p.cmd.Path, err)
	}
	return res, nil
}
