//go:build !windows && !linux

package sandbox

func newPlatform(opts Options) (Sandbox, error) {
	return &plain{opts: opts, report: Report{Network: "none", Memory: "none", CPU: "none", Pids: "none", IO: "none", Tree: "process group", BestEffort: opts.BestEffort}}, nil
}
