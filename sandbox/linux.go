//go:build linux

package sandbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// nsConfig is how every attempt's first process is cloned.
type nsConfig struct {
	flags     uintptr
	uidMap    []syscall.SysProcIDMap
	gidMap    []syscall.SysProcIDMap
	setgroups bool
	network   string // report value
	pidns     bool
}

// nsCandidates lists namespace setups from strongest to weakest.
//
// As root the processor still gets a user namespace, with an identity
// mapping of all ids: files behave exactly as for root, but its
// capabilities only count inside its own namespaces, so it cannot setns()
// back into the host network namespace, mount, or load modules.
// Not root: a user namespace mapping only the caller's uid/gid.
func nsCandidates() []nsConfig {
	uid, gid := os.Getuid(), os.Getgid()
	if uid == 0 {
		return []nsConfig{
			{flags: unix.CLONE_NEWNET | unix.CLONE_NEWPID, network: "netns", pidns: true},
			{flags: unix.CLONE_NEWNET, network: "netns"},
		}
	}
	um := []syscall.SysProcIDMap{{ContainerID: uid, HostID: uid, Size: 1}}
	gm := []syscall.SysProcIDMap{{ContainerID: gid, HostID: gid, Size: 1}}
	return []nsConfig{
		{flags: unix.CLONE_NEWUSER | unix.CLONE_NEWNET | unix.CLONE_NEWPID, uidMap: um, gidMap: gm, network: "userns+netns", pidns: true},
		{flags: unix.CLONE_NEWUSER | unix.CLONE_NEWNET, uidMap: um, gidMap: gm, network: "userns+netns"},
	}
}

func (n nsConfig) apply(a *syscall.SysProcAttr) {
	a.Cloneflags = n.flags
	a.UidMappings = n.uidMap
	a.GidMappings = n.gidMap
	a.GidMappingsEnableSetgroups = n.setgroups
}

// hostProbe is what this host supports; it is computed once per process.
type hostProbe struct {
	ns      *nsConfig // nil: no network isolation possible
	nsErr   error
	cg      cgroupDriver
	cgErr   error
	cgNotes []string
	// cgReuse: a drained attempt cgroup can serve the next attempt with
	// exact counters (cgPool); cgNoReuse says why not.
	cgReuse   bool
	cgNoReuse string
	conf      confineCaps
}

var (
	probeOnce sync.Once
	probed    hostProbe
)

func probeHost() hostProbe {
	probeOnce.Do(func() {
		probed.ns, probed.nsErr = probeNamespaces()
		probed.cg, probed.cgReuse, probed.cgNoReuse, probed.cgErr = probeCgroups()
		probed.conf = probeConfinement()
	})
	return probed
}

