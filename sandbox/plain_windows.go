//go:build windows

package sandbox

import (
	"os"
	"os/exec"
)

func setTreeAttrs(*exec.Cmd) {}

func killTree(cmd *exec.Cmd) error {
	if cmd.Process == nil {
		return nil
	}
	err := cmd.Process.Kill()
	if err == os.ErrProcessDone {
		return nil
	}
	return err
}

func fillFromState(r *Result, st *os.ProcessState) {
	if st == nil {
		return
	}
	r.ExitCode = st.ExitCode()
	r.CPUSeconds = (st.UserTime() + st.SystemTime()).Seconds()
}
