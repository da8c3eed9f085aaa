package sandbox

import (
	"context"
	"errors"
	"io"
	"os"
	"time"
)

// Limits are what one attempt may use. Zero means "no limit" for that field.
type Limits struct {
	CPUs        float64 // CPU quota in cores (0.5 = half a core)
	MemoryBytes int64   // hard memory limit, no swap
	Pids        int64   // max processes/threads in the tree
	ReadBps     int64   // block-device read bandwidth
	WriteBps    int64   // block-device write bandwidth
}

// Cmd describes one attempt.
type Cmd struct {
	// ID names the attempt uniquely (used for cgroup and job object names);
	// e.g. "<runID>-<stage>-<attempt>".
	ID   string
	Path string   // resolved executable
	Args []string // argv including argv[0]
	Env  []string
	Dir  string
	// Stdin, Stdout and Stderr; nil means the null device.
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// ExtraFiles become fd 3, 4, ... in the child (Unix) or inherited
	// handles (Windows).
	ExtraFiles []*os.File
	Limits     Limits
	// Writable are the only directories the attempt may write (besides a
	// private /tmp): absolute, beneath Dir, symlink-free below Dir. On
	// Linux they are given to the attempt's unprivileged uid first.
	Writable []string
	// Visible are paths outside Dir the attempt must still see read-only
	// (inputs, the executable), when they would otherwise be covered by
	// the private /tmp.
	Visible []string
}

// Result says how an attempt ended.
type Result struct {
	ExitCode        int           // -1 when killed by a signal
	Signal          string        // e.g. "killed"; empty when it exited
	OOMKilled       bool          // the memory limit killed it
	CPUSeconds      float64       // user+system of the whole tree, when known
	PeakMemoryBytes int64         // peak of the tree (cgroup) or largest process (rusage)
	Wall            time.Duration // from start to reaped
	// Killed is true when the tree was killed by Kill or by the context
	// passed to Start; TimedOut when that context's deadline expired.
	Killed   bool
	TimedOut bool
	// Notes say what was not enforced for this attempt although requested
	// (e.g. an IO limit on a filesystem without a block device).
	Notes []string
}

// Options configure a Sandbox.
type Options struct {
	// BestEffort lets attempts run when a requested isolation or limit
	// cannot be enforced on this host; Report records what was not.
	BestEffort bool
	// AllowNetwork disables network isolation (tests and benchmarks only).
	AllowNetwork bool
	// Hide lists paths no attempt may see (the audit key file): on Linux
	// they are masked in every attempt's mount namespace.
	Hide []string
	// NetnsPerAttempt gives every attempt a network namespace of its own
	// instead of the run's one (Linux as root; benchmarks compare both).
	NetnsPerAttempt bool
}

// Report is the enforcement report: what this host actually enforces.
type Report struct {
	Network string `json:"network"` // "netns" | "userns+netns" | "none"
	Memory  string `json:"memory"`  // "cgroup v2" | "cgroup v1" | "job object" | "rlimit" | "none"
	CPU     string `json:"cpu"`
	Pids    string `json:"pids"`
	IO      string `json:"io"`
	Tree    string `json:"tree"` // how the process tree is killed: "cgroup" | "pidns" | "process group" | "job object"
	// Filesystem is how writes outside the attempt's writable dirs are
	// refused: "mount namespace (host read-only) + landlock" | "mount
	// namespace (host read-only)" | "landlock" | "none".
	Filesystem string `json:"filesystem"`
	// User is who the processor runs as: "unprivileged uid per attempt" |
	// "caller's uid" | "job object" (Windows) | "caller".
	User string `json:"user"`
	// Landlock is the kernel's Landlock ABI in use ("abi 7") or "none".
	Landlock string `json:"landlock"`
	// Syscalls is the seccomp filter: "seccomp" or "none".
	Syscalls string   `json:"syscalls"`
	Notes    []string `json:"notes,omitempty"`
	// BestEffort is true when the user accepted missing enforcement.
	BestEffort bool `json:"bestEffort"`
}

// ErrUnenforceable is wrapped by errors about limits or isolation this host
// cannot provide (without Options.BestEffort).
var ErrUnenforceable = errors.New("cannot be enforced on this host")

// Process is a started attempt.
type Process interface {
	// Wait blocks until the whole tree has exited and resources are released.
	Wait() (Result, error)
	// Kill kills the whole process tree; Wait still must be called.
	Kill() error
	// Pid is the pid of the attempt's first process.
	Pid() int
}

// Sandbox starts confined processes.
type Sandbox interface {
	Start(ctx context.Context, cmd *Cmd) (Process, error)
	Report() Report
	// Sweep removes leftovers (cgroups, processes) of attempts of a crashed
	// earlier run. It is called once at start.
	Sweep() error
}
