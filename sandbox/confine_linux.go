//go:build linux

package sandbox

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// This file is filesystem and privilege confinement on Linux. Every
// attempt is forked from a dedicated OS thread that first confines itself
// (the child inherits all of it at fork) and then dies with its goroutine:
//
//   - a mount namespace of its own: the host read-only (and nosuid, nodev),
//     only the attempt's writable dirs (its staging dir) and a private /tmp
//     writable, a fresh /proc that shows only the attempt's own processes,
//     a minimal /dev, hidden paths (the audit key) masked;
//   - no_new_privs;
//   - Landlock: writes only beneath the writable dirs, /tmp and /dev; no
//     TCP bind/connect; no abstract unix sockets or signals outside;
//   - seccomp: socket() only for AF_INET, AF_INET6 and AF_NETLINK (all
//     inside the empty network namespace), no io_uring, no
//     open_by_handle_at, native system-call ABI only.
//
// As root the child also drops to an unprivileged uid/gid of its own
// (Credential), different for attempts that run at the same time.

// Processor ids: attempt n runs as uid and gid procIDBase + n%procIDCount.
// The block sits high in the 32-bit id space, away from system and login
// ids (useradd allocates below 60000; systemd's dynamic users use
// 61184-65519; container subordinate ids usually start at 100000 with
// 65536 per user).
const (
	procIDBase  = 1<<31 - 1<<17 // 2147352576
	procIDCount = 1 << 16
)

var procIDSeq atomic.Uint32

// nextProcID returns the uid (= gid) for the next attempt.
func nextProcID() uint32 { return procIDBase + (procIDSeq.Add(1)-1)%procIDCount }

// confineCaps is what this host's kernel offers for confinement, probed
// once per guardrun process.
type confineCaps struct {
	mountNS     bool   // root: a private mount namespace with the new mount API
	pidnsProc   bool   // procfs takes "pidns": /proc of the attempt's own pid namespace
	mountNSErr  error  // why not
	landlockABI int    // 0: no Landlock
	landlockFS  uint64 // handled filesystem rights for this ABI
	unixResolve bool   // Landlock can refuse connects to path-named unix sockets
	seccomp     bool
	seccompErr  error
}

// confinePlan is what one attempt's thread sets up before the fork.
type confinePlan struct {
	dir      string   // working directory: kept visible (read-only)
	writable []string // absolute dirs beneath dir, writable by the attempt
	visible  []string // absolute paths outside dir kept visible (read-only) under the private /tmp
	hide     []string // absolute paths masked (files by /dev/null, dirs by an empty read-only tmpfs)
	mountNS  bool
	// pidnsProc: mount the /proc of the attempt's pid namespace after the
	// fork (the child is held at its exec until then).
	pidnsProc bool
	landlock  int    // ABI to use, 0 = none
	llFS      uint64 // handled filesystem rights
	llNet     bool   // refuse TCP bind/connect too
	tmpDir    string // without a mount namespace: the attempt's own temp dir
	seccomp   bool
}

// Landlock access rights (include/uapi/linux/landlock.h) by the ABI that
// introduced them.
const (
	llABI1FS = 1<<13 - 1 // EXECUTE ... MAKE_SYM
	llRefer  = unix.LANDLOCK_ACCESS_FS_REFER
	llTrunc  = unix.LANDLOCK_ACCESS_FS_TRUNCATE
	llIoctl  = unix.LANDLOCK_ACCESS_FS_IOCTL_DEV
	llReads  = unix.LANDLOCK_ACCESS_FS_EXECUTE | unix.LANDLOCK_ACCESS_FS_READ_FILE | unix.LANDLOCK_ACCESS_FS_READ_DIR
	llNetTCP = 1 | 2 // LANDLOCK_ACCESS_NET_BIND_TCP | CONNECT_TCP (ABI 4)
)