// probeNamespaces starts /proc/self/exe with each candidate's clone flags,
// stopped by ptrace at its exec (so not one instruction of it runs), and
// kills it.
func probeNamespaces() (*nsConfig, error) {
	var errs []error
	for _, c := range nsCandidates() {
		cmd := exec.Command("/proc/self/exe")
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		c.apply(cmd.SysProcAttr)
		err := startGated(cmd, func(int) error { return nil }, true)
		if err == nil {
			_ = cmd.Wait()
			return &c, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", c.network, err))
	}
	return nil, errors.Join(errs...)
}

// probeCgroups picks the cgroup version of this host and proves it works
// by creating and removing one cgroup, in which it also tries whether a
// drained cgroup can be recycled (reuse, or why not).
func probeCgroups() (d cgroupDriver, reuse bool, why string, err error) {
	var st unix.Statfs_t
	if err := unix.Statfs("/sys/fs/cgroup", &st); err != nil {
		return nil, false, "", fmt.Errorf("no cgroup filesystem: %w", err)
	}
	if st.Type == unix.CGROUP2_SUPER_MAGIC {
		own, err := ownV2Group()
		if err != nil {
			return nil, false, "", err
		}
		d2, err := newV2Driver("/sys/fs/cgroup", own, os.Getpid())
		if err != nil {
			return nil, false, "", err
		}
		d = d2
	} else {
		d1, err := newV1Driver()
		if err != nil {
			return nil, false, "", err
		}
		d = d1
	}
	a, err := d.create(attemptCgroupName("probe"), Limits{}, "", false)
	if err != nil {
		return nil, false, "", err
	}
	reuse, why = d.reusable(a)
	if err := a.remove(); err != nil {
		return nil, false, "", err
	}
	return d, reuse, why, nil
}

// startGated starts cmd so that it is inside its cgroup before its own code
// runs, on hosts without clone-into-cgroup (cgroup v1): the child is
// started with PTRACE_TRACEME, so the kernel stops it right after execve,
// before the first instruction of the new program; place then writes its
// pid into the cgroups and the child is released with PTRACE_DETACH. With
// kill set (probing), the stopped child is killed instead of released.
func startGated(cmd *exec.Cmd, place func(pid int) error, kill bool) error {
	// ptrace requests must come from the thread that started the tracee.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cmd.SysProcAttr.Ptrace = true
	if err := cmd.Start(); err != nil {
		return err
	}
	pid := cmd.Process.Pid
	fail := func(err error) error {
		_ = unix.Kill(pid, unix.SIGKILL)
		_ = cmd.Wait()
		return err
	}
	var info unix.Siginfo
	for {
		err := unix.Waitid(unix.P_PID, pid, &info, unix.WSTOPPED|unix.WEXITED|unix.WNOWAIT, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fail(fmt.Errorf("waiting for the exec stop of pid %d: %w", pid, err))
		}
		break
	}
	const cldTrapped = 4 // CLD_TRAPPED (asm-generic/siginfo.h): a ptrace stop
	if info.Code != cldTrapped {
		// It exited or was killed before exec completed; Wait reports it.
		return nil
	}
	if kill {
		return fail(nil)
	}
	if err := place(pid); err != nil {
		return fail(err)
	}
	if err := unix.PtraceDetach(pid); err != nil {
		return fail(fmt.Errorf("releasing pid %d: %w", pid, err))
	}
	return nil
}

// linuxSandbox confines attempts with namespaces and cgroups.
type linuxSandbox struct {
	opts   Options
	report Report
	ns     *nsConfig
	cg     cgroupDriver
	conf   confineCaps
	// afterFork is a test hook run right after the child was started and
	// before any later placement step (attach, thread move back).
	afterFork func(pid int)
	// forceGate makes v1 placement use the ptrace gate (tests).
	forceGate bool
	// netns is the run's network namespace (root only): empty, its
	// loopback down, created once and entered by every attempt's
	// starting thread instead of a namespace cloned per attempt, whose
	// creation and teardown cost the kernel about 2 ms each. nil: each
	// attempt clones its own.
	netns *os.File
	// pool keeps drained attempt cgroups for later attempts with the same
	// limits (cgpool_linux.go); nil when they are not reused: not root
	// (the processor's uid would own its cgroup's files), or a kernel
	// whose counters cannot be reset (v2 before 6.12: memory.peak).
	pool *cgPool
	// mu guards closed.
	mu     sync.Mutex
	closed bool
}

// newRunNetns creates an empty network namespace and returns a handle
// that keeps it alive: on a locked thread that unshares it and then dies
// with its goroutine, so no other goroutine ever runs in it.
func newRunNetns() (*os.File, error) {
	type result struct {
		f   *os.File
		err error
	}
	ch := make(chan result, 1)
	go func() {
		lockThreadForever()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			ch <- result{err: fmt.Errorf("creating the run's network namespace: %w", err)}
			return
		}
		f, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
		ch <- result{f, err}
	}()
	r := <-ch
	return r.f, r.err
}

