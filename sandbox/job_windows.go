//go:build windows

package sandbox

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
)

// Structures x/sys/windows does not define.
type jobCPURateControl struct {
	ControlFlags uint32
	CPURate      uint32 // union: CpuRate | Weight | MinRate/MaxRate
}

type jobBasicAccounting struct {
	TotalUserTime             int64 // 100 ns units
	TotalKernelTime           int64
	ThisPeriodTotalUserTime   int64
	ThisPeriodTotalKernelTime int64
	TotalPageFaultCount       uint32
	TotalProcesses            uint32
	ActiveProcesses           uint32
	TotalTerminatedProcesses  uint32
}

type jobAssociateCompletionPort struct {
	CompletionKey  uintptr
	CompletionPort windows.Handle
}

// jobSandbox runs every attempt in a job object of its own: job memory
// limit, hard CPU rate cap, active process limit and kill-on-job-close.
// The process is created suspended, assigned to the job, then resumed, so
// it runs no instruction outside the job. Windows has no per-process
// network isolation here: Network is "none".
type jobSandbox struct {
	opts   Options
	report Report
}

func newPlatform(opts Options) (Sandbox, error) {
	r := Report{Network: "none", Memory: "job object", CPU: "job object", Pids: "job object", IO: "none", Tree: "job object", Filesystem: "none", User: "caller", Landlock: "none", Syscalls: "none", BestEffort: opts.BestEffort}
	if !opts.AllowNetwork {
		err := fmt.Errorf("network isolation %w (Windows)", ErrUnenforceable)
		if !opts.BestEffort {
			return nil, err
		}
		r.Notes = append(r.Notes, err.Error())
	}
	return &jobSandbox{opts: opts, report: r}, nil
}

func (s *jobSandbox) Report() Report { return s.report }
func (s *jobSandbox) Sweep() error   { return nil } // jobs die with their last handle
func (s *jobSandbox) Close() error   { return nil } // nothing is kept between attempts

func setJobInfo(job windows.Handle, class uint32, p unsafe.Pointer, size uintptr) error {
	_, err := windows.SetInformationJobObject(job, class, uintptr(p), uint32(size))
	return err
}

func (s *jobSandbox) Start(ctx context.Context, c *Cmd) (Process, error) {
	var notes []string
	if c.Limits.ReadBps > 0 || c.Limits.WriteBps > 0 {
		if !s.opts.BestEffort {
			return nil, fmt.Errorf("starting %s: io limit %w", c.Path, ErrUnenforceable)
		}
		notes = append(notes, "io limit not enforced")
	}
	plan := planJob(c.Limits, runtime.NumCPU())
	job, err := windows.CreateJobObject(nil, nil)
	if err != nil {
		return nil, fmt.Errorf("creating job object: %w", err)
	}
	fail := func(err error) (Process, error) {
		windows.CloseHandle(job)
		return nil, err
	}
	var ext windows.JOBOBJECT_EXTENDED_LIMIT_INFORMATION
	ext.BasicLimitInformation.LimitFlags = plan.limitFlags
	ext.BasicLimitInformation.ActiveProcessLimit = plan.activeProcesses
	ext.JobMemoryLimit = uintptr(plan.jobMemory)
	if err := setJobInfo(job, windows.JobObjectExtendedLimitInformation, unsafe.Pointer(&ext), unsafe.Sizeof(ext)); err != nil {
		return fail(fmt.Errorf("setting job limits: %w", err))
	}
	if plan.cpuRate > 0 {
		rate := jobCPURateControl{ControlFlags: jobCPURateEnable | jobCPURateHardCap, CPURate: plan.cpuRate}
		if err := setJobInfo(job, windows.JobObjectCpuRateControlInformation, unsafe.Pointer(&rate), unsafe.Sizeof(rate)); err != nil {
			return fail(fmt.Errorf("setting job cpu rate: %w", err))
		}
	}
	// Limit violations are posted to a completion port.
	port, err := windows.CreateIoCompletionPort(windows.InvalidHandle, 0, 0, 1)
	if err != nil {
		return fail(fmt.Errorf("creating completion port: %w", err))
	}
	assoc := jobAssociateCompletionPort{CompletionKey: uintptr(job), CompletionPort: port}
	if err := setJobInfo(job, windows.JobObjectAssociateCompletionPortInformation, unsafe.Pointer(&assoc), unsafe.Sizeof(assoc)); err != nil {
		windows.CloseHandle(port)
		return fail(fmt.Errorf("associating completion port: %w", err))
	}

	cmd := exec.Command(c.Path)
	cmd.Args = c.Args
	cmd.Env = c.Env
	cmd.Dir = c.Dir
	cmd.Stdin, cmd.Stdout, cmd.Stderr = c.Stdin, c.Stdout, c.Stderr
	if len(c.ExtraFiles) > 0 {
		attr := &syscall.SysProcAttr{}
		for _, f := range c.ExtraFiles {
			attr.AdditionalInheritedHandles = append(attr.AdditionalInheritedHandles, syscall.Handle(f.Fd()))
		}
		cmd.SysProcAttr = attr
	}
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.CreationFlags |= windows.CREATE_SUSPENDED
	start := time.Now()
	if err := cmd.Start(); err != nil {
		windows.CloseHandle(port)
		return fail(fmt.Errorf("starting %s: %w", c.Path, err))
	}
	pid := uint32(cmd.Process.Pid)
	proc, err := assignAndResume(job, pid)
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		windows.CloseHandle(port)
		return fail(fmt.Errorf("starting %s: %w", c.Path, err))
	}
	p := &jobProc{cmd: cmd, proc: proc, job: job, port: port, start: start, limit: c.Limits.MemoryBytes, notes: notes}
	p.supervisor = supervise(ctx, p.kill, p.reap)
	go p.watchPort()
	return p, nil
}

