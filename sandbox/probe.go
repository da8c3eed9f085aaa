package sandbox

// Probe reports what this host can enforce, for `guardrun check`. It has
// no side effects beyond creating and removing one test cgroup (Linux).
func Probe() Report {
	s, err := New(Options{BestEffort: true})
	if err != nil {
		return Report{Network: "none", Memory: "none", CPU: "none", Pids: "none", IO: "none", Tree: "none", Filesystem: "none", User: "caller", Landlock: "none", Syscalls: "none", Notes: []string{err.Error()}}
	}
	r := s.Report()
	r.BestEffort = false
	return r
}