// landlockFSRights is every write-like filesystem right the ABI knows;
// reading and executing are left to the mount namespace and file modes.
func landlockFSRights(abi int) uint64 {
	r := uint64(llABI1FS)
	if abi >= 2 {
		r |= llRefer
	}
	if abi >= 3 {
		r |= llTrunc
	}
	if abi >= 5 {
		r |= llIoctl
	}
	return r &^ llReads
}

func probeConfinement() confineCaps {
	var c confineCaps
	if v, _, e := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, 0, 0, unix.LANDLOCK_CREATE_RULESET_VERSION); e == 0 {
		c.landlockABI = int(v)
		c.landlockFS = landlockFSRights(c.landlockABI)
		// Connecting to a path-named unix socket is a right of its own on
		// newer kernels: try a ruleset that handles it.
		attr := unix.LandlockRulesetAttr{Handled_access_fs: c.landlockFS | unix.LANDLOCK_ACCESS_FS_RESOLVE_UNIX}
		if fd, err := landlockCreate(&attr, c.landlockABI); err == nil {
			_ = unix.Close(fd)
			c.unixResolve = true
			c.landlockFS |= unix.LANDLOCK_ACCESS_FS_RESOLVE_UNIX
		}
	}
	if _, err := seccompProgram(); err != nil {
		c.seccompErr = err
	} else if err := unix.Prctl(unix.PR_GET_SECCOMP, 0, 0, 0, 0); err != nil {
		c.seccompErr = fmt.Errorf("seccomp: %w", err)
	} else {
		c.seccomp = true
	}
	if os.Getuid() != 0 {
		c.mountNSErr = errors.New("a mount namespace needs root (CAP_SYS_ADMIN)")
		return c
	}
	// Prove the whole mount set-up on a throw-away thread.
	ch := make(chan error, 1)
	go func() {
		lockThreadForever()
		ch <- setupMounts(confinePlan{dir: "/", mountNS: true})
	}()
	if err := <-ch; err != nil {
		c.mountNSErr = err
	} else {
		c.mountNS = true
		c.pidnsProc = probePidnsProc()
	}
	return c
}

// layers describes what the plan enforces, for the report.
func (c confineCaps) filesystem() string {
	switch {
	case c.mountNS && c.landlockABI > 0:
		return "mount namespace (host read-only) + landlock"
	case c.mountNS:
		return "mount namespace (host read-only)"
	case c.landlockABI > 0:
		return "landlock"
	}
	return "none"
}

// confineThread confines the calling (locked, never to be reused) thread
// so that a child forked from it is confined from its first instruction.
func confineThread(p confinePlan) (mntNS int, err error) {
	mntNS = -1
	if p.mountNS {
		if err := setupMounts(p); err != nil {
			return -1, fmt.Errorf("mount namespace: %w", err)
		}
		if p.pidnsProc {
			// Kept for the /proc of the attempt's pid namespace, mounted
			// by another thread once the child exists (mountPidnsProc).
			if mntNS, err = unix.Open(fmt.Sprintf("/proc/self/task/%d/ns/mnt", unix.Gettid()), unix.O_RDONLY|unix.O_CLOEXEC, 0); err != nil {
				return -1, fmt.Errorf("mount namespace: %w", err)
			}
		}
	}
	fail := func(e error) (int, error) {
		if mntNS >= 0 {
			_ = unix.Close(mntNS)
		}
		return -1, e
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fail(fmt.Errorf("no_new_privs: %w", err))
	}
	if p.landlock > 0 {
		if err := landlockThread(p); err != nil {
			return fail(fmt.Errorf("landlock: %w", err))
		}
	}
	if p.seccomp {
		if err := seccompThread(); err != nil {
			return fail(fmt.Errorf("seccomp: %w", err))
		}
	}
	return mntNS, nil
}

