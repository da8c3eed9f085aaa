package runner

import (
	"sync"
	"time"

	"github.com/guardrun/guardrun/internal/runstate"
)

// itemProgressEvery is how often a running fan-out chain reports its items.
const itemProgressEvery = 100 * time.Millisecond

// reportItems sends, while a fan-out chain runs, how many items of each of
// its started stages are settled (runstate.ItemProgress, for the live
// progress line), every itemProgressEvery and once more when the returned
// function stops it, each time only when the counts changed. Without an
// event consumer it does nothing.
func (r *Runner) reportItems(fs []*fanStage) func() {
	if r.events.onEvent == nil {
		return func() {}
	}
	last := make([]runstate.ItemProgress, len(fs))
	report := func() {
		for k, f := range fs {
			f.mu.Lock()
			started, c := f.started, f.counts
			f.mu.Unlock()
			if !started {
				continue
			}
			p := runstate.ItemProgress{Done: c.Ran + c.Skipped + c.Failed + c.Blocked + c.Interrupted, Skipped: c.Skipped, Total: c.Total}
			if p != last[k] {
				last[k] = p
				r.events.record(f.st.Name, p)
			}
		}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(itemProgressEvery)
		defer t.Stop()
		for {
			select {
			case <-done:
				report()
				return
			case <-t.C:
				report()
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}