// startOnThread starts cmd from a dedicated OS thread that first puts
// itself where the child must be from its first instruction, because a
// child inherits its creating thread's state at fork:
//
//   - cgroup v1 (no clone-into-cgroup): the thread moves itself into the
//     attempt cgroup, forks, and moves back. If it cannot enter, the child
//     is started held at its exec by ptrace, placed, and released
//     (startGated). cgroup v2 clones straight into the cgroup (CgroupFD).
//   - confinement (confine_linux.go): mount namespace, no_new_privs,
//     Landlock, seccomp: none of it can be undone, so the thread is never
//     reused.
//
// The thread stays alive, parked, until the attempt has been reaped
// (released closes): a child's Pdeathsig fires when the thread that
// created it ends, which is what kills the attempt when guardrun dies.
func (s *linuxSandbox) startOnThread(cmd *exec.Cmd, cg attemptCgroup, plan confinePlan, released <-chan struct{}) error {
	ch := make(chan error, 1)
	go func() {
		lockThreadForever()
		started := false
		if s.netns != nil {
			// Before any confinement: the child is forked into the run's
			// network namespace from this (doomed) thread.
			if err := unix.Setns(int(s.netns.Fd()), unix.CLONE_NEWNET); err != nil {
				ch <- fmt.Errorf("entering the run's network namespace: %w", err)
				return
			}
		}
		defer func() {
			if started {
				<-released
			}
		}()
		var leave func() error
		gate := false
		if cg != nil && cg.fd() < 0 {
			var err error
			if s.forceGate {
				gate = true
			} else if leave, err = cg.enter(); err != nil {
				gate, leave = true, nil
			}
		}
		mntNS, err := confineThread(plan)
		if err != nil {
			if leave != nil {
				err = errors.Join(err, leave())
			}
			ch <- fmt.Errorf("confining: %w", err)
			return
		}
		if mntNS >= 0 {
			defer unix.Close(mntNS)
		}
		if gate || mntNS >= 0 {
			// Held at its exec until it is placed and its /proc mounted.
			err = startGated(cmd, func(pid int) error {
				s.runAfterFork(pid)
				if mntNS >= 0 {
					// Should the kernel refuse, the hidepid /proc mounted
					// before the fork stays: the host is still invisible.
					_ = mountPidnsProc(mntNS, pid)
				}
				if !gate {
					return nil
				}
				// This thread may no longer write cgroup files (read-only
				// mounts, Landlock): another thread places the child.
				return elsewhere(func() error { return cg.attach(pid) })
			}, false)
		} else {
			err = cmd.Start()
			if err == nil {
				s.runAfterFork(cmd.Process.Pid)
			}
		}
		started = err == nil
		if leave != nil {
			if lerr := leave(); lerr != nil {
				if started {
					_ = unix.Kill(cmd.Process.Pid, unix.SIGKILL)
					_ = cmd.Wait()
					started = false
				}
				err = errors.Join(err, lerr)
			}
		}
		ch <- err
	}()
	return <-ch
}

// runAfterFork runs the test hook, on another thread than the confined
// one that forked.
func (s *linuxSandbox) runAfterFork(pid int) {
	if s.afterFork != nil {
		_ = elsewhere(func() error { s.afterFork(pid); return nil })
	}
}

// elsewhere runs f on a new goroutine (so on another, unconfined OS
// thread than a locked caller's) and waits for it.
func elsewhere(f func() error) error {
	done := make(chan error, 1)
	go func() {
		defer close(done)
		done <- f()
	}()
	return <-done
}

func newPlatform(opts Options) (Sandbox, error) {
	p := probeHost()
	return newLinux(opts, p)
}

