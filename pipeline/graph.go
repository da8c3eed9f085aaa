package pipeline

import (
	"container/heap"
	"fmt"
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
//     a stage that declares no outputs, and for a fan-out stage, its whole
//     outputDir counts as output. Template inputs of a fan-out stage create
//     no edge. A fan-out stage also depends on its foreach.stage, and on the
//     stages whose products its foreach.dir (like an input) or foreach.glob
//     (its root, or anything the pattern can match) reads;
//   - the implicit sequential edge: a stage without a "dependsOn" key and
//     without data edges depends on the stage listed just before it, unless
//     that edge would close a cycle.
//
// and reports every dependency cycle, or, when there is none, every chain
// of fan-out stages that waits for its own fan-in (checkChains).
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
	// of a stage without declared outputs or of a fan-out stage) and every
	// directory above them.
	type product struct {
		path  string
		stage int
		dir   bool
	}
	var products []product
	produced := map[string][]int{}
	above := map[string][]int{}
	for i, s := range p.Stages {
		if s.OutputDir == "" {
			continue
		}
		if len(s.Outputs) == 0 || s.IsFanOut() {
			products = append(products, product{s.OutputDir, i, true})
		} else {
			for _, o := range s.Outputs {
				products = append(products, product{path.Join(s.OutputDir, o), i, false})
			}
		}
	}
	for _, q := range products {
		produced[q.path] = append(produced[q.path], q.stage)
		for d := path.Dir(q.path); ; d = path.Dir(d) {
			above[d] = append(above[d], q.stage)
			if d == "." {
				break
			}
		}
	}
	// insideProduct lists the stages one of whose products is in or is p.
	insideProduct := func(p string) []int {
		var from []int
		for d := p; ; d = path.Dir(d) {
			from = append(from, produced[d]...)
			if d == "." {
				break
			}
		}
		return from
	}
	hasData := make([]bool, n)
	addData := func(i int, from []int) {
		for _, j := range from {
			if j != i {
				deps[i][j] = true
				hasData[i] = true
			}
		}
	}
	for i, s := range p.Stages {
		for _, in := range s.Inputs {
			if IsTemplate(in) {
				if vars, err := ParseTemplate(in); err != nil || len(vars) > 0 {
					continue // per item: not known before the items are listed
				}
				in = ExpandTemplate(in, ItemVars{}) // only escaped braces
			}
			if filepath.IsAbs(in) || strings.HasPrefix(in, "/") {
				continue // outside the workspace: nothing in it is produced
			}
			// The input is a product or inside one, or a directory holding
			// products.
			addData(i, append(insideProduct(in), above[in]...))
		}
		fe := s.Foreach
		switch {
		case fe == nil:
		case fe.Stage != "":
			if j, ok := firstByName[fe.Stage]; ok {
				addData(i, []int{j})
			}
		case fe.Dir != "":
			addData(i, append(insideProduct(fe.Root), above[fe.Root]...))
		case fe.Glob != "":
			addData(i, insideProduct(fe.Root))
			pat := strings.Split(fe.Glob, "/")
			for _, q := range products {
				if q.stage != i && slashWithin(fe.Root, q.path) && globReaches(pat, strings.Split(q.path, "/"), q.dir) {
					addData(i, []int{q.stage})
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

	cycs := cycles(deps)
	for _, cyc := range cycs {
		names := make([]string, len(cyc))
		for k, j := range cyc {
			names[k] = p.Stages[j].Name
		}
		probs.add("stages", "dependency cycle %s", strings.Join(names, " -> "))
	}
	if len(cycs) == 0 {
		checkChains(p, deps, firstByName, probs)
	}
}

// globReaches reports whether the pattern segments pat (foreach.glob) may
// list a file at or under the product path s: a file the pattern matches,
// or one under a directory it matches. A product that is a directory (dir)
// also counts when the pattern goes on below it.
func globReaches(pat, s []string, dir bool) bool {
	switch {
	case len(pat) == 0:
		return true // matched s or one of its directories
	case pat[0] == "**":
		return globReaches(pat[1:], s, dir) || (len(s) > 0 && globReaches(pat, s[1:], dir))
	case len(s) == 0:
		return dir // pat goes on below s
	}
	ok, _ := path.Match(pat[0], s[0])
	return ok && globReaches(pat[1:], s[1:], dir)
}

// checkChains reports a chain of fan-out stages (a stage with foreach.glob
// or foreach.dir and every stage chained to it through foreach.stage,
// transitively) one of whose members waits for a stage outside the chain
// that itself waits for a member of the chain: the chain could not run item
// by item. deps must be free of cycles.
func checkChains(p *Pipeline, deps []map[int]bool, firstByName map[string]int, probs *problems) {
	n := len(p.Stages)
	// head[i] is the first stage of i's chain, -1 for a plain stage (or a
	// broken foreach.stage, reported elsewhere).
	head := make([]int, n)
	for i := range head {
		head[i] = -1
		seen := map[int]bool{}
		for j := i; !seen[j]; {
			seen[j] = true
			fe := p.Stages[j].Foreach
			if fe == nil {
				break
			}
			if fe.Stage == "" {
				head[i] = j
				break
			}
			up, ok := firstByName[fe.Stage]
			if !ok {
				break
			}
			j = up
		}
	}
	for m := range n {
		h := head[m]
		if h < 0 {
			continue
		}
		for _, x := range sortedKeys(deps[m]) {
			if head[x] == h {
				continue
			}
			up := upstream(deps, x)
			for y := range n {
				if head[y] == h && up[y] {
					probs.add(fmt.Sprintf("stages[%d].dependsOn", m), "%q waits for the chain of %q, so %q cannot run per item with it",
						p.Stages[x].Name, p.Stages[h].Name, p.Stages[m].Name)
					break
				}
			}
		}
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

// upstream returns which stages stage from (transitively) depends on,
// from itself included.
func upstream(deps []map[int]bool, from int) []bool {
	seen := make([]bool, len(deps))
	stack := []int{from}
	seen[from] = true
	for len(stack) > 0 {
		x := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for y := range deps[x] {
			if !seen[y] {
				seen[y] = true
				stack = append(stack, y)
			}
		}
	}
	return seen
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

// Producer reports whether some stage of p produces the workspace-relative
// path in (as a loaded spec writes it): in is a declared output, lies
// inside one or inside the outputDir of a stage without declared outputs
// or of a fan-out stage, or is a directory holding one of those.
func (p *Pipeline) Producer() func(in string) bool {
	exact := map[string]bool{}
	above := map[string]bool{}
	for _, s := range p.Stages {
		if s.OutputDir == "" {
			continue
		}
		var prods []string
		if len(s.Outputs) == 0 || s.IsFanOut() {
			prods = []string{s.OutputDir}
		} else {
			for _, o := range s.Outputs {
				prods = append(prods, path.Join(s.OutputDir, o))
			}
		}
		for _, q := range prods {
			exact[q] = true
			for d := path.Dir(q); d != "."; d = path.Dir(d) {
				above[d] = true
			}
		}
	}
	return func(in string) bool {
		if above[in] {
			return true
		}
		for d := in; d != "." && d != "/"; d = path.Dir(d) {
			if exact[d] {
				return true
			}
		}
		return false
	}
}
