package pipeline

import (
	"container/heap"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// buildGraph fills every Stage.DependsOn with the union of
//
//   - declared edges ("dependsOn");
//   - data edges: stage B depends on stage A when one of B's inputs is one of
//     A's output files, lies inside one, or is a directory containing one; for
//     a stage that declares no outputs its whole outputDir counts as output;
//   - the implicit sequential edge: a stage without a "dependsOn" key and
//     without data edges depends on the stage listed just before it, unless
//     that edge would close a cycle.
//
// and reports every dependency cycle.
func buildGraph(p *Pipeline, firstByName map[string]int, probs *problems) {
	n := len(p.Stages)
	deps := make([]map[int]bool, n)
	for i := range deps {
		deps[i] = map[int]bool{}
	}
	for i, s := range p.Stages {
		for _, d := range s.Declared {
			if j, ok := firstByName[d]; ok && j != i {
				deps[i][j] = true
			}
		}
	}

	// Index what each stage produces: exact paths (files, or the outputDir
	// of a stage without declared outputs) and every directory above them.
	produced := map[string][]int{}
	above := map[string][]int{}
	for i, s := range p.Stages {
		if s.OutputDir == "" {
			continue
		}
		var paths []string
		if len(s.Outputs) == 0 {
			paths = []string{s.OutputDir}
		}
		for _, o := range s.Outputs {
			paths = append(paths, path.Join(s.OutputDir, o))
		}
		for _, q := range paths {
			produced[q] = append(produced[q], i)
			for d := path.Dir(q); ; d = path.Dir(d) {
				above[d] = append(above[d], i)
				if d == "." {
					break
				}
			}
		}
	}
	hasData := make([]bool, n)
	for i, s := range p.Stages {
		for _, in := range s.Inputs {
			if filepath.IsAbs(in) || strings.HasPrefix(in, "/") {
				continue // outside the workspace: nothing in it is produced
			}
			var from []int
			for d := in; ; d = path.Dir(d) { // the input is a product or inside one
				from = append(from, produced[d]...)
				if d == "." {
					break
				}
			}
			from = append(from, above[in]...) // the input is a directory holding products
			for _, j := range from {
				if j != i {
					deps[i][j] = true
					hasData[i] = true
				}
			}
		}
	}

	for i := 1; i < n; i++ {
		if p.Stages[i].Declared != nil || hasData[i] {
			continue
		}
		if !reaches(deps, i-1, i) {
			deps[i][i-1] = true
		}
	}

	for i := range p.Stages {
		idx := make([]int, 0, len(deps[i]))
		for j := range deps[i] {
			idx = append(idx, j)
		}
		slices.Sort(idx)
		p.Stages[i].DependsOn = make([]string, len(idx))
		for k, j := range idx {
			p.Stages[i].DependsOn[k] = p.Stages[j].Name
		}
	}

	for _, cyc := range cycles(deps) {
		names := make([]string, len(cyc))
		for k, j := range cyc {
			names[k] = p.Stages[j].Name
		}
		probs.add("stages", "dependency cycle %s", strings.Join(names, " -> "))
	}
}

// reaches reports whether stage from (transitively) depends on stage to.
func reaches(deps []map[int]bool, from, to int) bool {
	seen := make([]bool, len(deps))
	stack := []int{from}
	seen[from] = true
	for len(stack) > 0 {
		x := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if x == to {
			return true
		}
		for y := range deps[x] {
			if !seen[y] {
				seen[y] = true
				stack = append(stack, y)
			}
		}
	}
	return false
}

// cycles returns one cycle per strongly connected component of more than one
// stage, as stage indices starting and ending at the component's first stage
// and following the shortest path; components are ordered by first stage.
func cycles(deps []map[int]bool) [][]int {
	n := len(deps)
	index := make([]int, n)
	low := make([]int, n)
	onStack := make([]bool, n)
	for i := range index {
		index[i] = -1
	}
	var stack []int
	var comps [][]int
	next := 0
	var strong func(v int)
	strong = func(v int) {
		index[v], low[v] = next, next
		next++
		stack = append(stack, v)
		onStack[v] = true
		for _, w := range sortedKeys(deps[v]) {
			if index[w] < 0 {
				strong(w)
				low[v] = min(low[v], low[w])
			} else if onStack[w] {
				low[v] = min(low[v], index[w])
			}
		}
		if low[v] == index[v] {
			var comp []int
			for {
				w := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				onStack[w] = false
				comp = append(comp, w)
				if w == v {
					break
				}
			}
			if len(comp) > 1 {
				comps = append(comps, comp)
			}
		}
	}
	for v := range n {
		if index[v] < 0 {
			strong(v)
		}
	}
	out := make([][]int, 0, len(comps))
	for _, comp := range comps {
		in := map[int]bool{}
		for _, v := range comp {
			in[v] = true
		}
		start := slices.Min(comp)
		// Breadth-first from start back to start, inside the component.
		prev := map[int]int{}
		queue := []int{start}
		found := false
		for len(queue) > 0 && !found {
			x := queue[0]
			queue = queue[1:]
			for _, y := range sortedKeys(deps[x]) {
				if !in[y] {
					continue
				}
				if y == start {
					prev[start] = x
					found = true
					break
				}
				if _, ok := prev[y]; !ok {
					prev[y] = x
					queue = append(queue, y)
				}
			}
		}
		cyc := []int{start}
		for x := prev[start]; x != start; x = prev[x] {
			cyc = append(cyc, x)
		}
		cyc = append(cyc, start)
		// The walk above went backwards; reverse the middle.
		slices.Reverse(cyc[1 : len(cyc)-1])
		out = append(out, cyc)
	}
	slices.SortFunc(out, func(a, b []int) int { return a[0] - b[0] })
	return out
}

func sortedKeys(m map[int]bool) []int {
	keys := make([]int, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Stage returns the stage with the given name.
func (p *Pipeline) Stage(name string) (*Stage, bool) {
	for i := range p.Stages {
		if p.Stages[i].Name == name {
			return &p.Stages[i], true
		}
	}
	return nil, false
}

// indexByName maps stage names to their list index.
func (p *Pipeline) indexByName() map[string]int {
	m := make(map[string]int, len(p.Stages))
	for i, s := range p.Stages {
		m[s.Name] = i
	}
	return m
}

// Order returns the stage indices in a topological order: every stage
// after all of its DependsOn. Among stages that are ready at the same time
// the one listed first comes first, so the order is stable. Stages caught in
// a cycle (impossible for a Pipeline returned by Load) are left out.
func (p *Pipeline) Order() []int {
	idx := p.indexByName()
	n := len(p.Stages)
	pending := make([]int, n)
	dependents := make([][]int, n)
	for i, s := range p.Stages {
		for _, d := range s.DependsOn {
			if j, ok := idx[d]; ok {
				pending[i]++
				dependents[j] = append(dependents[j], i)
			}
		}
	}
	ready := &intHeap{}
	for i := range n {
		if pending[i] == 0 {
			heap.Push(ready, i)
		}
	}
	order := make([]int, 0, n)
	for ready.Len() > 0 {
		i := heap.Pop(ready).(int)
		order = append(order, i)
		for _, k := range dependents[i] {
			if pending[k]--; pending[k] == 0 {
				heap.Push(ready, k)
			}
		}
	}
	return order
}

// Downstream returns the names of every stage that depends on the named one,
// directly or transitively, in list order. A failure of the named stage stops
// all of them.
func (p *Pipeline) Downstream(name string) []string {
	idx := p.indexByName()
	start, ok := idx[name]
	if !ok {
		return nil
	}
	dependents := make([][]int, len(p.Stages))
	for i, s := range p.Stages {
		for _, d := range s.DependsOn {
			if j, ok := idx[d]; ok {
				dependents[j] = append(dependents[j], i)
			}
		}
	}
	seen := make([]bool, len(p.Stages))
	stack := []int{start}
	for len(stack) > 0 {
		x := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, y := range dependents[x] {
			if !seen[y] {
				seen[y] = true
				stack = append(stack, y)
			}
		}
	}
	var out []string
	for i, s := range p.Stages {
		if seen[i] && i != start {
			out = append(out, s.Name)
		}
	}
	return out
}

// Abs turns a resolved path (workspace-relative with forward slashes, or
// absolute) into an absolute OS path.
func (p *Pipeline) Abs(rel string) string {
	if filepath.IsAbs(rel) {
		return filepath.Clean(rel)
	}
	return filepath.Join(p.Workspace, filepath.FromSlash(rel))
}

type intHeap []int

func (h intHeap) Len() int           { return len(h) }
func (h intHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h intHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *intHeap) Push(x any)        { *h = append(*h, x.(int)) }
func (h *intHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
