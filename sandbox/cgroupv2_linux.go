//go:build linux

package sandbox

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/cgroups/v3/cgroup2"
	"golang.org/x/sys/unix"
)

// v2Driver creates attempt cgroups as children of a parent group in a
// unified (cgroup2) hierarchy mounted at mount.
//
// The no-internal-processes rule: a non-root cgroup can hand controllers
// to its children only while it has no processes of its own. When guardrun's
// own cgroup G is not the root (also when it reads as "/" inside a cgroup
// namespace) and its controllers are not yet delegated to
// children, setup moves guardrun (only guardrun, nobody else) into the leaf
// G/guardrun-<pid>-<start>-self and enables the controllers in
// G/cgroup.subtree_control; attempt cgroups are then G/guardrun-....
type v2Driver struct {
	mount  string // e.g. /sys/fs/cgroup
	parent string // group path of the parent, e.g. /user.slice/x.scope
	ctrls  []string
	// selfLeaf is the leaf guardrun moved itself into ("" when not moved).
	selfLeaf string
}

// v2Controllers are the controllers guardrun uses when available.
var v2Controllers = []string{"cpu", "memory", "pids", "io"}

// ownV2Group returns the cgroup2 path of this process ("0::/path").
func ownV2Group() (string, error) {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if g, ok := strings.CutPrefix(line, "0::"); ok {
			return g, nil
		}
	}
	return "", errors.New("no cgroup2 entry in /proc/self/cgroup")
}

func readWords(path string) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	return strings.Fields(string(b))
}

// newV2Driver prepares parent (guardrun's own group) under mount. selfPid is
// the process moved into a leaf when needed (os.Getpid() in production).
func newV2Driver(mount, own string, selfPid int) (*v2Driver, error) {
	if own == "" {
		own = "/"
	}
	d := &v2Driver{mount: mount, parent: own}
	dir := filepath.Join(mount, own)
	avail := readWords(filepath.Join(dir, "cgroup.controllers"))
	enabled := readWords(filepath.Join(dir, "cgroup.subtree_control"))
	var want []string
	for _, c := range v2Controllers {
		if slices.Contains(avail, c) {
			want = append(want, c)
		}
	}
	var missing []string
	for _, c := range want {
		if !slices.Contains(enabled, c) {
			missing = append(missing, c)
		}
	}
	// Only the root cgroup may both hold processes and hand controllers to
	// children. In a cgroup namespace (a container) guardrun's group reads
	// as "/" without being the root; cgroup.type exists on every cgroup
	// but the root.
	root := own == "/" && !exists(filepath.Join(dir, "cgroup.type"))
	if len(missing) > 0 && !root {
		// Controllers can be enabled only in a cgroup without processes:
		// move guardrun into a leaf of its own, if it is alone.
		procs, err := readPidsFile(filepath.Join(dir, "cgroup.procs"))
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", filepath.Join(dir, "cgroup.procs"), err)
		}
		others := slices.DeleteFunc(procs, func(p int) bool { return p == selfPid })
		if len(others) > 0 {
			return nil, fmt.Errorf("cgroup v2: guardrun's cgroup %s also holds %d other processes, so controllers %s cannot be delegated; start guardrun in a cgroup of its own (e.g. systemd-run --scope -p Delegate=yes guardrun ...)", own, len(others), strings.Join(missing, ","))
		}
		if len(procs) > 0 {
			leaf := path2join(own, fmt.Sprintf("%s%d-%d-self", cgroupPrefix, selfPid, selfStartTime()))
			m, err := cgroup2.NewManager(mount, leaf, &cgroup2.Resources{})
			if err != nil {
				return nil, fmt.Errorf("creating leaf cgroup %s: %w", leaf, err)
			}
			if err := m.AddProc(uint64(selfPid)); err != nil {
				return nil, fmt.Errorf("moving guardrun into leaf cgroup %s: %w", leaf, err)
			}
			d.selfLeaf = leaf
		}
	}
	if len(missing) > 0 {
		f, err := os.OpenFile(filepath.Join(dir, "cgroup.subtree_control"), os.O_WRONLY, 0)
		if err == nil {
			_, err = f.WriteString("+" + strings.Join(missing, " +"))
			f.Close()
		}
		if err != nil {
			return nil, fmt.Errorf("enabling controllers %s in %s: %w", strings.Join(missing, ","), dir, err)
		}
	}
	d.ctrls = want
	return d, nil
}

func path2join(a, b string) string { return filepath.Join("/", a, b) }

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

func (d *v2Driver) version() string { return "cgroup v2" }

