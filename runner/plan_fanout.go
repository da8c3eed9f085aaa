package runner

import (
	"context"
	"fmt"
	"runtime"
	"sync"

	"github.com/guardrun/guardrun/internal/hashcache"
	"github.com/guardrun/guardrun/pipeline"
)

// ItemsPlan is what `plan` predicts for a fan-out stage's items.
type ItemsPlan struct {
	Total  int `json:"total"`
	Run    int `json:"run"`
	Skip   int `json:"skip"`
	Remove int `json:"remove"`
	// BatchMaxItems is the stage's batch.maxItems (0: one process per
	// item).
	BatchMaxItems int `json:"batchMaxItems,omitempty"`
	// Items lists every item that would run or be removed, with why; the
	// text output shows the first few.
	Items []ItemPlan `json:"items"`
}

// ItemPlan is one item that a run would not skip.
type ItemPlan struct {
	Item    string   `json:"item"`
	Action  string   `json:"action"` // "run" | "remove"
	Reasons []Reason `json:"reasons"`
	Why     []string `json:"why"`
}

// fanPlan is a fan-out stage's jobs and per-item decisions while planning,
// for the stages chained to it.
type fanPlan struct {
	st      *pipeline.Stage
	up      *fanPlan
	items   []item
	jobs    []*job // nil until jobsOf when the summary settled every item
	willRun []bool
	fast    *fastPass
}

// jobsOf returns the stage's jobs, expanding them (and its upstream's)
// if not yet done.
func (fp *fanPlan) jobsOf() ([]*job, error) {
	if fp.jobs != nil || len(fp.items) == 0 {
		return fp.jobs, nil
	}
	var up []*job
	if fp.up != nil {
		var err error
		if up, err = fp.up.jobsOf(); err != nil {
			return nil, err
		}
	}
	jobs, err := expandJobs(fp.st, fp.items, up)
	if err != nil {
		return nil, err
	}
	fp.jobs = jobs
	return jobs, nil
}

// planFan predicts what a run does with a fan-out stage's items.
func planFan(ctx context.Context, p *pipeline.Pipeline, st *pipeline.Stage, ps *procs, cache *hashcache.Cache, stat *hashcache.Statter, known *verifiedFiles, forced bool, fans map[string]*fanPlan, rootItems map[string][]item) (*ItemsPlan, error) {
	var items []item
	var up *fanPlan
	if st.Foreach.Stage != "" {
		up = fans[st.Foreach.Stage]
		if up == nil {
			return nil, fmt.Errorf("upstream fan-out stage %s could not be planned", st.Foreach.Stage)
		}
		items = rootItems[st.Foreach.Stage]
	} else {
		var err error
		if items, err = listItems(p, st); err != nil {
			return nil, err
		}
	}
	rootItems[st.Name] = items
	version, code, err := ps.versionOnly(st)
	if err != nil {
		return nil, err
	}
	parts, err := baseParts(st, version, code)
	if err != nil {
		return nil, err
	}
	base, err := newBaseKey(parts)
	if err != nil {
		return nil, err
	}
	fp := &fanPlan{st: st, up: up, items: items, willRun: make([]bool, len(items))}
	ip := &ItemsPlan{Total: len(items), Items: []ItemPlan{}, BatchMaxItems: st.BatchMaxItems}
	// As the run does (prepareFan): the item summary settles what it can,
	// and all of it without the journal.
	if s := loadSummary(Layout(p), p, st, base.hash, forced); s != nil {
		var parentOK []bool
		if up != nil && up.fast != nil {
			parentOK = up.fast.ok
		}
		fp.fast = fastItems(p, s, items, up != nil, parentOK, known, stat)
		if fp.fast.noop {
			ip.Skip = len(items)
			fans[st.Name] = fp
			return ip, nil
		}
	}
	jn, err := openJournal(Layout(p), st.Name)
	if err != nil {
		return nil, err
	}
	defer jn.Discard()
	keep := make(map[string]bool, len(items))
	for _, it := range items {
		keep[it.id] = true
	}
	var upJobs []*job
	if up != nil {
		if upJobs, err = up.jobsOf(); err != nil {
			return nil, err
		}
	}
	if fp.jobs, err = expandJobs(st, items, upJobs); err != nil {
		return nil, err
	}
	if err := checkCollisions(st, fp.jobs); err != nil {
		return nil, err
	}
	for _, rec := range jn.Missing(keep) {
		ip.Remove++
		ip.Items = append(ip.Items, ItemPlan{Item: rec.Item, Action: "remove", Reasons: []Reason{}, Why: []string{"gone: its outputs would be removed"}})
	}
	// Items are decided in parallel (stat, hash, key), then reported in
	// order.
	reasons := make([][]Reason, len(fp.jobs))
	errs := make([]error, len(fp.jobs))
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < min(runtime.NumCPU(), len(fp.jobs)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range next {
				if fp.fast != nil && fp.fast.ok[n] {
					continue // up to date by the summary
				}
				j := fp.jobs[n]
				var rs []Reason
				if up != nil && up.willRun[n] {
					rs = append(rs, Reason{Kind: ReasonUpstream, Detail: st.Foreach.Stage})
				}
				files, err := expandPaths(p, j.inputs, known, stat)
				var ids []InputID
				rec := jn.Get(j.item)
				if err == nil {
					// As the run does (prepItem): inputs the journal knows by
					// identity are not hashed again.
					var ok bool
					if ids, _, ok = journalInputs(rec, files); !ok {
						ids, _, err = hashInputs(ctx, cache, files)
					}
				}
				switch {
				case err != nil && len(rs) == 0:
					errs[n] = fmt.Errorf("item %s: %w", j.item, err)
				case err == nil:
					exact := true
					rs = append(rs, decideItem(p, st, jn, rec, base, itemKey(base.hash, j, ids), ids, cache, stat, forced, &exact, nil)...)
					if len(rs) == 0 && exact {
						for _, o := range rec.Outputs {
							known.add(p.Abs(o.Path), o.ID, o.SHA256)
						}
					}
				}
				reasons[n] = rs
			}
		}()
	}
feed:
	for n := range fp.jobs {
		select {
		case next <- n:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for n, j := range fp.jobs {
		if errs[n] != nil {
			return nil, errs[n]
		}
		rs := reasons[n]
		if len(rs) == 0 {
			ip.Skip++
			continue
		}
		ip.Run++
		fp.willRun[n] = true
		e := ItemPlan{Item: j.item, Action: "run", Reasons: rs}
		for _, r := range rs {
			e.Why = append(e.Why, r.String())
		}
		ip.Items = append(ip.Items, e)
	}
	fans[st.Name] = fp
	return ip, nil
}

// Summary is the plan of a fan-out stage in one line: counts and the first
// reasons.
func (ip *ItemsPlan) Summary(first int) string {
	s := fmt.Sprintf("%d of %d items", ip.Run, ip.Total)
	if ip.Remove > 0 {
		s += fmt.Sprintf(", %d removed", ip.Remove)
	}
	if ip.BatchMaxItems > 0 && ip.Run > 0 {
		s += fmt.Sprintf(", in batches of up to %d", ip.BatchMaxItems)
	}
	for k, it := range ip.Items {
		if k == first {
			s += fmt.Sprintf("; ... %d more", len(ip.Items)-first)
			break
		}
		why := ""
		if len(it.Why) > 0 {
			why = it.Why[0]
		}
		s += "; " + it.Item + ": " + why
	}
	return s
}