// mountPidnsProc mounts, in the mount namespace mntNS, a read-only procfs
// of the pid namespace of pid (the attempt's first process, held at its
// exec) over /proc: the processor then sees its own pid namespace, itself
// as pid 1. The thread that forked cannot mount (Landlock refuses it), so
// a dedicated mounter thread joins the attempt's mount namespace, mounts,
// and goes back to guardrun's. Linux 6.15+ (procfs "pidns" option).
func mountPidnsProc(mntNS, pid int) error {
	pidNS, err := unix.Open(fmt.Sprintf("/proc/%d/ns/pid", pid), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(pidNS)
	mounterOnce.Do(startMounter)
	if mounterErr != nil {
		return mounterErr
	}
	req := mountReq{mntNS: mntNS, pidNS: pidNS, done: make(chan error, 1)}
	mounterCh <- req
	return <-req.done
}

type mountReq struct {
	mntNS, pidNS int
	done         chan error
}

var (
	mounterOnce sync.Once
	mounterCh   chan mountReq
	mounterErr  error
)

// startMounter starts the mounter: a goroutine wired for good to an OS
// thread with filesystem attributes of its own (so it may change mount
// namespace), serving mount requests one at a time.
func startMounter() {
	ready := make(chan error, 1)
	mounterCh = make(chan mountReq)
	go func() {
		lockThreadForever()
		if err := unix.Unshare(unix.CLONE_FS); err != nil {
			ready <- err
			return
		}
		home, err := unix.Open(fmt.Sprintf("/proc/self/task/%d/ns/mnt", unix.Gettid()), unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			ready <- err
			return
		}
		ready <- nil
		for req := range mounterCh {
			err := unix.Setns(req.mntNS, unix.CLONE_NEWNS)
			if err == nil {
				err = mountProcFS("pidns", req.pidNS)
				// Back home: holding on to the attempt's namespace would
				// keep its mounts alive.
				if herr := unix.Setns(home, unix.CLONE_NEWNS); herr != nil {
					req.done <- errors.Join(err, herr)
					// This thread is lost: later requests get the error
					// (the hidepid /proc stays for them).
					lost := fmt.Errorf("mounter: %w", herr)
					go func() {
						for r := range mounterCh {
							r.done <- lost
						}
					}()
					return
				}
			} else {
				err = fmt.Errorf("joining the attempt's mount namespace: %w", err)
			}
			req.done <- err
		}
	}()
	if err := <-ready; err != nil {
		mounterErr = fmt.Errorf("mounter: %w", err)
	}
}

// setupMounts gives the calling thread a mount namespace of its own and
// builds the attempt's view of the filesystem in it.
func setupMounts(p confinePlan) error {
	if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
		return fmt.Errorf("unshare: %w", err)
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("making mounts private: %w", err)
	}
	if err := unix.MountSetattr(unix.AT_FDCWD, "/", unix.AT_RECURSIVE,
		&unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV}); err != nil {
		return fmt.Errorf("making the host read-only: %w", err)
	}
	// Writable dirs: read-write clones of the (now read-only) mounts,
	// taken before /tmp is replaced; attached last, at the same paths.
	trees := make([]int, 0, len(p.writable))
	defer func() {
		for _, fd := range trees {
			_ = unix.Close(fd)
		}
	}()
	for _, w := range p.writable {
		fd, err := openBeneath(p.dir, w)
		if err != nil {
			return err
		}
		t, err := unix.OpenTree(fd, "", unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_EMPTY_PATH)
		_ = unix.Close(fd)
		if err != nil {
			return fmt.Errorf("cloning %s: %w", w, err)
		}
		trees = append(trees, t)
		if err := unix.MountSetattr(t, "", unix.AT_EMPTY_PATH, &unix.MountAttr{Attr_clr: unix.MOUNT_ATTR_RDONLY}); err != nil {
			return fmt.Errorf("making %s writable: %w", w, err)
		}
	}
	if err := privateTmp(append([]string{p.dir}, p.visible...)); err != nil {
		return err
	}
	if err := minimalDev(); err != nil {
		return err
	}
	for i, w := range p.writable {
		fd, err := openBeneath(p.dir, w)
		if err != nil {
			return err
		}
		err = unix.MoveMount(trees[i], "", fd, "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH)
		_ = unix.Close(fd)
		if err != nil {
			return fmt.Errorf("mounting %s writable: %w", w, err)
		}
	}
	for _, h := range p.hide {
		if err := hidePath(h); err != nil {
			return err
		}
	}
	return mountProc()
}