func (d *v2Driver) has(c string) bool { return slices.Contains(d.ctrls, c) }

// v2Resources translates Limits for the cgroup2 package: cpu.max
// "<quota> 100000", memory.max, memory.oom.group=1, pids.max, io.max
// "<maj>:<min> rbps=N" / "wbps=N". memory.swap.max=0 is written after
// creation when the file exists (it is absent without swap accounting).
func v2Resources(l Limits, ctrls []string, major, minor int64, io bool) *cgroup2.Resources {
	r := &cgroup2.Resources{}
	if l.CPUs > 0 && slices.Contains(ctrls, "cpu") {
		period := uint64(100000)
		quota := max(int64(l.CPUs*float64(period)), 1000)
		r.CPU = &cgroup2.CPU{Max: cgroup2.NewCPUMax(&quota, &period)}
	}
	if l.MemoryBytes > 0 && slices.Contains(ctrls, "memory") && !brokenV2MemoryMax {
		m := l.MemoryBytes
		group := true
		r.Memory = &cgroup2.Memory{Max: &m, OOMGroup: &group}
	}
	if l.Pids > 0 && slices.Contains(ctrls, "pids") {
		r.Pids = &cgroup2.Pids{Max: l.Pids}
	}
	if io && slices.Contains(ctrls, "io") {
		r.IO = &cgroup2.IO{}
		if l.ReadBps > 0 {
			r.IO.Max = append(r.IO.Max, cgroup2.Entry{Type: cgroup2.ReadBPS, Major: major, Minor: minor, Rate: uint64(l.ReadBps)})
		}
		if l.WriteBps > 0 {
			r.IO.Max = append(r.IO.Max, cgroup2.Entry{Type: cgroup2.WriteBPS, Major: major, Minor: minor, Rate: uint64(l.WriteBps)})
		}
	}
	return r
}

func (d *v2Driver) create(name string, l Limits, dir string, _ bool) (attemptCgroup, error) {
	var notes []string
	major, minor, haveDev := int64(0), int64(0), false
	if l.ReadBps > 0 || l.WriteBps > 0 {
		major, minor, haveDev = blockDevice(dir)
		switch {
		case !d.has("io"):
			notes = append(notes, "io limit not applied: no io controller")
		case !haveDev:
			notes = append(notes, fmt.Sprintf("io limit not applied: the filesystem of %s has no block device", dir))
		}
	}
	group := path2join(d.parent, name)
	path := filepath.Join(d.mount, group)
	m, err := cgroup2.NewManager(d.mount, group, v2Resources(l, d.ctrls, major, minor, haveDev))
	if err != nil {
		_ = rmdirTree(path)
		return nil, fmt.Errorf("creating cgroup v2 %s: %w", group, err)
	}
	a := &v2Attempt{m: m, path: path, notes_: notes, fdv: -1}
	if l.MemoryBytes > 0 && d.has("memory") {
		sw := filepath.Join(path, "memory.swap.max")
		if _, err := os.Stat(sw); err == nil {
			if err := os.WriteFile(sw, []byte("0"), 0); err != nil {
				_ = a.remove()
				return nil, fmt.Errorf("disabling swap in %s: %w", path, err)
			}
		} else {
			a.notes_ = append(a.notes_, "swap not limited: no memory.swap.max")
		}
	}
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		_ = a.remove()
		return nil, fmt.Errorf("opening cgroup %s: %w", path, err)
	}
	a.fdv = fd
	return a, nil
}

func (d *v2Driver) sweep() error {
	base := filepath.Join(d.mount, d.parent)
	ents, err := os.ReadDir(base)
	if err != nil {
		return nil
	}
	var errs []error
	for _, e := range ents {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), cgroupPrefix) || cgroupOwnerAlive(e.Name()) {
			continue
		}
		a := &v2Attempt{path: filepath.Join(base, e.Name()), fdv: -1}
		if err := a.drain(2 * time.Second); err != nil {
			errs = append(errs, err)
		}
		if err := rmdirTree(a.path); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

type v2Attempt struct {
	m      *cgroup2.Manager
	path   string
	fdv    int
	notes_ []string
	// peak is memory.peak opened read-write once the cgroup was recycled:
	// Linux 6.12+ resets the peak seen through the descriptor a write
	// came from, so it is read through the same one.
	peak *os.File
	// cpuBase is cpu.stat usage_usec when the attempt began (cpu.stat is
	// cumulative: a recycled cgroup's earlier attempts are subtracted);
	// cpuLast the value its stats read.
	cpuBase, cpuLast uint64
}