func newLinux(opts Options, p hostProbe) (*linuxSandbox, error) {
	s := &linuxSandbox{opts: opts, cg: p.cg}
	r := Report{Network: "none", Memory: "none", CPU: "none", Pids: "none", IO: "none", Tree: "process group", Filesystem: "none", User: "caller", Landlock: "none", Syscalls: "none", BestEffort: opts.BestEffort}
	switch {
	case opts.AllowNetwork:
		r.Notes = append(r.Notes, "network isolation disabled by the caller")
		if p.ns != nil && p.ns.pidns {
			// Keep the pid namespace (tree kill) without the netns.
			ns := nsConfig{flags: unix.CLONE_NEWPID, network: "none", pidns: true}
			if p.ns.flags&unix.CLONE_NEWUSER != 0 {
				ns = *p.ns
				ns.flags &^= unix.CLONE_NEWNET
				ns.network = "none"
			}
			s.ns = &ns
		}
	case p.ns != nil:
		s.ns = p.ns
		r.Network = p.ns.network
		if p.ns.flags&unix.CLONE_NEWUSER == 0 && p.ns.flags&unix.CLONE_NEWNET != 0 && !opts.NetnsPerAttempt {
			// Root: one empty network namespace for the run, entered by
			// every attempt (the processor has no capability in it, so it
			// cannot bring its loopback up or leave it).
			if f, err := newRunNetns(); err == nil {
				ns := *p.ns
				ns.flags &^= unix.CLONE_NEWNET
				s.ns, s.netns = &ns, f
			}
		}
	default:
		err := fmt.Errorf("network isolation (network namespace) %w: %v", ErrUnenforceable, p.nsErr)
		if !opts.BestEffort {
			return nil, err
		}
		r.Notes = append(r.Notes, err.Error())
	}
	if s.ns != nil && s.ns.pidns {
		r.Tree = "pidns"
	}
	if p.cg != nil {
		v := p.cg.version()
		for _, x := range []struct {
			field *string
			ctrl  string
		}{{&r.Memory, "memory"}, {&r.CPU, "cpu"}, {&r.Pids, "pids"}, {&r.IO, "io"}} {
			if p.cg.has(x.ctrl) {
				*x.field = v
			}
		}
		r.Tree += "+cgroup"
		if r.Tree == "process group+cgroup" {
			r.Tree = "cgroup"
		}
		if r.IO != "none" {
			r.Notes = append(r.Notes, "io limits apply to the block device of the stage's working directory (not tmpfs/overlay)")
		}
	} else {
		err := fmt.Errorf("cpu, memory and process limits (cgroups) %w: %v", ErrUnenforceable, p.cgErr)
		if !opts.BestEffort {
			return nil, err
		}
		r.Notes = append(r.Notes, err.Error())
	}
	if p.cg != nil && p.cgReuse && os.Getuid() == 0 {
		s.pool = &cgPool{}
	}
	s.conf = p.conf
	r.Filesystem = p.conf.filesystem()
	if r.Filesystem == "none" {
		err := fmt.Errorf("filesystem confinement (mount namespace or Landlock) %w: %v", ErrUnenforceable, p.conf.mountNSErr)
		if !opts.BestEffort {
			return nil, err
		}
		r.Notes = append(r.Notes, err.Error())
	} else if !p.conf.mountNS {
		r.Notes = append(r.Notes, "no mount namespace ("+p.conf.mountNSErr.Error()+"): Landlock alone keeps writes in the staging dir, /tmp and /dev; the host stays visible")
	}
	if os.Getuid() == 0 {
		r.User = "unprivileged uid per attempt"
	} else {
		r.User = "caller's uid"
	}
	if p.conf.landlockABI > 0 {
		r.Landlock = fmt.Sprintf("abi %d", p.conf.landlockABI)
		if !p.conf.unixResolve {
			r.Notes = append(r.Notes, "this kernel's Landlock cannot refuse connects to path-named unix sockets: the seccomp filter refuses AF_UNIX sockets instead")
		}
	} else {
		r.Landlock = "none"
	}
	r.Syscalls = "none"
	switch {
	case opts.AllowNetwork:
	case p.conf.seccomp:
		r.Syscalls = "seccomp"
	default:
		r.Notes = append(r.Notes, fmt.Sprintf("no seccomp filter: %v", p.conf.seccompErr))
	}
	s.report = r
	return s, nil
}

func (s *linuxSandbox) Report() Report { return s.report }

// Close removes the cgroups kept for reuse and releases the run's network
// namespace; Start fails afterwards. Attempts still running end as
// usual, their cgroups are removed.
func (s *linuxSandbox) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	var errs []error
	if s.pool != nil {
		errs = append(errs, s.pool.close())
	}
	if s.netns != nil {
		errs = append(errs, s.netns.Close())
	}
	return errors.Join(errs...)
}

// cgKey is the pool key of c's cgroup; ok is false when its cgroup must
// not be pooled (an IO limit on a filesystem without a block device: its
// note names the attempt's directory).
func (s *linuxSandbox) cgKey(c *Cmd) (k cgKey, ok bool) {
	k = cgKey{l: c.Limits, pidns: s.ns != nil && s.ns.pidns}
	if c.Limits.ReadBps > 0 || c.Limits.WriteBps > 0 {
		ma, mi, haveDev := blockDevice(c.Dir)
		if !haveDev {
			return k, false
		}
		k.dev = fmt.Sprintf("%d:%d", ma, mi)
	}
	return k, true
}

// plan is how c's thread confines itself before the fork.
func (s *linuxSandbox) plan(c *Cmd) confinePlan {
	dir := c.Dir
	if dir == "" {
		dir, _ = os.Getwd()
	}
	p := confinePlan{dir: dir, writable: c.Writable, visible: append([]string{c.Path}, c.Visible...), hide: s.opts.Hide,
		mountNS: s.conf.mountNS, landlock: s.conf.landlockABI, llFS: s.conf.landlockFS,
		pidnsProc: s.conf.mountNS && s.conf.pidnsProc && s.ns != nil && s.ns.pidns,
		llNet:     !s.opts.AllowNetwork, seccomp: s.conf.seccomp && !s.opts.AllowNetwork}
	return p
}

