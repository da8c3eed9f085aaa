//go:build linux

package sandbox

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// confinedWorkspace is a workspace as the runner lays it out: a stage's
// staging dir inside its output dir, another stage's output and marker,
// state, and a key file the sandbox must hide.
func confinedWorkspace(t *testing.T) (ws, staging string) {
	t.Helper()
	ws = t.TempDir()
	for _, d := range []string{filepath.Dir(ws), ws} {
		require.NoError(t, os.Chmod(d, 0o755))
	}
	staging = filepath.Join(ws, "out", "a", ".a.staging")
	require.NoError(t, os.MkdirAll(staging, 0o755))
	for name, content := range map[string]string{
		"out/b/result.txt": "trusted\n",
		"out/b/.b.done":    "key\n",
		"state/hash.txt":   "cache\n",
		"pipeline.json":    "{}\n",
		"key":              "secret\n",
	} {
		p := filepath.Join(ws, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	}
	return ws, staging
}

// TestConfinementDoors runs a hostile shell through the sandbox: every
// write outside its staging dir and /tmp, every way to lift its limits
// (its own cgroup's memory limit, its parent's cgroup.procs, a child
// cgroup: v1 or v2 files, whichever this host has; cgroup-files proves
// the paths exist), and every look at the host must fail; its own dir and
// /tmp must work.
func TestConfinementDoors(t *testing.T) {
	requireRoot(t)
	s := enforcing(t)
	ws, staging := confinedWorkspace(t)
	hostTmp, err := os.CreateTemp("", "guardrun-host-tmp")
	require.NoError(t, err)
	_ = hostTmp.Close()
	defer os.Remove(hostTmp.Name())

	script := `
t() { if sh -c "$2" >/dev/null 2>&1; then echo "open $1"; else echo "closed $1"; fi; }
t etc 'echo x > /etc/guardrun-confine-test'
t other-output "echo forged > $WS/out/b/result.txt"
t other-marker "echo forged > $WS/out/b/.b.done"
t new-in-outdir "echo x > $WS/out/a/planted"
t state "echo x > $WS/state/hash.txt"
t spec "echo x > $WS/pipeline.json"
t key-readable "test -s $WS/key"
t host-tmp "test -e $HOSTTMP"
t staging "echo ok > $STAGING/ok"
t tmp 'echo ok > /tmp/ok && test "$TMPDIR" = /tmp'
t dev-null 'echo x > /dev/null'
t root 'test "$(id -u)" = 0'
if grep -q ':memory:' /proc/self/cgroup; then
  CGDIR=/sys/fs/cgroup/memory$(grep -E ':memory:' /proc/self/cgroup | cut -d: -f3) LIMIT=memory.limit_in_bytes
else
  CGDIR=/sys/fs/cgroup$(sed -n 's/^0:://p' /proc/self/cgroup) LIMIT=memory.max
fi
t cgroup-files "test -f $CGDIR/$LIMIT && test -f $(dirname $CGDIR)/cgroup.procs"
t cgroup-limit "echo 9223372036854771712 > $CGDIR/$LIMIT"
t cgroup-migrate "echo \$\$ > $(dirname $CGDIR)/cgroup.procs"
t cgroup-mkdir "mkdir $CGDIR/escape"
t sysctl 'cat /proc/sys/kernel/core_pattern > /proc/sys/kernel/core_pattern'
t host-proc "test -e /proc/$GUARDRUN_PID"
t own-pid1 'grep -qx sh /proc/1/comm'
t host-device 'test -e /dev/vda || test -e /dev/sda || test -e /dev/kmsg || test -e /dev/mem'
t mknod "mknod $STAGING/null c 1 3"
t chmod-staging-parent "chmod 777 $WS/out/a"
"$HELPER" doors "$SOCK"
`
	// A path-named unix socket on the host: a host daemon's door.
	sock := filepath.Join(t.TempDir(), "host.sock")
	ln, err := net.Listen("unix", sock)
	require.NoError(t, err)
	defer ln.Close()
	abs, err := net.Listen("unix", "@guardrun-test-abstract")
	require.NoError(t, err)
	defer abs.Close()
	h := helper(t)

	res, out := runIn(t, context.Background(), s, &Cmd{
		Path: "/bin/sh", Args: []string{"sh", "-c", script}, Dir: ws,
		Env: []string{"PATH=/usr/bin:/bin", "WS=" + ws, "STAGING=" + staging, "HOSTTMP=" + hostTmp.Name(),
			"GUARDRUN_PID=" + fmt.Sprint(os.Getpid()), "HELPER=" + h, "SOCK=" + sock},
		Writable: []string{staging},
		Visible:  []string{h},
		Limits:   Limits{MemoryBytes: 64 << 20, Pids: 64},
	})
	require.Equal(t, 0, res.ExitCode, out)
	got := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^(open|closed) ([a-z0-9_-]+)`).FindAllStringSubmatch(out, -1) {
		got[m[2]] = m[1]
	}
	want := map[string]string{
		"etc": "closed", "other-output": "closed", "other-marker": "closed", "new-in-outdir": "closed",
		"state": "closed", "spec": "closed", "key-readable": "open", "host-tmp": "closed",
		"staging": "open", "tmp": "open", "dev-null": "open", "root": "closed",
		"cgroup-files": "open", "cgroup-limit": "closed", "cgroup-migrate": "closed", "cgroup-mkdir": "closed", "sysctl": "closed", "host-proc": "closed",
		"host-device": "closed", "mknod": "closed", "chmod-staging-parent": "closed",
		"unix-path": "closed", "unix-abstract": "closed", "vsock": "closed", "io_uring": "closed",
		"socketpair": "open", "setuid-root": "closed", "mount": "closed",
	}
	// /proc is the attempt's pid namespace's own where the kernel can mount
	// one (procfs "pidns", Linux 6.15+): its first process is /proc/1.
	want["own-pid1"] = map[bool]string{true: "open", false: "closed"}[probeHost().conf.pidnsProc]
	assert.Equal(t, want, got, out)
	// Nothing outside the staging dir changed; the staging dir's file
	// belongs to the attempt's uid, not root.
	for name, content := range map[string]string{"out/b/result.txt": "trusted\n", "out/b/.b.done": "key\n", "state/hash.txt": "cache\n", "pipeline.json": "{}\n"} {
		b, err := os.ReadFile(filepath.Join(ws, filepath.FromSlash(name)))
		require.NoError(t, err)
		assert.Equal(t, content, string(b), name)
	}
	assert.NoFileExists(t, "/etc/guardrun-confine-test")
	assert.NoFileExists(t, filepath.Join(ws, "out/a/planted"))
	fi, err := os.Stat(filepath.Join(staging, "ok"))
	require.NoError(t, err)
	assert.NotEqual(t, uint32(0), fi.Sys().(*syscall.Stat_t).Uid)
}

// TestConfinementHidesPaths: with the key hidden, the processor reads an
// empty file where the key is.
func TestConfinementHidesPaths(t *testing.T) {
	requireRoot(t)
	ws, staging := confinedWorkspace(t)
	s, err := New(Options{Hide: []string{filepath.Join(ws, "key"), filepath.Join(ws, "state")}})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, Close(s)) })
	res, out := runIn(t, context.Background(), s, &Cmd{
		Path: "/bin/sh", Args: []string{"sh", "-c", `wc -c < key; ls state 2>/dev/null | wc -l; cat key > "$1/copy" || true`, "sh", staging}, Dir: ws,
		Writable: []string{staging},
	})
	require.Equal(t, 0, res.ExitCode, out)
	assert.Equal(t, []string{"0", "0"}, strings.Fields(out))
	b, err := os.ReadFile(filepath.Join(staging, "copy"))
	require.NoError(t, err)
	assert.Empty(t, b)
}

// TestConfinementRefusesSymlinkedWritable: a writable dir reached through
// a symlink below the working dir (planted by an earlier processor) is
// refused: the attempt must not get write access somewhere else.
func TestConfinementRefusesSymlinkedWritable(t *testing.T) {
	requireRoot(t)
	s := enforcing(t)
	ws, _ := confinedWorkspace(t)
	elsewhere := filepath.Join(t.TempDir(), "stg")
	require.NoError(t, os.Mkdir(elsewhere, 0o755))
	require.NoError(t, os.Symlink(filepath.Dir(elsewhere), filepath.Join(ws, "out", "c")))
	_, err := s.Start(context.Background(), &Cmd{ID: "symlinked", Path: "/bin/true", Args: []string{"true"}, Dir: ws,
		Writable: []string{filepath.Join(ws, "out", "c", "stg")}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no symlinks allowed")
	// Refused before anything was done to it: not given to the attempt's uid.
	fi, err := os.Stat(elsewhere)
	require.NoError(t, err)
	assert.Equal(t, uint32(0), fi.Sys().(*syscall.Stat_t).Uid, "the symlink's target was chowned")
}

func TestUnderTmp(t *testing.T) {
	assert.Equal(t, []string{"/tmp/a", "/tmp/b/c"}, underTmp([]string{"/tmp/b/c", "/usr/bin/x", "/tmp/a/x", "/tmp/a", "/tmp", "/tmp/b/c/d", "/tmpx/y"}))
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Getuid() != 0 {
		t.Skip("confinement as tested here (mount namespace, per-attempt uid) needs root")
	}
}

// TestInheritedDescriptorsDoNotReachTheProcessor: a descriptor guardrun
// inherited without close-on-exec (from a shell, a CI runner) is not
// passed on to processors.
func TestInheritedDescriptorsDoNotReachTheProcessor(t *testing.T) {
	var p [2]int
	require.NoError(t, syscall.Pipe(p[:])) // no O_CLOEXEC: as inherited
	defer syscall.Close(p[0])
	defer syscall.Close(p[1])
	s, err := New(Options{BestEffort: true})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, Close(s)) })
	res, out := runIn(t, context.Background(), s, &Cmd{Path: "/bin/sh", Args: []string{"sh", "-c",
		fmt.Sprintf("if test -e /proc/self/fd/%d; then echo leaked; fi; echo done", p[1])}})
	require.Equal(t, 0, res.ExitCode, out)
	assert.Equal(t, "done\n", out)
}

// TestUnreachableWorkspaceIsAClearError: a workspace under a directory
// others may not search fails before the fork with a message that names
// the directory and the fix, not a processor's "permission denied".
func TestUnreachableWorkspaceIsAClearError(t *testing.T) {
	requireRoot(t)
	s := enforcing(t)
	top, err := os.MkdirTemp("/var/tmp", "guardrun-private-") // 0700, not under the private /tmp
	require.NoError(t, err)
	defer os.RemoveAll(top)
	ws := filepath.Join(top, "ws")
	require.NoError(t, os.Mkdir(ws, 0o755))
	_, err = s.Start(context.Background(), &Cmd{ID: "unreachable", Path: "/bin/true", Args: []string{"true"}, Dir: ws})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "cannot reach "+ws+": "+top+" is mode 0700, others may not search it")
	require.NoError(t, os.Chmod(top, 0o711))
	res, out := runIn(t, context.Background(), s, &Cmd{Path: "/bin/true", Args: []string{"true"}, Dir: ws})
	assert.Equal(t, 0, res.ExitCode, out)
}

// TestLandlockAloneConfinesWrites: without a mount namespace (guardrun not
// root, old kernels) Landlock is the filesystem layer: the attempt writes
// its staging dir and a temp dir of its own, not the workspace, not the
// host's /tmp (which here holds the workspace).
func TestLandlockAloneConfinesWrites(t *testing.T) {
	requireRoot(t)
	p := probeHost()
	if p.conf.landlockABI == 0 {
		t.Skip("no Landlock on this kernel")
	}
	conf := p.conf
	conf.mountNS, conf.mountNSErr, conf.pidnsProc = false, errors.New("test: no mount namespace"), false
	s, err := newLinux(Options{}, hostProbe{ns: p.ns, cg: p.cg, conf: conf})
	require.NoError(t, err)
	require.Equal(t, "landlock", s.Report().Filesystem)
	ws, staging := confinedWorkspace(t)
	script := `
t() { if sh -c "$2" >/dev/null 2>&1; then echo "open $1"; else echo "closed $1"; fi; }
t spec "echo x > $WS/pipeline.json"
t other-output "echo x > $WS/out/b/result.txt"
t host-tmp "echo x > /tmp/guardrun-landlock-test"
t staging "echo ok > $STAGING/ok"
t own-tmp 'echo ok > "$TMPDIR/ok" && test "$TMPDIR" != /tmp'
`
	res, out := runIn(t, context.Background(), s, &Cmd{Path: "/bin/sh", Args: []string{"sh", "-c", script}, Dir: ws,
		Env: []string{"PATH=/usr/bin:/bin", "WS=" + ws, "STAGING=" + staging}, Writable: []string{staging}})
	require.Equal(t, 0, res.ExitCode, out)
	assert.Equal(t, "closed spec\nclosed other-output\nclosed host-tmp\nopen staging\nopen own-tmp\n", out)
	assert.NoFileExists(t, "/tmp/guardrun-landlock-test")

	// The attempt's temp dir goes when it ends, and when it cannot start.
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	res, out = runIn(t, context.Background(), s, &Cmd{Path: "/bin/true", Args: []string{"true"}, Dir: ws})
	require.Equal(t, 0, res.ExitCode, out)
	_, err = s.Start(context.Background(), &Cmd{ID: "missing", Path: filepath.Join(ws, "no-such-program"), Args: []string{"x"}, Dir: ws})
	require.Error(t, err)
	left, err := os.ReadDir(tmp)
	require.NoError(t, err)
	assert.Empty(t, left)
}
