package sandbox

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestPlanJob(t *testing.T) {
	tests := []struct {
		name string
		l    Limits
		ncpu int
		want jobPlan
	}{
		{"no limits: still kill on close", Limits{}, 4, jobPlan{limitFlags: jobLimitKillOnClose | jobLimitDieOnUnhandledException}},
		{"all limits", Limits{MemoryBytes: 256 << 20, Pids: 64, CPUs: 1}, 4, jobPlan{
			limitFlags:      jobLimitKillOnClose | jobLimitDieOnUnhandledException | jobLimitJobMemory | jobLimitActiveProcess,
			jobMemory:       256 << 20,
			activeProcesses: 64,
			cpuRate:         2500,
		}},
		{"half a core of two", Limits{CPUs: 0.5}, 2, jobPlan{limitFlags: jobLimitKillOnClose | jobLimitDieOnUnhandledException, cpuRate: 2500}},
		{"more cpus than the host: no cap", Limits{CPUs: 8}, 4, jobPlan{limitFlags: jobLimitKillOnClose | jobLimitDieOnUnhandledException}},
		{"tiny share floors at 1", Limits{CPUs: 0.00001}, 64, jobPlan{limitFlags: jobLimitKillOnClose | jobLimitDieOnUnhandledException, cpuRate: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { assert.Equal(t, tt.want, planJob(tt.l, tt.ncpu)) })
	}
}