// openBeneath opens dir/…/path (path absolute, beneath dir) as an O_PATH
// directory without following any symlink below dir.
func openBeneath(dir, path string) (int, error) {
	rel, err := filepath.Rel(dir, path)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return -1, fmt.Errorf("%s is not beneath the working directory %s", path, dir)
	}
	dfd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("opening %s: %w", dir, err)
	}
	defer unix.Close(dfd)
	fd, err := unix.Openat2(dfd, rel, &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		return -1, fmt.Errorf("opening %s (no symlinks allowed beneath %s): %w", path, dir, err)
	}
	return fd, nil
}

// newTmpfs creates a detached tmpfs mount with the given options.
func newTmpfs(attrs int, opts ...string) (int, error) {
	fd, err := unix.Fsopen("tmpfs", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return -1, fmt.Errorf("tmpfs: %w", err)
	}
	defer unix.Close(fd)
	for i := 0; i+1 < len(opts); i += 2 {
		if err := unix.FsconfigSetString(fd, opts[i], opts[i+1]); err != nil {
			return -1, fmt.Errorf("tmpfs %s=%s: %w", opts[i], opts[i+1], err)
		}
	}
	if err := unix.FsconfigCreate(fd); err != nil {
		return -1, fmt.Errorf("tmpfs: %w", err)
	}
	m, err := unix.Fsmount(fd, unix.FSMOUNT_CLOEXEC, attrs)
	if err != nil {
		return -1, fmt.Errorf("tmpfs: %w", err)
	}
	return m, nil
}

// privateTmp mounts an empty tmpfs on /tmp. Paths under /tmp that must
// stay visible (the working directory, inputs, the executable) are cloned
// (read-only) first and attached at the same paths inside the new tmpfs,
// whose intermediate directories are created 0755.
func privateTmp(keep []string) error {
	type kept struct {
		path string
		fd   int
		dir  bool
	}
	var ks []kept
	defer func() {
		for _, k := range ks {
			_ = unix.Close(k.fd)
		}
	}()
	for _, path := range underTmp(keep) {
		var st unix.Stat_t
		if err := unix.Stat(path, &st); err != nil {
			continue // nothing to keep
		}
		t, err := unix.OpenTree(unix.AT_FDCWD, path, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_RECURSIVE)
		if err != nil {
			return fmt.Errorf("keeping %s visible: %w", path, err)
		}
		ks = append(ks, kept{path, t, st.Mode&unix.S_IFMT == unix.S_IFDIR})
	}
	m, err := newTmpfs(unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV, "mode", "1777")
	if err != nil {
		return fmt.Errorf("private /tmp: %w", err)
	}
	defer unix.Close(m)
	if err := unix.MoveMount(m, "", unix.AT_FDCWD, "/tmp", unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("private /tmp: %w", err)
	}
	for _, k := range ks {
		if err := os.MkdirAll(filepath.Dir(k.path), 0o755); err != nil {
			return fmt.Errorf("keeping %s visible: %w", k.path, err)
		}
		if k.dir {
			err = os.Mkdir(k.path, 0o755)
		} else {
			err = os.WriteFile(k.path, nil, 0o644)
		}
		if err != nil {
			return fmt.Errorf("keeping %s visible: %w", k.path, err)
		}
		if err := unix.MoveMount(k.fd, "", unix.AT_FDCWD, k.path, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
			return fmt.Errorf("keeping %s visible: %w", k.path, err)
		}
	}
	return nil
}

