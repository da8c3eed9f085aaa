//go:build !windows

package sandbox

import (
	"os"
	"os/exec"
	"syscall"
)

func setTreeAttrs(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	setPdeathsig(cmd.SysProcAttr)
}

func killTree(cmd *exec.Cmd) error {
	if cmd.Process == nil {
		return nil
	}
	err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	if err == syscall.ESRCH {
		return nil
	}
	return err
}

func fillFromState(r *Result, st *os.ProcessState) {
	if st == nil {
		return
	}
	ws, _ := st.Sys().(syscall.WaitStatus)
	switch {
	case ws.Signaled():
		r.ExitCode = -1
		r.Signal = ws.Signal().String()
	default:
		r.ExitCode = ws.ExitStatus()
	}
	r.CPUSeconds = (st.UserTime() + st.SystemTime()).Seconds()
	if ru, ok := st.SysUsage().(*syscall.Rusage); ok {
		r.PeakMemoryBytes = maxRSSBytes(ru)
	}
}