func (s *linuxSandbox) Sweep() error {
	if s.cg == nil {
		return nil
	}
	if err := s.cg.sweep(); err != nil {
		return fmt.Errorf("sweeping leftover cgroups: %w", err)
	}
	return nil
}

// unenforced lists requested limits the host cannot enforce.
func (s *linuxSandbox) unenforced(l Limits) []string {
	var out []string
	has := func(c string) bool { return s.cg != nil && s.cg.has(c) }
	if l.MemoryBytes > 0 && !has("memory") {
		out = append(out, "memory limit")
	}
	if l.CPUs > 0 && !has("cpu") {
		out = append(out, "cpu limit")
	}
	if l.Pids > 0 && !has("pids") {
		out = append(out, "pids limit")
	}
	if (l.ReadBps > 0 || l.WriteBps > 0) && !has("io") {
		out = append(out, "io limit")
	}
	return out
}

func (s *linuxSandbox) Start(ctx context.Context, c *Cmd) (Process, error) {
	var notes []string
	if miss := s.unenforced(c.Limits); len(miss) > 0 {
		if !s.opts.BestEffort {
			return nil, fmt.Errorf("starting %s: %s %w", c.Path, strings.Join(miss, ", "), ErrUnenforceable)
		}
		for _, m := range miss {
			notes = append(notes, m+" not enforced")
		}
	}
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return nil, fmt.Errorf("starting %s: the sandbox is closed", c.Path)
	}
	var cg attemptCgroup
	var key cgKey
	pooled := false
	if s.cg != nil {
		var err error
		if s.pool != nil {
			if key, pooled = s.cgKey(c); pooled {
				cg = s.pool.get(key)
			}
		}
		if cg == nil {
			name := attemptCgroupName(c.ID)
			if pooled {
				// It will serve other attempts: named for none.
				name = attemptCgroupName("slot")
			}
			cg, err = s.cg.create(name, c.Limits, c.Dir, s.ns != nil && s.ns.pidns)
		}
		if err != nil {
			if !s.opts.BestEffort {
				return nil, fmt.Errorf("starting %s: %w: %w", c.Path, ErrUnenforceable, err)
			}
			notes = append(notes, "no cgroup: "+err.Error())
		} else {
			notes = append(notes, cg.notes()...)
			if (c.Limits.ReadBps > 0 || c.Limits.WriteBps > 0) && len(cg.notes()) > 0 && !s.opts.BestEffort {
				_ = cg.remove()
				return nil, fmt.Errorf("starting %s: %s: %w", c.Path, strings.Join(cg.notes(), "; "), ErrUnenforceable)
			}
		}
	}
	cmd := exec.Command(c.Path)
	cmd.Args = c.Args
	cmd.Env = c.Env
	cmd.Dir = c.Dir
	cmd.Stdin, cmd.Stdout, cmd.Stderr = c.Stdin, c.Stdout, c.Stderr
	cmd.ExtraFiles = c.ExtraFiles
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if s.ns != nil {
		s.ns.apply(cmd.SysProcAttr)
	}
	plan := s.plan(c)
	var id uint32 // the attempt's uid when guardrun is root
	if os.Getuid() == 0 {
		id = nextProcID()
		if err := checkReachable(plan, c.Path, id); err != nil {
			if cg != nil {
				_ = cg.remove()
			}
			return nil, fmt.Errorf("starting %s: %w", c.Path, err)
		}
		if err := chownTree(plan.dir, c.Writable, id); err != nil {
			if cg != nil {
				_ = cg.remove()
			}
			return nil, fmt.Errorf("starting %s: %w", c.Path, err)
		}
		cmd.SysProcAttr.Credential = credential(id)
	}
	if plan.mountNS {
		// The private /tmp is the only writable place besides the
		// writable dirs: temp files and caches go there.
		cmd.Env = setEnv(setEnv(cmd.Env, "TMPDIR", "/tmp"), "HOME", "/tmp")
	} else if plan.landlock > 0 {
		// Landlock alone: a temp dir of the attempt's own, removed when
		// it has been reaped.
		tmp, err := os.MkdirTemp("", "guardrun-attempt-")
		if err != nil {
			if cg != nil {
				_ = cg.remove()
			}
			return nil, fmt.Errorf("starting %s: %w", c.Path, err)
		}
		plan.tmpDir = tmp
		cmd.Env = setEnv(cmd.Env, "TMPDIR", tmp)
		if id != 0 {
			if err := os.Chown(tmp, int(id), int(id)); err != nil {
				_ = os.RemoveAll(tmp)
				if cg != nil {
					_ = cg.remove()
				}
				return nil, fmt.Errorf("starting %s: %w", c.Path, err)
			}
		}
	}
	if cg != nil && cg.fd() >= 0 {
		// cgroup v2: clone3(CLONE_INTO_CGROUP) puts the child into its
		// cgroup atomically at fork.
		cmd.SysProcAttr.UseCgroupFD = true
		cmd.SysProcAttr.CgroupFD = cg.fd()
	}
	released := make(chan struct{})
	start := time.Now()
	if err := s.startOnThread(cmd, cg, plan, released); err != nil {
		if cg != nil {
			_ = cg.remove()
		}
		if plan.tmpDir != "" {
			_ = os.RemoveAll(plan.tmpDir)
		}
		return nil, fmt.Errorf("starting %s: %w", c.Path, err)
	}
	p := &linuxProc{cmd: cmd, cg: cg, start: start, notes: notes, released: released, tmpDir: plan.tmpDir}
	if pooled {
		p.pool, p.key = s.pool, key
	}
	p.supervisor = supervise(ctx, p.kill, p.reap)
	return p, nil
}