// underTmp returns the paths strictly under /tmp, without those inside
// another one of them, sorted.
func underTmp(paths []string) []string {
	var in []string
	for _, p := range paths {
		p = filepath.Clean(p)
		if strings.HasPrefix(p, "/tmp/") {
			in = append(in, p)
		}
	}
	sort.Strings(in)
	var out []string
	for _, p := range in {
		if n := len(out); n > 0 && (p == out[n-1] || strings.HasPrefix(p, out[n-1]+"/")) {
			continue
		}
		out = append(out, p)
	}
	return out
}

// minimalDev mounts a tmpfs on /dev holding only the harmless character
// devices, /dev/shm, and the fd links.
func minimalDev() error {
	m, err := newTmpfs(unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NOEXEC, "mode", "0755")
	if err != nil {
		return fmt.Errorf("/dev: %w", err)
	}
	defer unix.Close(m)
	for _, d := range []struct {
		name         string
		major, minor uint32
	}{{"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7}, {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0}} {
		if err := unix.Mknodat(m, d.name, unix.S_IFCHR|0o666, int(unix.Mkdev(d.major, d.minor))); err != nil {
			return fmt.Errorf("/dev/%s: %w", d.name, err)
		}
		if err := unix.Fchmodat(m, d.name, 0o666, 0); err != nil {
			return fmt.Errorf("/dev/%s: %w", d.name, err)
		}
	}
	if err := unix.Mkdirat(m, "shm", 0o1777); err != nil {
		return fmt.Errorf("/dev/shm: %w", err)
	}
	if err := unix.Fchmodat(m, "shm", 0o1777, 0); err != nil {
		return fmt.Errorf("/dev/shm: %w", err)
	}
	for name, target := range map[string]string{"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2"} {
		if err := unix.Symlinkat(target, m, name); err != nil {
			return fmt.Errorf("/dev/%s: %w", name, err)
		}
	}
	if err := unix.MoveMount(m, "", unix.AT_FDCWD, "/dev", unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("/dev: %w", err)
	}
	return nil
}

// hidePath masks path: a file by /dev/null, a directory by an empty
// read-only tmpfs. A path that does not exist needs no mask.
func hidePath(path string) error {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("hiding %s: %w", path, err)
	}
	var src int
	var err error
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		src, err = newTmpfs(unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOEXEC, "mode", "0")
	} else {
		src, err = unix.OpenTree(unix.AT_FDCWD, "/dev/null", unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
	}
	if err != nil {
		return fmt.Errorf("hiding %s: %w", path, err)
	}
	defer unix.Close(src)
	if err := unix.MoveMount(src, "", unix.AT_FDCWD, path, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("hiding %s: %w", path, err)
	}
	return nil
}

// mountProc replaces /proc with a read-only procfs instance that shows a
// process only to its own uid (hidepid=invisible). Every attempt runs as
// a uid of its own, so it sees its own process tree and nothing of the
// host: not guardrun's command line, not other attempts. Where the kernel
// can, a procfs of the attempt's own pid namespace is mounted over it
// once the child exists (mountPidnsProc).
func mountProc() error { return mountProcFS("hidepid", -1) }

// mountProcFS mounts a read-only procfs on /proc: with hidepid=invisible
// (opt "hidepid"), or of the pid namespace fd (opt "pidns").
func mountProcFS(opt string, pidNS int) error {
	fd, err := unix.Fsopen("proc", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return fmt.Errorf("/proc: %w", err)
	}
	defer unix.Close(fd)
	if opt == "pidns" {
		err = unix.FsconfigSetFd(fd, "pidns", pidNS)
	} else {
		err = unix.FsconfigSetString(fd, "hidepid", "invisible")
	}
	if err != nil {
		return fmt.Errorf("/proc %s: %w", opt, err)
	}
	if err := unix.FsconfigCreate(fd); err != nil {
		return fmt.Errorf("/proc: %w", err)
	}
	m, err := unix.Fsmount(fd, unix.FSMOUNT_CLOEXEC, unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOEXEC)
	if err != nil {
		return fmt.Errorf("/proc: %w", err)
	}
	defer unix.Close(m)
	if err := unix.MoveMount(m, "", unix.AT_FDCWD, "/proc", unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("/proc: %w", err)
	}
	return nil
}

