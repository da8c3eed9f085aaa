package sandbox

// Windows job object settings, computed portably so they are unit-tested on
// every platform (job_windows.go applies them).
const (
	jobLimitActiveProcess           = 0x00000008 // JOB_OBJECT_LIMIT_ACTIVE_PROCESS
	jobLimitJobMemory               = 0x00000200 // JOB_OBJECT_LIMIT_JOB_MEMORY
	jobLimitKillOnClose             = 0x00002000 // JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE
	jobLimitDieOnUnhandledException = 0x00000400 // JOB_OBJECT_LIMIT_DIE_ON_UNHANDLED_EXCEPTION

	jobCPURateEnable  = 0x1 // JOB_OBJECT_CPU_RATE_CONTROL_ENABLE
	jobCPURateHardCap = 0x4 // JOB_OBJECT_CPU_RATE_CONTROL_HARD_CAP

	jobMsgActiveProcessLimit = 3  // JOB_OBJECT_MSG_ACTIVE_PROCESS_LIMIT
	jobMsgProcessMemoryLimit = 9  // JOB_OBJECT_MSG_PROCESS_MEMORY_LIMIT
	jobMsgJobMemoryLimit     = 10 // JOB_OBJECT_MSG_JOB_MEMORY_LIMIT
)

// jobPlan is what one attempt's job object is set to.
type jobPlan struct {
	limitFlags      uint32 // JOBOBJECT_BASIC_LIMIT_INFORMATION.LimitFlags
	jobMemory       uint64 // JobMemoryLimit (bytes) when jobLimitJobMemory is set
	activeProcesses uint32 // ActiveProcessLimit when jobLimitActiveProcess is set
	// cpuRate is JOBOBJECT_CPU_RATE_CONTROL_INFORMATION.CpuRate: the share
	// of all processors in 1/100 of a percent (1..10000); 0 = no cap.
	cpuRate uint32
}

func planJob(l Limits, ncpu int) jobPlan {
	p := jobPlan{limitFlags: jobLimitKillOnClose | jobLimitDieOnUnhandledException}
	if l.MemoryBytes > 0 {
		p.limitFlags |= jobLimitJobMemory
		p.jobMemory = uint64(l.MemoryBytes)
	}
	if l.Pids > 0 {
		p.limitFlags |= jobLimitActiveProcess
		p.activeProcesses = uint32(min(l.Pids, 1<<31))
	}
	if l.CPUs > 0 && ncpu > 0 && l.CPUs < float64(ncpu) {
		p.cpuRate = uint32(min(max(l.CPUs/float64(ncpu)*10000, 1), 10000))
	}
	return p
}
