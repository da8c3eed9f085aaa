//go:build !windows && !linux

package sandbox

import (
	"fmt"
	"runtime"
)

// newPlatform on macOS and the BSDs: process-group tree kill and, where the
// kernel enforces it, RLIMIT_AS for memory (set by /bin/sh's ulimit just
// before exec, so guardrun itself is never limited). RLIMIT_NPROC counts
// all processes of the user, not the tree, and RLIMIT_CPU is total CPU
// time, not a rate: neither is used. There is no network isolation.
func newPlatform(opts Options) (Sandbox, error) {
	p := &plain{opts: opts}
	r := Report{Network: "none", Memory: "none", CPU: "none", Pids: "none", IO: "none", Tree: "process group", Filesystem: "none", User: "caller", Landlock: "none", Syscalls: "none", BestEffort: opts.BestEffort}
	if rlimitASEnforced(runtime.GOOS) {
		r.Memory = "rlimit"
		r.Notes = append(r.Notes, "memory: RLIMIT_AS per process (virtual size), not per tree")
	}
	r.Notes = append(r.Notes, "cpu and pids limits are not enforced on "+runtime.GOOS)
	if !opts.AllowNetwork {
		err := fmt.Errorf("network isolation %w (%s)", ErrUnenforceable, runtime.GOOS)
		if !opts.BestEffort {
			return nil, err
		}
		r.Notes = append(r.Notes, err.Error())
	}
	p.report = r
	p.wrap = func(c *Cmd) (string, []string, []string) {
		return rlimitWrap(c, r.Memory == "rlimit")
	}
	return p, nil
}
