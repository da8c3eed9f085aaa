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
	"time"

	"github.com/containerd/cgroups/v3/cgroup1"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// v1Driver creates one directory per controller under the cgroup guardrun
// itself is in for that controller (read from /proc/self/cgroup; e.g.
// memory:/process_api/<id> gives /sys/fs/cgroup/memory/process_api/<id>/
// guardrun-...). guardrun itself is never moved.
type v1Driver struct {
	// subs are the usable controllers, keyed by name.
	subs map[cgroup1.Name]cgroup1.Subsystem
	// base is guardrun's own cgroup path per controller, relative to the
	// controller's mount.
	base  map[cgroup1.Name]string
	memsw bool // memory.memsw.* exists (swap accounting on)
}

// v1Wanted are the controllers an attempt cgroup joins. blkio is added
// only when an IO limit is requested.
var v1Wanted = []cgroup1.Name{cgroup1.Pids, cgroup1.Cpu, cgroup1.Cpuacct, cgroup1.Memory, cgroup1.Freezer}

func newV1Driver() (*v1Driver, error) {
	all, err := cgroup1.Default()
	if err != nil {
		return nil, fmt.Errorf("listing cgroup v1 controllers: %w", err)
	}
	own, err := cgroup1.ParseCgroupFile("/proc/self/cgroup")
	if err != nil {
		return nil, fmt.Errorf("reading /proc/self/cgroup: %w", err)
	}
	nested := cgroup1.NestedPath("")
	d := &v1Driver{subs: map[cgroup1.Name]cgroup1.Subsystem{}, base: map[cgroup1.Name]string{}}
	for _, s := range all {
		n := s.Name()
		if _, ok := own[string(n)]; !ok {
			continue
		}
		switch n {
		case cgroup1.Pids, cgroup1.Cpu, cgroup1.Cpuacct, cgroup1.Memory, cgroup1.Freezer, cgroup1.Blkio:
		default:
			continue
		}
		p, err := nested(n)
		if err != nil {
			continue
		}
		if n == cgroup1.Memory {
			s = cgroup1.NewMemory(filepath.Dir(v1Dir(s, "/")), cgroup1.OptionalSwap())
			_, err := os.Stat(filepath.Join(v1Dir(s, p), "memory.memsw.limit_in_bytes"))
			d.memsw = err == nil
		}
		d.subs[n] = s
		d.base[n] = p
	}
	if len(d.subs) == 0 {
		return nil, errors.New("no cgroup v1 controllers mounted")
	}
	return d, nil
}

// v1Dir is the directory of cgroup path p in subsystem s.
func v1Dir(s cgroup1.Subsystem, p string) string {
	type pather interface{ Path(string) string }
	return s.(pather).Path(p)
}

func (d *v1Driver) version() string { return "cgroup v1" }

func (d *v1Driver) has(c string) bool {
	switch c {
	case "memory":
		return d.subs[cgroup1.Memory] != nil
	case "cpu":
		return d.subs[cgroup1.Cpu] != nil
	case "pids":
		return d.subs[cgroup1.Pids] != nil
	case "io":
		return d.subs[cgroup1.Blkio] != nil
	case "cpuacct":
		return d.subs[cgroup1.Cpuacct] != nil
	case "freezer":
		return d.subs[cgroup1.Freezer] != nil
	}
	return false
}

