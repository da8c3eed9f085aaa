package sandbox

import "strconv"

// rlimitASEnforced reports whether the kernel of goos enforces RLIMIT_AS.
// macOS accepts the limit but does not enforce it for mmap'd memory.
func rlimitASEnforced(goos string) bool {
	switch goos {
	case "freebsd", "netbsd", "openbsd", "dragonfly", "solaris", "illumos", "aix":
		return true
	}
	return false
}

// rlimitWrap runs c through /bin/sh so that ulimit sets RLIMIT_AS (KiB)
// in the child only, then execs the processor with its own argv. argv[0]
// becomes c.Path. It returns the limits it could not apply.
func rlimitWrap(c *Cmd, memory bool) (path string, args []string, unenforced []string) {
	l := c.Limits
	unenforced = requested(Limits{CPUs: l.CPUs, Pids: l.Pids, ReadBps: l.ReadBps, WriteBps: l.WriteBps})
	if l.MemoryBytes <= 0 {
		return c.Path, c.Args, unenforced
	}
	if !memory {
		return c.Path, c.Args, append(unenforced, "memory limit")
	}
	kib := strconv.FormatInt((l.MemoryBytes+1023)/1024, 10)
	script := `ulimit -v ` + kib + ` || exit 126; exec "$0" "$@"`
	args = append([]string{"sh", "-c", script, c.Path}, c.Args[1:]...)
	return "/bin/sh", args, unenforced
}