func (a *v2Attempt) fd() int { return a.fdv }

// enter is not used on cgroup v2: clone3(CLONE_INTO_CGROUP) places the
// child atomically.
func (a *v2Attempt) enter() (func() error, error) {
	return nil, errors.New("cgroup v2 uses clone-into-cgroup")
}
func (a *v2Attempt) notes() []string { return a.notes_ }
func (a *v2Attempt) paths() []string { return []string{a.path} }

func (a *v2Attempt) attach(pid int) error {
	return os.WriteFile(filepath.Join(a.path, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0)
}

// killOnce uses cgroup.kill (Linux 5.14+), else SIGKILLs the listed pids.
func (a *v2Attempt) killOnce() {
	if err := os.WriteFile(filepath.Join(a.path, "cgroup.kill"), []byte("1"), 0); err != nil {
		killPids(treePids(a.path, "cgroup.procs"))
	}
}

func (a *v2Attempt) drain(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for i := 0; ; i++ {
		pids := treePids(a.path, "cgroup.procs")
		if len(pids) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cgroup %s: %d processes survive SIGKILL", a.path, len(pids))
		}
		frozen := os.WriteFile(filepath.Join(a.path, "cgroup.freeze"), []byte("1"), 0) == nil
		a.killOnce()
		if frozen {
			_ = os.WriteFile(filepath.Join(a.path, "cgroup.freeze"), []byte("0"), 0)
		}
		time.Sleep(time.Duration(min(i+1, 10)) * time.Millisecond)
	}
}

func (a *v2Attempt) stats() cgStats {
	var st cgStats
	if us, ok := readKeyed(filepath.Join(a.path, "cpu.stat"), "usage_usec"); ok {
		a.cpuLast = us
		st.cpuSeconds, st.haveCPU = float64(us-min(a.cpuBase, us))/1e6, true
	}
	if a.peak != nil {
		buf := make([]byte, 32)
		if n, err := a.peak.ReadAt(buf, 0); n > 0 && (err == nil || errors.Is(err, io.EOF)) {
			if b, err := strconv.ParseUint(strings.TrimSpace(string(buf[:n])), 10, 64); err == nil {
				st.peakBytes, st.havePeak = int64(b), true
			}
		}
	} else if b, err := readUintFile(filepath.Join(a.path, "memory.peak")); err == nil {
		st.peakBytes, st.havePeak = int64(b), true
	}
	st.oomKills, st.haveOOM = readKeyed(filepath.Join(a.path, "memory.events"), "oom_kill")
	return st
}

func (d *v2Driver) reusable(probe attemptCgroup) (bool, string) {
	if !d.has("memory") {
		return true, ""
	}
	if !exists(filepath.Join(probe.paths()[0], "memory.peak")) {
		return true, "" // no peak to report (before Linux 5.19)
	}
	if err := probe.recycle(); err != nil {
		return false, fmt.Sprintf("memory.peak cannot be reset on this kernel (Linux 6.12+): %v", err)
	}
	return true, ""
}

// recycle: no child cgroup, at most maxResidualBytes in memory.current;
// then memory.peak is reset (a write to it, Linux 6.12+, kept open) and
// the CPU time read last becomes the next attempt's baseline.
// memory.events' oom_kill cannot be reset: a cgroup that counted one is
// not recycled (cgpool_linux.go).
func (a *v2Attempt) recycle() error {
	if hasChildCgroups(a.path) {
		return fmt.Errorf("cgroup %s has a child cgroup", a.path)
	}
	if used, err := readUintFile(filepath.Join(a.path, "memory.current")); err == nil && used > maxResidualBytes {
		return fmt.Errorf("cgroup %s: %d bytes still charged", a.path, used)
	}
	if a.peak == nil && exists(filepath.Join(a.path, "memory.peak")) {
		f, err := os.OpenFile(filepath.Join(a.path, "memory.peak"), os.O_RDWR, 0)
		if err != nil {
			return err
		}
		a.peak = f
	}
	if a.peak != nil {
		if _, err := a.peak.WriteAt([]byte("reset\n"), 0); err != nil {
			return fmt.Errorf("resetting %s: %w", a.peak.Name(), err)
		}
	}
	a.cpuBase = a.cpuLast
	return nil
}

func (a *v2Attempt) remove() error {
	if a.peak != nil {
		_ = a.peak.Close()
		a.peak = nil
	}
	if a.fdv >= 0 {
		unix.Close(a.fdv)
		a.fdv = -1
	}
	return rmdirTree(a.path)
}