// assignAndResume puts the suspended process into the job, then resumes
// its threads (only the initial thread exists). It returns a handle of
// the process to wait on.
func assignAndResume(job windows.Handle, pid uint32) (proc windows.Handle, err error) {
	h, err := windows.OpenProcess(windows.PROCESS_SET_QUOTA|windows.PROCESS_TERMINATE|windows.PROCESS_QUERY_LIMITED_INFORMATION|windows.SYNCHRONIZE, false, pid)
	if err != nil {
		return 0, fmt.Errorf("opening process %d: %w", pid, err)
	}
	if err := resumeInJob(job, h, pid); err != nil {
		windows.CloseHandle(h)
		return 0, err
	}
	return h, nil
}

func resumeInJob(job, h windows.Handle, pid uint32) error {
	if err := windows.AssignProcessToJobObject(job, h); err != nil {
		return fmt.Errorf("assigning process %d to its job: %w", pid, err)
	}
	snap, err := windows.CreateToolhelp32Snapshot(windows.TH32CS_SNAPTHREAD, 0)
	if err != nil {
		return fmt.Errorf("listing threads: %w", err)
	}
	defer windows.CloseHandle(snap)
	var te windows.ThreadEntry32
	te.Size = uint32(unsafe.Sizeof(te))
	resumed := 0
	for err = windows.Thread32First(snap, &te); err == nil; err = windows.Thread32Next(snap, &te) {
		if te.OwnerProcessID != pid {
			continue
		}
		th, err := windows.OpenThread(windows.THREAD_SUSPEND_RESUME, false, te.ThreadID)
		if err != nil {
			return fmt.Errorf("opening thread %d: %w", te.ThreadID, err)
		}
		_, err = windows.ResumeThread(th)
		windows.CloseHandle(th)
		if err != nil {
			return fmt.Errorf("resuming thread %d: %w", te.ThreadID, err)
		}
		resumed++
	}
	if resumed == 0 {
		return fmt.Errorf("no thread of process %d to resume", pid)
	}
	return nil
}

type jobProc struct {
	*supervisor
	cmd   *exec.Cmd
	proc  windows.Handle
	job   windows.Handle
	port  windows.Handle
	start time.Time
	limit int64
	notes []string
	oom   bool // the job hit its memory limit; guarded by the supervisor
}

func (p *jobProc) Pid() int { return p.cmd.Process.Pid }

// kill terminates the job; the supervisor never calls it once the job
// handle was closed (the handle value may be reused).
func (p *jobProc) kill() error {
	_ = windows.TerminateJobObject(p.job, 1)
	return nil
}

// watchPort turns a job memory limit violation into a kill of the whole
// job, reported as OOMKilled (as on Linux). It ends when the port closes.
func (p *jobProc) watchPort() {
	for {
		var msg uint32
		var key uintptr
		var ov *windows.Overlapped
		if err := windows.GetQueuedCompletionStatus(p.port, &msg, &key, &ov, windows.INFINITE); err != nil {
			return
		}
		switch msg {
		case jobMsgJobMemoryLimit, jobMsgProcessMemoryLimit:
			// Like any kill, not once the job handle is closed.
			p.unlessReaped(func() {
				p.oom = true
				_ = windows.TerminateJobObject(p.job, 137)
			})
		}
	}
}

func (p *jobProc) reap() (Result, error) {
	// Wait for the first process, kill the rest of the job (so pipes it
	// holds close), then let exec reap and drain the pipes.
	_, _ = windows.WaitForSingleObject(p.proc, windows.INFINITE)
	_ = windows.TerminateJobObject(p.job, 1)
	err := p.cmd.Wait()
	windows.CloseHandle(p.proc)
	// Kill what the first process left behind, then read the job's own
	// accounting before closing it.
	_ = windows.TerminateJobObject(p.job, 1)
	res := Result{Wall: time.Since(p.start), Notes: p.notes}
	fillFromState(&res, p.cmd.ProcessState)
	var ext windows.JOBOBJECT_EXTENDED_LIMIT_INFORMATION
	if windows.QueryInformationJobObject(p.job, windows.JobObjectExtendedLimitInformation, uintptr(unsafe.Pointer(&ext)), uint32(unsafe.Sizeof(ext)), nil) == nil {
		res.PeakMemoryBytes = int64(ext.PeakJobMemoryUsed)
	}
	var acct jobBasicAccounting
	if windows.QueryInformationJobObject(p.job, windows.JobObjectBasicAccountingInformation, uintptr(unsafe.Pointer(&acct)), uint32(unsafe.Sizeof(acct)), nil) == nil {
		res.CPUSeconds = float64(acct.TotalUserTime+acct.TotalKernelTime) / 1e7
	}
	// A notification can lag the exit: a peak at the limit with a failed
	// exit is a memory kill too.
	if p.limit > 0 && res.ExitCode != 0 && res.PeakMemoryBytes >= p.limit-(1<<20) {
		res.OOMKilled = true
	}
	// Close the job with kills shut out; after it no kill, not even
	// watchPort's memory kill, uses its handle.
	var oom bool
	killed, _ := p.markReaped(func() {
		oom = p.oom
		windows.CloseHandle(p.job)
		windows.CloseHandle(p.port)
	})
	res.OOMKilled = res.OOMKilled || oom
	if strings.TrimSpace(res.Signal) == "" && killed {
		res.Signal = "killed"
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		return res, fmt.Errorf("waiting for %s: %w", p.cmd.Path, err)
	}
	return res, nil
}
