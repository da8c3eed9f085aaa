package runner

import (
	"github.com/guardrun/guardrun/internal/runstate"
	"github.com/guardrun/guardrun/metrics"
)

// RunMetrics is the content of metrics_<id>.json.
type RunMetrics = metrics.Run

func (r *Runner) metrics(rs *runstate.RunState, results []stageResult) *RunMetrics {
	m := &metrics.Run{RunID: rs.RunID, Pipeline: rs.Pipeline, Status: rs.Status, StartedAt: rs.StartedAt}
	if rs.EndedAt != nil {
		m.EndedAt = *rs.EndedAt
		m.WallSeconds = rs.EndedAt.Sub(rs.StartedAt).Seconds()
	}
	// Skipped stages are summed up, not listed: a no-op run of thousands of
	// stages writes small metrics (run_<id>.json names them).
	var skipped metrics.Skipped
	for i, res := range results {
		sm := res.metrics
		s := metrics.Stage{Name: r.p.Stages[i].Name, Status: res.status, Skipped: res.status == runstate.StageSkipped,
			Attempts: res.attemptCount(), Retries: res.retryCount(), WallSeconds: sm.WallSeconds, CPUSeconds: sm.CPUSeconds, PeakMemoryBytes: sm.PeakMemoryBytes,
			BytesIn: sm.BytesIn, BytesOut: sm.BytesOut, LinesIn: sm.LinesIn, LinesOut: sm.LinesOut}
		if c := res.items; c != nil {
			s.Items = &metrics.Items{Total: c.Total, Ran: c.Ran, Skipped: c.Skipped, Failed: c.Failed, Blocked: c.Blocked, Interrupted: c.Interrupted, Removed: c.Removed}
			for k, fi := range c.FailedItems {
				if k == metrics.MaxFailedItems {
					break
				}
				s.Items.FailedItems = append(s.Items.FailedItems, fi.Item)
			}
		}
		if s.Skipped {
			skipped.Add(s)
			continue
		}
		m.Stages = append(m.Stages, s)
	}
	if skipped.Count > 0 {
		m.Skipped = &skipped
	}
	m.ComputeTotals()
	return m
}