// v1Resources translates Limits into the runtime-spec form the cgroup1
// package writes: memory.limit_in_bytes (+ memory.memsw.limit_in_bytes
// equal to it, so no swap), cpu.cfs_period_us/cpu.cfs_quota_us, pids.max,
// blkio.throttle.{read,write}_bps_device.
func v1Resources(l Limits, memsw bool, major, minor int64, io bool) *specs.LinuxResources {
	r := &specs.LinuxResources{}
	if l.MemoryBytes > 0 {
		m := l.MemoryBytes
		r.Memory = &specs.LinuxMemory{Limit: &m}
		if memsw {
			sw := m
			r.Memory.Swap = &sw
		} else {
			var zero uint64
			r.Memory.Swappiness = &zero
		}
	}
	if l.CPUs > 0 {
		period := uint64(100000)
		quota := max(int64(l.CPUs*float64(period)), 1000)
		r.CPU = &specs.LinuxCPU{Period: &period, Quota: &quota}
	}
	if l.Pids > 0 {
		p := l.Pids
		r.Pids = &specs.LinuxPids{Limit: &p}
	}
	if io && (l.ReadBps > 0 || l.WriteBps > 0) {
		dev := specs.LinuxBlockIODevice{Major: major, Minor: minor}
		r.BlockIO = &specs.LinuxBlockIO{}
		if l.ReadBps > 0 {
			r.BlockIO.ThrottleReadBpsDevice = []specs.LinuxThrottleDevice{{LinuxBlockIODevice: dev, Rate: uint64(l.ReadBps)}}
		}
		if l.WriteBps > 0 {
			r.BlockIO.ThrottleWriteBpsDevice = []specs.LinuxThrottleDevice{{LinuxBlockIODevice: dev, Rate: uint64(l.WriteBps)}}
		}
	}
	return r
}

func (d *v1Driver) create(name string, l Limits, dir string, pidns bool) (attemptCgroup, error) {
	var notes []string
	names := append([]cgroup1.Name(nil), v1Wanted...)
	if pidns {
		names = slices.DeleteFunc(names, func(n cgroup1.Name) bool { return n == cgroup1.Freezer })
	}
	wantIO := l.ReadBps > 0 || l.WriteBps > 0
	major, minor, haveDev := int64(0), int64(0), false
	if wantIO {
		major, minor, haveDev = blockDevice(dir)
		switch {
		case d.subs[cgroup1.Blkio] == nil:
			notes = append(notes, "io limit not applied: no blkio controller")
		case !haveDev:
			notes = append(notes, fmt.Sprintf("io limit not applied: the filesystem of %s has no block device", dir))
		default:
			names = append(names, cgroup1.Blkio)
		}
	}
	var subs []cgroup1.Subsystem
	for _, n := range names {
		if s := d.subs[n]; s != nil {
			subs = append(subs, s)
		}
	}
	path := func(n cgroup1.Name) (string, error) {
		b, ok := d.base[n]
		if !ok {
			return "", cgroup1.ErrControllerNotActive
		}
		return filepath.Join(b, name), nil
	}
	a := &v1Attempt{d: d, name: name, notes_: notes}
	for _, s := range subs {
		p, _ := path(s.Name())
		a.dirs = append(a.dirs, v1Dir(s, p))
	}
	res := v1Resources(l, d.memsw, major, minor, haveDev && d.subs[cgroup1.Blkio] != nil)
	cg, err := cgroup1.New(path, res, cgroup1.WithHierarchy(func() ([]cgroup1.Subsystem, error) { return subs, nil }))
	if err != nil {
		_ = a.remove()
		return nil, fmt.Errorf("creating cgroup v1 %s: %w", name, err)
	}
	a.cg = cg
	for _, s := range subs {
		a.names = append(a.names, s.Name())
	}
	if s := d.subs[cgroup1.Pids]; s != nil && l.Pids > 0 {
		p, _ := path(cgroup1.Pids)
		a.pidsDir, a.pidsMax = v1Dir(s, p), l.Pids
	}
	if s := d.subs[cgroup1.Memory]; s != nil {
		p, _ := path(cgroup1.Memory)
		a.memDir = v1Dir(s, p)
	}
	if s := d.subs[cgroup1.Cpuacct]; s != nil {
		p, _ := path(cgroup1.Cpuacct)
		a.cpuacctDir = v1Dir(s, p)
	}
	if s := d.subs[cgroup1.Freezer]; s != nil && !pidns {
		p, _ := path(cgroup1.Freezer)
		a.freezerDir = v1Dir(s, p)
	}
	return a, nil
}

