//go:build linux

package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// cgroupPrefix starts the name of every cgroup guardrun creates. The full
// name is guardrun-<owner pid>-<owner start time>-<seq>[-<attempt id>], so
// Sweep can tell leftovers of a dead guardrun from cgroups of a live one.
const cgroupPrefix = "guardrun-"

// cgStats are the cgroup's own counters read after the tree has exited.
type cgStats struct {
	cpuSeconds float64
	haveCPU    bool
	peakBytes  int64
	havePeak   bool
	oomKills   uint64 // v1 memory.oom_control oom_kill, v2 memory.events oom_kill
	haveOOM    bool   // the kernel has an oom_kill counter
	failcnt    uint64 // v1 memory.failcnt (fallback when there is no oom_kill counter)
}

// attemptCgroup is the cgroup (v1: one directory per controller, v2: one
// directory) of one attempt.
type attemptCgroup interface {
	// fd is a descriptor of the cgroup directory for clone-into-cgroup, or
	// -1 when the processor must be attached by attach before it runs.
	fd() int
	attach(pid int) error
	// enter moves the calling (locked) OS thread into the cgroup so that
	// children it forks are born inside; leave moves it back.
	enter() (leave func() error, err error)
	// killOnce SIGKILLs everything currently inside, without waiting.
	killOnce()
	// drain kills everything inside until the cgroup is empty.
	drain(timeout time.Duration) error
	stats() cgStats
	// remove deletes the cgroup (and any child cgroups the processor made).
	remove() error
	// notes are per-attempt enforcement notes (e.g. io not applied).
	notes() []string
	// path is a human-readable location, for errors and tests.
	paths() []string
	// recycle readies a drained cgroup, whose counters were read, for the
	// next attempt (cgpool_linux.go): it fails, and the cgroup must be
	// removed instead, when a child cgroup exists or more than
	// maxResidualBytes are still charged to it; else it resets the
	// per-attempt counters (v1: written to 0; v2: memory.peak reset and
	// a CPU baseline).
	recycle() error
}

// cgroupDriver creates attempt cgroups under guardrun's own cgroup.
type cgroupDriver interface {
	version() string // "cgroup v1" | "cgroup v2"
	// has reports whether a controller ("memory", "cpu", "pids", "io") can
	// be limited.
	has(controller string) bool
	// With pidns the kernel kills the tree with its first process, so
	// the v1 freezer (used to stop fork storms while killing) is skipped.
	create(name string, l Limits, dir string, pidns bool) (attemptCgroup, error)
	// sweep kills and removes cgroups left by guardrun processes that no
	// longer exist.
	sweep() error
	// reusable reports whether an attempt's cgroup can serve a later
	// attempt with exact per-attempt counters, and if not why; a probe
	// cgroup (probeCgroups) is where the kernel's files are tried.
	reusable(probe attemptCgroup) (bool, string)
}

var cgroupSeq atomic.Uint64

// attemptCgroupName builds a unique cgroup name for an attempt.
func attemptCgroupName(id string) string {
	var b strings.Builder
	for _, r := range id {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '.':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
		if b.Len() >= 64 {
			break
		}
	}
	name := fmt.Sprintf("%s%d-%d-%d", cgroupPrefix, os.Getpid(), selfStartTime(), cgroupSeq.Add(1))
	if b.Len() > 0 {
		name += "-" + b.String()
	}
	return name
}

// cgroupOwnerAlive reports whether the guardrun process that created the
// cgroup called name still runs. Names that do not parse count as alive,
// so Sweep never touches what it does not understand.
func cgroupOwnerAlive(name string) bool {
	rest, ok := strings.CutPrefix(name, cgroupPrefix)
	if !ok {
		return true
	}
	parts := strings.SplitN(rest, "-", 3)
	if len(parts) < 3 {
		return true
	}
	pid, err1 := strconv.Atoi(parts[0])
	start, err2 := strconv.ParseUint(parts[1], 10, 64)
	if err1 != nil || err2 != nil {
		return true
	}
	st, err := processStartTime(pid)
	if err != nil {
		return false // no such process
	}
	return st == start
}

var selfStart = func() func() uint64 {
	var v atomic.Uint64
	return func() uint64 {
		if s := v.Load(); s != 0 {
			return s
		}
		s, _ := processStartTime(os.Getpid())
		v.Store(s)
		return s
	}
}()

func selfStartTime() uint64 { return selfStart() }

