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
	// fan runs a fan-out chain (members in chain order, root first) with
	// up to workers jobs at a time and returns the members' results in
	// the same order; blocked[k] marks a member whose upstream outside the
	// chain did not succeed. nil: fan-out stages go through exec.
	fan func(ctx context.Context, members []int, blocked []bool, workers int) []stageResult
	// waiting, when set (tests), is called each time the scheduler has
	// started what it can and waits for a running stage to end, with the
	// running stages in start order.
	waiting func(running []int)
}

// run schedules every stage and returns their results by stage index.
//
// A fan-out chain (a fan-out stage and every stage chained to it through
// foreach.stage) is one unit, started when the upstream stages of all its
// members have ended, and run by fan with as many workers as the free
// budget holds jobs of its largest member. A member whose own upstream
// did not succeed is handed to fan as blocked; a chain whose root is
// blocked is blocked as a whole.
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
	order := p.Order()
	rank := make([]int, n) // position in the topological order
	for pos, i := range order {
		rank[i] = pos
	}
	// unit[i] is the stage that schedules stage i: itself, or the root of
	// its fan-out chain; members[u] lists a unit's stages in order.
	unit := make([]int, n)
	members := make([][]int, n)
	for _, i := range order {
		unit[i] = i
		if fe := p.Stages[i].Foreach; fe != nil && fe.Stage != "" && s.fan != nil {
			if j, ok := index[fe.Stage]; ok {
				unit[i] = unit[j]
			}
		}
		members[unit[i]] = append(members[unit[i]], i)
	}
	type edge struct{ unit, member int }
	remaining := make([]int, n)
	downstream := make([][]edge, n)
	memberBlocked := make([]bool, n)
	for i, st := range p.Stages {
		for _, d := range st.DependsOn {
			if unit[index[d]] == unit[i] {
				continue
			}
			remaining[unit[i]]++
			downstream[index[d]] = append(downstream[index[d]], edge{unit[i], i})
		}
	}
	var ready []int // units, kept sorted by rank
	push := func(i int) {
		k := sort.Search(len(ready), func(j int) bool { return rank[ready[j]] > rank[i] })
		ready = append(ready, 0)
		copy(ready[k+1:], ready[k:])
		ready[k] = i
	}
	for i := range p.Stages {
		if unit[i] == i && remaining[i] == 0 {
			push(i)
		}
	}
	jobs := s.jobs
	if jobs <= 0 {
		jobs = n
	}
	var cpus float64
	var mem int64
	var io, slots int
	type started struct {
		unit    int
		workers int
		cpus    float64
		mem     int64
		io      int
	}
	var running []started
	done := make(chan []stageResult)
	// need is what one job of unit u needs: its largest member's.
	need := func(u int) (float64, int64, bool) {
		var c float64
		var m int64
		heavy := false
		for _, i := range members[u] {
			r := p.Stages[i].Resources
			c, m = max(c, r.CPUs), max(m, r.MemoryMB)
			heavy = heavy || p.Stages[i].IOHeavy
		}
		return c, m, heavy
	}
	// width is how many jobs of unit u fit now (0: none); a unit larger
	// than the budget still runs, alone, with one.
	width := func(u int) int {
		c, m, heavy := need(u)
		w := jobs - slots
		if c > 0 {
			w = min(w, int((p.Budget.CPUs-cpus+1e-9)/c))
		}
		if m > 0 {
			w = min(w, int((p.Budget.MemoryMB-mem)/m))
		}
		if heavy {
			w = min(w, p.Budget.IOConcurrency-io)
		}
		if !s.isFan(u) {
			w = min(w, 1)
		}
		if len(running) == 0 {
			w = max(w, 1)
		}
		return max(w, 0)
	}
	// finish records a stage's end and releases or blocks its downstream.
	var finish func(i int, res stageResult)
	var blockUnit func(u, upstream int)
	finish = func(i int, res stageResult) {
		status[i], results[i] = res.status, res
		if s.ended != nil {
			s.ended(i, res)
		}
		ok := res.status == runstate.StageSucceeded || res.status == runstate.StageSkipped
		for _, e := range downstream[i] {
			if status[e.unit] != runstate.StagePending {
				continue
			}
			if !ok && (res.status == runstate.StageFailed || res.status == runstate.StageBlocked) {
				if e.member == e.unit { // the root: the whole unit
					blockUnit(e.unit, i)
					continue
				}
				if !memberBlocked[e.member] && s.blocked != nil {
					s.blocked(e.member, i)
				}
				memberBlocked[e.member] = true
			}
			if remaining[e.unit]--; remaining[e.unit] == 0 && ok || remaining[e.unit] == 0 && memberBlocked[e.member] {
				push(e.unit)
			}
		}
	}
	blockUnit = func(u, upstream int) {
		for _, i := range members[u] {
			if status[i] != runstate.StagePending {
				continue
			}
			if s.blocked != nil {
				s.blocked(i, upstream)
			}
			finish(i, stageResult{idx: i, status: runstate.StageBlocked, err: fmt.Errorf("not run: upstream %s did not succeed", p.Stages[upstream].Name)})
		}
	}
	for {
		if ctx.Err() == nil {
			kept := ready[:0]
			for _, u := range ready {
				if status[u] != runstate.StagePending {
					continue
				}
				w := width(u)
				if w == 0 {
					kept = append(kept, u)
					continue
				}
				c, m, heavy := need(u)
				run := started{unit: u, workers: w, cpus: c * float64(w), mem: m * int64(w)}
				if heavy {
					run.io = w
				}
				for _, i := range members[u] {
					status[i] = runstate.StageRunning
				}
				running = append(running, run)
				cpus, mem, io, slots = cpus+run.cpus, mem+run.mem, io+run.io, slots+w
				if s.isFan(u) {
					blocked := make([]bool, len(members[u]))
					for k, i := range members[u] {
						blocked[k] = memberBlocked[i]
					}
					go func(ms []int, blocked []bool, w int) { done <- s.fan(ctx, ms, blocked, w) }(members[u], blocked, w)
				} else {
					go func(i int) { done <- []stageResult{s.exec(ctx, i)} }(u)
				}
			}
			ready = kept
		}
		if len(running) == 0 {
			break
		}
		if s.waiting != nil {
			ids := make([]int, len(running))
			for k, r := range running {
				ids[k] = r.unit
			}
			s.waiting(ids)
		}
		res := <-done
		u := unit[res[0].idx]
		for k, r := range running {
			if r.unit == u {
				cpus, mem, io, slots = cpus-r.cpus, mem-r.mem, io-r.io, slots-r.workers
				running = append(running[:k], running[k+1:]...)
				break
			}
		}
		for k, i := range members[u] {
			r := res[k]
			r.idx = i
			finish(i, r)
		}
	}
	return results
}

// isFan reports whether unit u is a fan-out chain run by fan.
func (s *scheduler) isFan(u int) bool {
	return s.fan != nil && s.p.Stages[u].Foreach != nil
}