func (d *v1Driver) sweep() error {
	var errs []error
	for n, s := range d.subs {
		base := v1Dir(s, d.base[n])
		ents, err := os.ReadDir(base)
		if err != nil {
			continue
		}
		for _, e := range ents {
			if !e.IsDir() || !strings.HasPrefix(e.Name(), cgroupPrefix) || cgroupOwnerAlive(e.Name()) {
				continue
			}
			dir := filepath.Join(base, e.Name())
			a := &v1Attempt{d: d, dirs: []string{dir}}
			if n == cgroup1.Freezer {
				a.freezerDir = dir
			}
			if err := a.drain(2 * time.Second); err != nil {
				errs = append(errs, err)
			}
			if err := rmdirTree(dir); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

type v1Attempt struct {
	d          *v1Driver
	name       string
	cg         cgroup1.Cgroup
	names      []cgroup1.Name
	dirs       []string
	pidsDir    string
	pidsMax    int64
	memDir     string
	cpuacctDir string
	freezerDir string
	notes_     []string
}

func (a *v1Attempt) fd() int { return -1 }

// enter moves the calling OS thread (only this thread, by writing "0" to
// each controller's tasks file) into the attempt cgroup, so that a process
// it forks is born there. Writing "0" to tasks migrates only the writer
// and does not take the global threadgroup lock, so unlike writing a pid
// to cgroup.procs it costs no RCU grace period (~20µs instead of ~5ms).
// While the thread is inside, pids.max is one higher, to leave room for it.
// leave moves the thread back to guardrun's own cgroups and restores
// pids.max. The caller holds runtime.LockOSThread.
func (a *v1Attempt) enter() (leave func() error, err error) {
	// The files that move the thread back are opened before it moves in:
	// by the time it leaves, the thread may be confined (read-only mounts,
	// Landlock) and unable to open them.
	var backFiles []*os.File
	closeAll := func() {
		for _, f := range backFiles {
			_ = f.Close()
		}
	}
	for _, n := range a.names {
		f, err := os.OpenFile(filepath.Join(v1Dir(a.d.subs[n], a.d.base[n]), "tasks"), os.O_WRONLY, 0)
		if err != nil {
			closeAll()
			return nil, err
		}
		backFiles = append(backFiles, f)
	}
	var pidsFile *os.File
	if a.pidsMax > 0 {
		f, err := os.OpenFile(filepath.Join(a.pidsDir, "pids.max"), os.O_WRONLY, 0)
		if err != nil {
			closeAll()
			return nil, err
		}
		backFiles = append(backFiles, f)
		pidsFile = f
		if _, err := f.WriteString(strconv.FormatInt(a.pidsMax+1, 10)); err != nil {
			closeAll()
			return nil, err
		}
	}
	moved := 0
	back := func() error {
		defer closeAll()
		var errs []error
		for i := 0; i < moved; i++ {
			if _, err := backFiles[i].WriteString("0"); err != nil {
				errs = append(errs, fmt.Errorf("moving guardrun's thread back to its %s cgroup: %w", a.names[i], err))
			}
		}
		if pidsFile != nil {
			if _, err := pidsFile.WriteAt([]byte(strconv.FormatInt(a.pidsMax, 10)), 0); err != nil {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	}
	for _, n := range a.names {
		if err := os.WriteFile(filepath.Join(v1Dir(a.d.subs[n], filepath.Join(a.d.base[n], a.name)), "tasks"), []byte("0"), 0); err != nil {
			return nil, errors.Join(fmt.Errorf("moving thread into cgroup %s (%s): %w", a.name, n, err), back())
		}
		moved++
	}
	return back, nil
}
func (a *v1Attempt) notes() []string { return a.notes_ }
func (a *v1Attempt) paths() []string { return a.dirs }
func (a *v1Attempt) attach(pid int) error {
	if err := a.cg.AddProc(uint64(pid)); err != nil {
		return fmt.Errorf("placing pid %d into cgroup %s: %w", pid, a.name, err)
	}
	return nil
}

func (a *v1Attempt) pids() []int {
	seen := map[int]bool{}
	var out []int
	for _, d := range a.dirs {
		for _, p := range treePids(d, "cgroup.procs") {
			if !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	return out
}

func (a *v1Attempt) killOnce() { killPids(a.pids()) }

// drain freezes the cgroup (so a fork storm cannot outrun the kill),
// SIGKILLs every task, thaws, and repeats until no task is left.
func (a *v1Attempt) drain(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for i := 0; ; i++ {
		pids := a.pids()
		if len(pids) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cgroup %s: %d processes survive SIGKILL", a.name, len(pids))
		}
		frozen := a.freezerDir != "" && os.WriteFile(filepath.Join(a.freezerDir, "freezer.state"), []byte("FROZEN"), 0) == nil
		killPids(a.pids())
		if frozen {
			_ = os.WriteFile(filepath.Join(a.freezerDir, "freezer.state"), []byte("THAWED"), 0)
		}
		time.Sleep(time.Duration(min(i+1, 10)) * time.Millisecond)
	}
}

func (a *v1Attempt) stats() cgStats {
	var st cgStats
	if a.cpuacctDir != "" {
		if ns, err := readUintFile(filepath.Join(a.cpuacctDir, "cpuacct.usage")); err == nil {
			st.cpuSeconds, st.haveCPU = float64(ns)/1e9, true
		}
	}
	if a.memDir != "" {
		if b, err := readUintFile(filepath.Join(a.memDir, "memory.max_usage_in_bytes")); err == nil {
			st.peakBytes, st.havePeak = int64(b), true
		}
		st.oomKills, st.haveOOM = readKeyed(filepath.Join(a.memDir, "memory.oom_control"), "oom_kill")
		st.failcnt, _ = readUintFile(filepath.Join(a.memDir, "memory.failcnt"))
	}
	return st
}

func (d *v1Driver) reusable(probe attemptCgroup) (bool, string) {
	if err := probe.recycle(); err != nil {
		return false, err.Error()
	}
	return true, ""
}

// recycle: no child cgroup in any hierarchy, thawed, at most
// maxResidualBytes still charged; then cpuacct.usage,
// memory.max_usage_in_bytes (which becomes the current usage) and
// memory.failcnt are written 0. memory.oom_control's oom_kill cannot be
// reset: a cgroup that counted one is not recycled (cgpool_linux.go).
func (a *v1Attempt) recycle() error {
	for _, d := range a.dirs {
		if hasChildCgroups(d) {
			return fmt.Errorf("cgroup %s has a child cgroup", d)
		}
	}
	if a.freezerDir != "" {
		b, err := os.ReadFile(filepath.Join(a.freezerDir, "freezer.state"))
		if err != nil || strings.TrimSpace(string(b)) != "THAWED" {
			return fmt.Errorf("cgroup %s is not thawed: %q %v", a.freezerDir, b, err)
		}
	}
	if a.memDir != "" {
		used, err := readUintFile(filepath.Join(a.memDir, "memory.usage_in_bytes"))
		if err != nil {
			return err
		}
		if used > maxResidualBytes {
			return fmt.Errorf("cgroup %s: %d bytes still charged", a.memDir, used)
		}
		for _, f := range []string{"memory.max_usage_in_bytes", "memory.failcnt"} {
			if err := writeCgroupFile(filepath.Join(a.memDir, f), "0"); err != nil {
				return err
			}
		}
	}
	if a.cpuacctDir != "" {
		if err := writeCgroupFile(filepath.Join(a.cpuacctDir, "cpuacct.usage"), "0"); err != nil {
			return err
		}
	}
	return nil
}

func (a *v1Attempt) remove() error {
	var errs []error
	for _, d := range a.dirs {
		if err := rmdirTree(d); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