// probePidnsProc says whether procfs takes the "pidns" option (Linux
// 6.15+), trying it with guardrun's own pid namespace.
func probePidnsProc() bool {
	fd, err := unix.Fsopen("proc", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	ns, err := unix.Open("/proc/self/ns/pid", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer unix.Close(ns)
	return unix.FsconfigSetFd(fd, "pidns", ns) == nil
}

func landlockCreate(attr *unix.LandlockRulesetAttr, abi int) (int, error) {
	size := 8 // handled_access_fs
	if abi >= 4 {
		size = 16 // + handled_access_net
	}
	if abi >= 6 {
		size = 24 // + scoped
	}
	fd, _, e := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, uintptr(unsafe.Pointer(attr)), uintptr(size), 0)
	if e != 0 {
		return -1, e
	}
	return int(fd), nil
}

// landlockThread restricts the calling thread (and what it forks) to
// writing beneath the writable dirs, /tmp and /dev.
func landlockThread(p confinePlan) error {
	attr := unix.LandlockRulesetAttr{Handled_access_fs: p.llFS}
	if p.landlock >= 4 && p.llNet {
		attr.Handled_access_net = llNetTCP
	}
	if p.landlock >= 6 {
		attr.Scoped = unix.LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET | unix.LANDLOCK_SCOPE_SIGNAL
	}
	rfd, err := landlockCreate(&attr, p.landlock)
	if err != nil {
		return fmt.Errorf("creating ruleset: %w", err)
	}
	defer unix.Close(rfd)
	all := p.llFS &^ unix.LANDLOCK_ACCESS_FS_RESOLVE_UNIX
	rules := map[string]uint64{"/tmp": all, "/dev/shm": all,
		"/dev": (unix.LANDLOCK_ACCESS_FS_WRITE_FILE | llTrunc | llIoctl) & p.llFS}
	if !p.mountNS {
		// The host's /tmp and /dev/shm are shared with everything on the
		// host (and may hold the workspace): the attempt gets a temp dir
		// of its own instead, and only the device nodes in /dev.
		delete(rules, "/tmp")
		delete(rules, "/dev/shm")
		if p.tmpDir != "" {
			rules[p.tmpDir] = all
		}
	}
	add := func(path string, fd int, access uint64) error {
		defer unix.Close(fd)
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err == nil && st.Mode&unix.S_IFMT != unix.S_IFDIR {
			// Rights that only make sense on directories are refused on files.
			access &= unix.LANDLOCK_ACCESS_FS_WRITE_FILE | llTrunc | llIoctl
		}
		rule := unix.LandlockPathBeneathAttr{Allowed_access: access, Parent_fd: int32(fd)}
		_, _, e := unix.Syscall6(unix.SYS_LANDLOCK_ADD_RULE, uintptr(rfd), unix.LANDLOCK_RULE_PATH_BENEATH, uintptr(unsafe.Pointer(&rule)), 0, 0, 0)
		if e != 0 {
			return fmt.Errorf("rule for %s: %w", path, e)
		}
		return nil
	}
	if !p.mountNS {
		// The host's /proc: the thread that forks writes the child's
		// uid_map there. Landlock itself refuses access to the /proc files
		// of processes outside the attempt's domain (its ptrace rule).
		rules["/proc"] = unix.LANDLOCK_ACCESS_FS_WRITE_FILE
	}
	if !p.mountNS {
		// The host's /proc: the thread that forks writes the child's
		// uid_map there. Landlock itself refuses access to the /proc files
		// of processes outside the attempt's domain (its ptrace rule).
		rules["/proc"] = unix.LANDLOCK_ACCESS_FS_WRITE_FILE
	}
	for _, w := range p.writable {
		fd, err := openBeneath(p.dir, w)
		if err != nil {
			return err
		}
		if err := add(w, fd, all); err != nil {
			return err
		}
	}
	for path, access := range rules {
		fd, err := unix.Open(path, unix.O_PATH|unix.O_CLOEXEC, 0)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return fmt.Errorf("opening %s: %w", path, err)
		}
		if err := add(path, fd, access); err != nil {
			return err
		}
	}
	if _, _, e := unix.Syscall(unix.SYS_LANDLOCK_RESTRICT_SELF, uintptr(rfd), 0, 0); e != 0 {
		return fmt.Errorf("restricting: %w", e)
	}
	return nil
}

