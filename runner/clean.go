package runner

import (
	"log/slog"

	"github.com/guardrun/guardrun/internal/runstate"
	"github.com/guardrun/guardrun/pipeline"
)

// RetiredRuns returns the runs whose files retention deletes when keep runs
// are kept and no run is in progress (`guardrun clean`), oldest first, each
// with the run.compacted summary the audit chain keeps of it: the same
// selection as a run's own retention.
func RetiredRuns(p *pipeline.Pipeline, keep int) []runstate.RunCompacted {
	q := *p
	q.Retention.Runs = keep + 1 // retire counts the run in progress; there is none
	r := &Runner{p: &q, layout: Layout(p), log: slog.New(slog.DiscardHandler)}
	return r.retire()
}
