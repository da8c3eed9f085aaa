package runner

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/guardrun/guardrun/internal/runstate"
	"github.com/guardrun/guardrun/internal/testutil"
	"github.com/guardrun/guardrun/pipeline"
)

// fakeStages drives the scheduler with stages that end only when the test
// says so: every time the scheduler waits, the test sees exactly which
// stages run and ends the one that started first. No sleeps, no clocks.
type fakeStages struct {
	release map[int]chan stageResult
	started []int
	// snapshots are the running sets, one per wait of the scheduler.
	snapshots [][]int
	blocked   []string
	// fail makes these stages fail.
	fail map[int]bool
	// onWait, when set, runs before the first running stage is released.
	onWait func(running []int)
}

func (f *fakeStages) scheduler(p *pipeline.Pipeline, jobs int) *scheduler {
	f.release = map[int]chan stageResult{}
	for i := range p.Stages {
		f.release[i] = make(chan stageResult, 1)
	}
	startedCh := make(chan int, len(p.Stages))
	s := &scheduler{p: p, jobs: jobs}
	s.exec = func(ctx context.Context, i int) stageResult {
		startedCh <- i
		return <-f.release[i]
	}
	s.blocked = func(i, up int) { f.blocked = append(f.blocked, p.Stages[i].Name+"<"+p.Stages[up].Name) }
	s.waiting = func(running []int) {
		// Every stage in running has called exec (or is about to): collect
		// their starts in order before looking.
		for len(f.started) < countStarted(f.snapshots, running) {
			f.started = append(f.started, <-startedCh)
		}
		f.snapshots = append(f.snapshots, running)
		if f.onWait != nil {
			f.onWait(running)
		}
		i := running[0]
		st := runstate.StageSucceeded
		if f.fail[i] {
			st = runstate.StageFailed
		}
		f.release[i] <- stageResult{idx: i, status: st}
	}
	return s
}

// countStarted is how many stages have started once running runs: those
// started before plus the new ones in running.
func countStarted(before [][]int, running []int) int {
	seen := map[int]bool{}
	for _, s := range before {
		for _, i := range s {
			seen[i] = true
		}
	}
	for _, i := range running {
		seen[i] = true
	}
	return len(seen)
}

func maxLen(snaps [][]int) int {
	m := 0
	for _, s := range snaps {
		m = max(m, len(s))
	}
	return m
}

// schedSpec is a spec of n stages, each with extra JSON fields.
func schedSpec(t *testing.T, budget string, stages ...string) *pipeline.Pipeline {
	t.Helper()
	var list []string
	for i, extra := range stages {
		list = append(list, fmt.Sprintf(`{"name": "s%d", "processor": {"exec": ["/bin/true"]}, "outputDir": "out/s%d"%s}`, i, i, extra))
	}
	dir := testutil.Workspace(t, map[string]string{"pipeline.json": `{"version": 1, "name": "s", ` + budget + `"stages": [` + strings.Join(list, ",") + `]}`})
	p, err := pipeline.Load(filepath.Join(dir, "pipeline.json"), pipeline.LoadOptions{})
	require.NoError(t, err)
	return p
}