// processStartTime is field 22 of /proc/<pid>/stat (clock ticks after boot).
func processStartTime(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("parsing /proc/%d/stat", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return 0, fmt.Errorf("parsing /proc/%d/stat", pid)
	}
	return strconv.ParseUint(f[19], 10, 64)
}

// readPidsFile reads a cgroup.procs or tasks file.
func readPidsFile(path string) ([]int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []int
	for _, f := range strings.Fields(string(b)) {
		if n, err := strconv.Atoi(f); err == nil {
			out = append(out, n)
		}
	}
	return out, nil
}

// hasChildCgroups reports whether cgroup directory dir has a child
// directory (cgroupfs counts them in the directory's link count), or
// cannot be read.
func hasChildCgroups(dir string) bool {
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		return true
	}
	return st.Nlink != 2
}

// treePids lists the pids in dir's procsFile and in every cgroup below it.
func treePids(dir, procsFile string) []int {
	var out []int
	self := os.Getpid()
	if !hasChildCgroups(dir) {
		// No child cgroup (the usual case): one file to read.
		pids, _ := readPidsFile(filepath.Join(dir, procsFile))
		return slices.DeleteFunc(pids, func(p int) bool { return p == self })
	}
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() {
			if pids, err := readPidsFile(filepath.Join(p, procsFile)); err == nil {
				for _, pid := range pids {
					if pid != self { // guardrun's thread, while it forks
						out = append(out, pid)
					}
				}
			}
		}
		return nil
	})
	return out
}

// rmdirTree removes a cgroup directory and the cgroups below it, deepest
// first, retrying briefly while the kernel still counts exiting tasks.
func rmdirTree(dir string) error {
	var dirs []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	var last error
	for i := len(dirs) - 1; i >= 0; i-- {
		last = nil
		for try := 0; try < 50; try++ {
			err := unix.Rmdir(dirs[i])
			if err == nil || errors.Is(err, unix.ENOENT) {
				last = nil
				break
			}
			last = err
			if !errors.Is(err, unix.EBUSY) && !errors.Is(err, unix.EAGAIN) {
				break
			}
			time.Sleep(time.Duration(try+1) * time.Millisecond)
		}
		if last != nil {
			return fmt.Errorf("removing cgroup %s: %w", dirs[i], last)
		}
	}
	return nil
}

// killPids sends SIGKILL to every pid; it reports whether any was sent.
func killPids(pids []int) bool {
	sent := false
	self := os.Getpid()
	for _, pid := range pids {
		if pid > 0 && pid != self && unix.Kill(pid, syscall.SIGKILL) == nil {
			sent = true
		}
	}
	return sent
}

// blockDevice returns major:minor of the whole disk holding dir, for IO
// throttling, or ok=false (tmpfs, overlay, network filesystems).
func blockDevice(dir string) (major, minor int64, ok bool) {
	if dir == "" {
		dir = "."
	}
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		return 0, 0, false
	}
	ma, mi := unix.Major(st.Dev), unix.Minor(st.Dev)
	if ma == 0 {
		return 0, 0, false
	}
	sys := fmt.Sprintf("/sys/dev/block/%d:%d", ma, mi)
	if _, err := os.Stat(sys); err != nil {
		return 0, 0, false
	}
	if _, err := os.Stat(filepath.Join(sys, "partition")); err == nil {
		// Throttling applies to whole disks: use the partition's parent.
		real, err := filepath.EvalSymlinks(sys)
		if err != nil {
			return 0, 0, false
		}
		b, err := os.ReadFile(filepath.Join(filepath.Dir(real), "dev"))
		if err != nil {
			return 0, 0, false
		}
		if _, err := fmt.Sscanf(strings.TrimSpace(string(b)), "%d:%d", &ma, &mi); err != nil {
			return 0, 0, false
		}
	}
	return int64(ma), int64(mi), true
}

func readUintFile(path string) (uint64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	s := strings.TrimSpace(string(b))
	if s == "max" {
		return 0, nil
	}
	return strconv.ParseUint(s, 10, 64)
}

// readKeyed returns the value of key in a "key value" per line file
// (memory.oom_control, memory.events, cpu.stat).
func readKeyed(path, key string) (uint64, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 2 && f[0] == key {
			v, err := strconv.ParseUint(f[1], 10, 64)
			return v, err == nil
		}
	}
	return 0, false
}

// writeCgroupFile writes value to an existing cgroup control file.
func writeCgroupFile(path, value string) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(value)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
