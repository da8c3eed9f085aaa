package runner

import (
	"github.com/guardrun/guardrun/internal/runstate"
)

// retire returns the runs whose files retention deletes at the end of this
// run, oldest first, each with the summary the audit chain keeps of it: so
// many of the oldest runs that p.Retention.Runs remain, this one included.
// A run whose record does not parse is neither counted nor deleted (a
// person must look at it); this run is never deleted.
func (r *Runner) retire() []runstate.RunCompacted {
	keep := r.p.Retention.Runs
	// Fewer records than keep, this run's own included or not: nothing to
	// delete, and no record is read.
	if keep < 1 || r.layout.RunCount() < keep {
		return nil
	}
	var older []runstate.RunInfo
	for _, ri := range r.layout.Runs() {
		if ri.Err == nil && ri.ID != r.runID {
			older = append(older, ri)
		}
	}
	n := len(older) - (keep - 1)
	if n <= 0 {
		return nil
	}
	out := make([]runstate.RunCompacted, 0, n)
	for _, ri := range older[:n] {
		rs, err := r.layout.ReadRun(ri.ID)
		if err != nil {
			r.log.Warn("retention: run record unreadable, kept", logKeyDetail, ri.ID, logKeyErr, err)
			continue
		}
		if rs.Counts == nil {
			rs.Recount()
		}
		out = append(out, runstate.RunCompacted{RunID: ri.ID, Status: rs.Status, StartedAt: rs.StartedAt, EndedAt: rs.EndedAt,
			Error: rs.Error, Counts: rs.Counts, Audit: rs.Audit})
	}
	return out
}

// removeRetired deletes the files of the retired runs (their summaries are
// durable in the audit chain by now). A file that cannot be deleted is
// logged and left for the next run.
func (r *Runner) removeRetired(retired []runstate.RunCompacted) {
	for _, c := range retired {
		if err := r.layout.RemoveRun(c.RunID); err != nil {
			r.log.Warn("retention: deleting run files", logKeyDetail, c.RunID, logKeyErr, err)
		}
	}
}