func TestSchedulerFollowsBudgetJobsAndOrder(t *testing.T) {
	const indep, cpu1 = `, "dependsOn": []`, `, "resources": {"cpus": 1}`
	for _, tc := range []struct {
		name      string
		budget    string
		stages    []string
		jobs      int
		snapshots [][]int
	}{
		{"budget of 2 cpus runs 2 at a time, in list order", `"resources": {"cpus": 2, "ioConcurrency": 8}, `,
			[]string{cpu1 + indep, cpu1 + indep, cpu1 + indep, cpu1 + indep}, 0,
			[][]int{{0, 1}, {1, 2}, {2, 3}, {3}}},
		{"--jobs 1 runs one at a time", `"resources": {"cpus": 8, "ioConcurrency": 8}, `,
			[]string{cpu1 + indep, cpu1 + indep, cpu1 + indep}, 1,
			[][]int{{0}, {1}, {2}}},
		{"no edges: list order, one after another", `"resources": {"cpus": 8, "ioConcurrency": 8}, `,
			[]string{cpu1, cpu1, cpu1}, 0,
			[][]int{{0}, {1}, {2}}},
		{"a stage larger than the budget runs alone", `"resources": {"cpus": 2, "ioConcurrency": 8}, `,
			[]string{cpu1 + indep, `, "resources": {"cpus": 4}` + indep, cpu1 + indep}, 0,
			[][]int{{0, 2}, {2}, {1}}},
		{"memory budget", `"resources": {"cpus": 8, "memoryMB": 1000, "ioConcurrency": 8}, `,
			[]string{`, "resources": {"memoryMB": 600}` + indep, `, "resources": {"memoryMB": 600}` + indep, `, "resources": {"memoryMB": 300}` + indep}, 0,
			[][]int{{0, 2}, {2, 1}, {1}}},
		{"explicit edge waits for its upstream only", `"resources": {"cpus": 8, "ioConcurrency": 8}, `,
			[]string{indep, indep, `, "dependsOn": ["s0"]`}, 0,
			[][]int{{0, 1}, {1, 2}, {2}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := schedSpec(t, tc.budget, tc.stages...)
			var f fakeStages
			results := f.scheduler(p, tc.jobs).run(context.Background())
			assert.Equal(t, tc.snapshots, f.snapshots)
			for i, r := range results {
				assert.Equal(t, runstate.StageSucceeded, r.status, p.Stages[i].Name)
			}
		})
	}
}

func TestSchedulerBlocksDownstreamOfAFailure(t *testing.T) {
	p := schedSpec(t, `"resources": {"cpus": 1, "ioConcurrency": 8}, `,
		`, "dependsOn": []`,          // s0 fails
		`, "dependsOn": ["s0"]`,      // blocked
		`, "dependsOn": ["s1"]`,      // blocked by the blocked stage
		`, "dependsOn": []`,          // independent: still runs
		`, "dependsOn": ["s0","s3"]`) // blocked although s3 succeeds
	f := fakeStages{fail: map[int]bool{0: true}}
	results := f.scheduler(p, 0).run(context.Background())
	assert.Equal(t, [][]int{{0}, {3}}, f.snapshots)
	assert.Equal(t, []string{"s1<s0", "s2<s1", "s4<s0"}, f.blocked)
	want := []string{runstate.StageFailed, runstate.StageBlocked, runstate.StageBlocked, runstate.StageSucceeded, runstate.StageBlocked}
	for i, r := range results {
		assert.Equal(t, want[i], r.status, p.Stages[i].Name)
	}
	assert.EqualError(t, results[2].err, "not run: upstream s1 did not succeed")
}

func TestSchedulerStartsNothingOnceCancelled(t *testing.T) {
	p := schedSpec(t, `"resources": {"cpus": 1, "ioConcurrency": 8}, `, `, "dependsOn": []`, `, "dependsOn": []`, `, "dependsOn": ["s0"]`)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := fakeStages{onWait: func([]int) { cancel() }}
	results := f.scheduler(p, 0).run(ctx)
	assert.Equal(t, [][]int{{0}}, f.snapshots, "the running stage ends, nothing else starts")
	assert.Equal(t, []string{runstate.StageSucceeded, runstate.StagePending, runstate.StagePending},
		[]string{results[0].status, results[1].status, results[2].status})
}

func TestSchedulerLimitsIOHeavyStages(t *testing.T) {
	p := schedSpec(t, `"resources": {"cpus": 8, "ioConcurrency": 1}, `,
		`, "dependsOn": []`,
		`, "dependsOn": []`,
		`, "dependsOn": [], "ioHeavy": false`)
	var f fakeStages
	f.scheduler(p, 0).run(context.Background())
	assert.Equal(t, 2, maxLen(f.snapshots))
	assert.Equal(t, [][]int{{0, 2}, {2, 1}, {1}}, f.snapshots)
}