type linuxProc struct {
	*supervisor
	cmd   *exec.Cmd
	cg    attemptCgroup
	start time.Time
	notes []string
	// released ends the thread that started the attempt, once reaped.
	released chan struct{}
	tmpDir   string // the attempt's own temp dir (Landlock without mount namespace)
	// pool takes cg back for a later attempt with the same key when the
	// attempt ended cleanly; nil: cg is removed.
	pool *cgPool
	key  cgKey
}

func (p *linuxProc) Pid() int { return p.cmd.Process.Pid }

// kill kills the tree; the supervisor never calls it once the first
// process was reaped (its pid may be reused).
func (p *linuxProc) kill() error {
	pid := p.cmd.Process.Pid
	// With a pid namespace, killing its first process makes the kernel
	// kill every process in it.
	_ = unix.Kill(pid, unix.SIGKILL)
	_ = unix.Kill(-pid, unix.SIGKILL)
	if p.cg != nil {
		p.cg.killOnce()
	}
	return nil
}

func (p *linuxProc) reap() (Result, error) {
	pid := p.cmd.Process.Pid
	// Wait for the first process to exit without reaping it (its pid and
	// process group stay reserved), kill what is left of the tree, then
	// reap: so stdout/stderr pipes held by leftovers cannot block Wait.
	var info unix.Siginfo
	for {
		err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if err != unix.EINTR {
			break
		}
	}
	_ = unix.Kill(-pid, unix.SIGKILL)
	var errs []error
	drained := true
	if p.cg != nil {
		if err := p.cg.drain(5 * time.Second); err != nil {
			errs = append(errs, err)
			drained = false
		}
	}
	// Only the unreaped first process is left, so a kill has nothing left
	// to do; end kills before cmd.Wait frees its pid for reuse.
	killed, _ := p.markReaped(nil)
	err := p.cmd.Wait()
	close(p.released)
	if p.tmpDir != "" {
		_ = os.RemoveAll(p.tmpDir)
	}
	res := Result{Wall: time.Since(p.start), Notes: p.notes}
	fillFromState(&res, p.cmd.ProcessState)
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		errs = append(errs, fmt.Errorf("waiting for %s: %w", p.cmd.Path, err))
	}
	if p.cg != nil {
		st := p.cg.stats()
		if st.haveCPU {
			res.CPUSeconds = st.cpuSeconds
		}
		if st.havePeak {
			res.PeakMemoryBytes = st.peakBytes
		}
		switch {
		case st.haveOOM:
			res.OOMKilled = st.oomKills > 0
		default:
			// Kernels without an oom_kill counter: the limit was hit and
			// the tree died by SIGKILL that guardrun did not send.
			res.OOMKilled = st.failcnt > 0 && res.Signal == syscall.SIGKILL.String() && !killed
		}
		// A cgroup serves the next attempt only after a clean end: not
		// killed (by Kill, a deadline or the kernel's OOM killer, whose
		// counter cannot be reset), drained, reaped without error.
		var err error
		if p.pool != nil && drained && !killed && st.oomKills == 0 && !res.OOMKilled && len(errs) == 0 {
			err = p.pool.put(p.key, p.cg)
		} else {
			err = p.cg.remove()
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return res, errors.Join(errs...)
}