// chownTree gives every file and directory beneath the writable dirs to
// the attempt's uid/gid, without following symlinks: each dir must first
// be reachable from the working dir dir without any symlink (openBeneath),
// so a symlinked component cannot send the chown elsewhere. (No processor
// runs while this walks, and none can write the dirs above a staging dir.)
func chownTree(dir string, dirs []string, id uint32) error {
	for _, d := range dirs {
		fd, err := openBeneath(dir, d)
		if err != nil {
			return err
		}
		_ = unix.Close(fd)
		err = filepath.WalkDir(d, func(path string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			return os.Lchown(path, int(id), int(id))
		})
		if err != nil {
			return fmt.Errorf("giving %s to the processor's uid %d: %w", d, id, err)
		}
	}
	return nil
}

// setEnv replaces or appends k=v in env.
func setEnv(env []string, k, v string) []string {
	out := make([]string, 0, len(env)+1)
	for _, e := range env {
		if !strings.HasPrefix(e, k+"=") {
			out = append(out, e)
		}
	}
	return append(out, k+"="+v)
}

// credential is the unprivileged identity of one attempt.
func credential(id uint32) *syscall.Credential {
	return &syscall.Credential{Uid: id, Gid: id, Groups: []uint32{}}
}

// checkReachable says clearly, before the fork, when the attempt's uid
// cannot reach its working directory or its program: a directory above
// them that others may not search (a 0700 home, a mktemp -d), or a program
// others may not run. Directories under /tmp that the private /tmp
// recreates (0755) above a kept path are not checked.
func checkReachable(p confinePlan, program string, id uint32) error {
	keep := underTmp(append([]string{p.dir}, p.visible...))
	recreated := func(a string) bool {
		for _, k := range keep {
			if strings.HasPrefix(k, a+"/") {
				return p.mountNS
			}
		}
		return false
	}
	check := func(path string, final uint32) error {
		path = filepath.Clean(path)
		for a := path; ; a = filepath.Dir(a) {
			want := uint32(0o001)
			if a == path {
				want = final
			}
			if !recreated(a) {
				var st unix.Stat_t
				if err := unix.Stat(a, &st); err == nil && st.Mode&want != want && st.Uid != id {
					what := "search"
					if a == path && final&0o004 != 0 {
						what = "read"
					} else if a == path && st.Mode&unix.S_IFMT != unix.S_IFDIR {
						what = "run"
					}
					return fmt.Errorf("the processor runs as uid %d and cannot reach %s: %s is mode %04o, others may not %s it "+
						"(grant it with chmod o+rx; docs/SANDBOX.md, \"Granting read access\")", id, path, a, st.Mode&0o7777, what)
				}
			}
			if a == filepath.Dir(a) {
				return nil
			}
		}
	}
	if err := check(p.dir, 0o001); err != nil {
		return err
	}
	return check(program, 0o001)
}
