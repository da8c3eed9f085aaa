//go:build linux

package sandbox

import (
	"errors"
	"fmt"
	"sync"
)

// maxResidualBytes is how much memory may still be charged to a drained
// attempt cgroup for it to serve another attempt: kernel objects and page
// cache the earlier attempt left (a small output file, its dentries and
// inodes), which the next attempt's peak and limit would count. It is the
// kernel's own per-CPU charge batch (MEMCG_CHARGE_BATCH, 64 pages of 4
// KiB), by which the usage counters are already approximate; a cgroup
// holding more is removed (the kernel moves its charges to the parent) and
// the next attempt gets a new one.
const maxResidualBytes = 1 << 20

// maxIdleCgroups bounds the drained cgroups a sandbox keeps for later
// attempts; one released while that many wait is removed.
const maxIdleCgroups = 32

// cgKey is what an attempt cgroup was created with: a drained one serves
// only an attempt with the same key, so no limit is ever rewritten.
type cgKey struct {
	l     Limits
	pidns bool   // v1: no freezer with a pid namespace
	dev   string // "major:minor" of the IO-limited block device, or ""
}

// cgPool keeps the drained cgroups of finished attempts for the next
// attempts with the same limits, instead of an mkdir and rmdir per
// attempt in every hierarchy (v1) and the kernel's asynchronous teardown
// of each. Only what recycle accepts goes back: an attempt that was
// killed (Kill, its deadline), counted a memory kill, or whose drain
// failed gives its cgroup to rmdir as before. Pooled cgroups are named
// guardrun-<pid>-<start>-<seq>-slot, so a crashed guardrun's are swept
// like its attempt cgroups; Close removes them at the end of a run.
type cgPool struct {
	mu     sync.Mutex
	idle   map[cgKey][]attemptCgroup
	n      int
	closed bool
}

// get returns a drained cgroup created with key, or nil.
func (p *cgPool) get(k cgKey) attemptCgroup {
	p.mu.Lock()
	defer p.mu.Unlock()
	l := p.idle[k]
	if len(l) == 0 {
		return nil
	}
	cg := l[len(l)-1]
	p.idle[k] = l[:len(l)-1]
	p.n--
	return cg
}

// put recycles cg for a later attempt with key k, or removes it when it
// cannot be recycled, the pool is full or closed.
func (p *cgPool) put(k cgKey, cg attemptCgroup) error {
	if err := cg.recycle(); err != nil {
		return cg.remove()
	}
	p.mu.Lock()
	if p.closed || p.n >= maxIdleCgroups {
		p.mu.Unlock()
		return cg.remove()
	}
	if p.idle == nil {
		p.idle = map[cgKey][]attemptCgroup{}
	}
	p.idle[k] = append(p.idle[k], cg)
	p.n++
	p.mu.Unlock()
	return nil
}

// close removes every idle cgroup; cgroups released later are removed.
func (p *cgPool) close() error {
	p.mu.Lock()
	idle := p.idle
	p.idle, p.n, p.closed = nil, 0, true
	p.mu.Unlock()
	var errs []error
	for _, l := range idle {
		for _, cg := range l {
			if err := cg.remove(); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("removing pooled cgroups: %w", err)
	}
	return nil
}

// idlePaths lists the directories of the idle cgroups (tests).
func (p *cgPool) idlePaths() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, l := range p.idle {
		for _, cg := range l {
			out = append(out, cg.paths()...)
		}
	}
	return out
}
