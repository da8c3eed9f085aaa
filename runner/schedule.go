package runner

import (
	"context"
	"fmt"
	"sort"

	"github.com/guardrun/guardrun/internal/runstate"
	"github.com/guardrun/guardrun/pipeline"
)

// scheduler runs a pipeline's stages in dependency order, concurrently
// within the run budget. It does not know what running a stage means: exec
// does (the runner's execStage; a fake in tests), so order, budget and
// blocking can be tested deterministically.
//
// Each stage waits for its upstream stages; ready stages start in
// topological order as the budget (cpus, memoryMB, ioConcurrency, jobs)
// allows; a stage larger than the budget still runs, alone. A stage whose
// upstream did not succeed is blocked, which blocks its own downstream;
// independent stages still finish. Once ctx is done no stage starts.
type scheduler struct {
	p    *pipeline.Pipeline
	jobs int // 0: as the budget allows
	// exec runs stage i to its end, on a goroutine of its own.
	exec func(ctx context.Context, i int) stageResult
	// blocked is told, on the scheduling goroutine, that stage i will not
	// run because stage upstream did not succeed.
	blocked func(i, upstream int)
	// ended, when set, is told on the scheduling goroutine each time stage
	// i's result is final (it ran, skipped, failed or was blocked).
	ended func(i int, res stageResult)
	// waiting, when set (tests), is called each time the scheduler has
	// started what it can and waits for a running stage to end, with the
	// running stages in start order.
	waiting func(running []int)
}

// run schedules every stage and returns their results by stage index.
func (s *scheduler) run(ctx context.Context) []stageResult {
	p := s.p
	n := len(p.Stages)
	results := make([]stageResult, n)
	status := make([]string, n)
	index := make(map[string]int, n)
	for i, st := range p.Stages {
		index[st.Name] = i
		status[i] = runstate.StagePending
		results[i] = stageResult{idx: i, status: runstate.StagePending}
	}
	rank := make([]int, n) // position in the topological order
	for pos, i := range p.Order() {
		rank[i] = pos
	}
	remaining := make([]int, n)
	downstream := make([][]int, n)
	for i, st := range p.Stages {
		remaining[i] = len(st.DependsOn)
		for _, d := range st.DependsOn {
			downstream[index[d]] = append(downstream[index[d]], i)
		}
	}
	var ready []int // kept sorted by rank
	push := func(i int) {
		k := sort.Search(len(ready), func(j int) bool { return rank[ready[j]] > rank[i] })
		ready = append(ready, 0)
		copy(ready[k+1:], ready[k:])
		ready[k] = i
	}
	for i := range p.Stages {
		if remaining[i] == 0 {
			push(i)
		}
	}
	jobs := s.jobs
	if jobs <= 0 {
		jobs = n
	}
	var cpus float64
	var mem int64
	var io int
	var running []int
	done := make(chan stageResult)
	fits := func(st *pipeline.Stage) bool {
		if len(running) == 0 {
			return true // a stage larger than the budget still runs, alone
		}
		if len(running) >= jobs || cpus+st.Resources.CPUs > p.Budget.CPUs+1e-9 || mem+st.Resources.MemoryMB > p.Budget.MemoryMB {
			return false
		}
		return !st.IOHeavy || io < p.Budget.IOConcurrency
	}
	// finish records a stage's end and releases or blocks its downstream.
	var finish func(i int, res stageResult)
	finish = func(i int, res stageResult) {
		status[i], results[i] = res.status, res
		if s.ended != nil {
			s.ended(i, res)
		}
		ok := res.status == runstate.StageSucceeded || res.status == runstate.StageSkipped
		for _, d := range downstream[i] {
			if status[d] != runstate.StagePending {
				continue
			}
			if !ok && (res.status == runstate.StageFailed || res.status == runstate.StageBlocked) {
				if s.blocked != nil {
					s.blocked(d, i)
				}
				finish(d, stageResult{idx: d, status: runstate.StageBlocked, err: fmt.Errorf("not run: upstream %s did not succeed", p.Stages[i].Name)})
				continue
			}
			if remaining[d]--; remaining[d] == 0 && ok {
				push(d)
			}
		}
	}
	for {
		if ctx.Err() == nil {
			kept := ready[:0]
			for _, i := range ready {
				st := &p.Stages[i]
				if status[i] != runstate.StagePending || !fits(st) {
					if status[i] == runstate.StagePending {
						kept = append(kept, i)
					}
					continue
				}
				status[i] = runstate.StageRunning
				running = append(running, i)
				cpus += st.Resources.CPUs
				mem += st.Resources.MemoryMB
				if st.IOHeavy {
					io++
				}
				go func(i int) { done <- s.exec(ctx, i) }(i)
			}
			ready = kept
		}
		if len(running) == 0 {
			break
		}
		if s.waiting != nil {
			s.waiting(append([]int(nil), running...))
		}
		res := <-done
		st := &p.Stages[res.idx]
		for k, i := range running {
			if i == res.idx {
				running = append(running[:k], running[k+1:]...)
				break
			}
		}
		cpus -= st.Resources.CPUs
		mem -= st.Resources.MemoryMB
		if st.IOHeavy {
			io--
		}
		finish(res.idx, res)
	}
	return results
}
