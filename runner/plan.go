package runner

import (
	"context"
	"fmt"

	"github.com/guardrun/guardrun/internal/hashcache"
	"github.com/guardrun/guardrun/internal/runstate"
	"github.com/guardrun/guardrun/pipeline"
)

// decide lists why a stage must run; none means it is up to date. head is
// the marker (nil when there is none); parts may be nil when the inputs
// were not hashed. Only a key mismatch decodes the whole marker, to say
// which part changed.
func decide(p *pipeline.Pipeline, st *pipeline.Stage, head *runstate.MarkerHead, parts *KeyParts, key string, cache *hashcache.Cache, forced bool) []Reason {
	var rs []Reason
	switch {
	case head == nil || parts == nil:
		rs = append(rs, Reason{Kind: ReasonNeverRun})
	case head.Key == key:
		rs = append(rs, checkOutputs(p, head.Outputs, cache, nil, nil, nil)...)
	default:
		old, err := markerParts(head)
		if err != nil {
			rs = append(rs, Reason{Kind: ReasonMarkerBad, Detail: err.Error()})
			break
		}
		rs = append(rs, compare(old, parts)...)
		if len(rs) == 0 { // parts equal but key differs: a forged or stale marker
			rs = append(rs, Reason{Kind: ReasonMarkerBad, Detail: "key does not match its parts"})
		}
	}
	if !st.Idempotent {
		rs = append(rs, Reason{Kind: ReasonNotIdempotent})
	}
	if forced {
		rs = append(rs, Reason{Kind: ReasonForced})
	}
	return rs
}

// StagePlan is what `plan` predicts for one stage.
type StagePlan struct {
	Name    string   `json:"name"`
	Action  string   `json:"action"` // "run" | "skip" | "error"
	Reasons []Reason `json:"reasons"`
	// Why holds Reasons as sentences.
	Why []string `json:"why"`
	// Resume is the checkpoint a run would resume from, when any.
	Resume *ResumePoint `json:"resume,omitempty"`
	Error  string       `json:"error,omitempty"`
	// Items is a fan-out stage's per-item plan.
	Items *ItemsPlan `json:"items,omitempty"`
}

// ResumePoint is a usable checkpoint.
type ResumePoint struct {
	LineOffset int64 `json:"lineOffset"`
	ByteOffset int64 `json:"byteOffset"`
}

// PlanOptions configure Plan.
type PlanOptions struct {
	Force []string
}

// Plan predicts, without side effects (no lock, no build, no writes), which
// stages a run would execute and why.
func Plan(ctx context.Context, p *pipeline.Pipeline, opts PlanOptions) ([]StagePlan, error) {
	forced := map[string]bool{}
	for _, f := range opts.Force {
		if _, ok := p.Stage(f); !ok {
			return nil, noSuchStage("--force", f)
		}
		forced[f] = true
	}
	layout := Layout(p)
	cache := hashcache.Open(layout.HashCache())
	ps := newProcs(p, cache, nil)
	// As in a run: fan-out decisions stat by directory, and outputs found
	// exactly as recorded are not stat'ed again by the stages reading them.
	var stat hashcache.Statter
	defer stat.Close()
	var known verifiedFiles
	plans := make([]StagePlan, len(p.Stages))
	willRun := map[string]bool{}
	fans := map[string]*fanPlan{}
	rootItems := map[string][]item{}
	for _, i := range p.Order() {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		st := &p.Stages[i]
		sp := StagePlan{Name: st.Name, Action: "run", Reasons: []Reason{}}
		plans[i] = sp
		for _, d := range st.DependsOn {
			if willRun[d] {
				sp.Reasons = append(sp.Reasons, Reason{Kind: ReasonUpstream, Detail: d})
			}
		}
		if st.IsFanOut() {
			ip, err := planFan(ctx, p, st, ps, cache, &stat, &known, forced[st.Name], fans, rootItems)
			switch {
			case err != nil:
				sp.Action, sp.Error = "error", err.Error()
			case ip.Run+ip.Remove == 0 && len(sp.Reasons) == 0:
				sp.Action = "skip"
			default:
				for _, r := range sp.Reasons {
					sp.Why = append(sp.Why, r.String())
				}
				sp.Why = append(sp.Why, ip.Summary(3))
				willRun[st.Name] = true
			}
			sp.Items = ip
			plans[i] = sp
			continue
		}
		reasons, parts, key, err := planStage(p, st, ps, cache, &known, forced[st.Name])
		if err != nil && len(sp.Reasons) == 0 {
			sp.Action, sp.Error = "error", err.Error()
		}
		sp.Reasons = append(sp.Reasons, reasons...)
		if len(sp.Reasons) == 0 && sp.Action != "error" {
			sp.Action = "skip"
		}
		if sp.Action == "run" {
			willRun[st.Name] = true
			if pr, _ := layout.ReadProgress(st.Name); pr != nil && st.Checkpoint.Enabled && pr.ByteOffset > 0 && parts != nil && key == pr.IdempotencyKey {
				sp.Resume = &ResumePoint{LineOffset: pr.LineOffset, ByteOffset: pr.ByteOffset}
				sp.Reasons = append(sp.Reasons, Reason{Kind: ReasonResume, Detail: fmt.Sprintf("line %d (byte %d)", pr.LineOffset, pr.ByteOffset)})
			}
		}
		for _, r := range sp.Reasons {
			sp.Why = append(sp.Why, r.String())
		}
		plans[i] = sp
	}
	return plans, nil
}

func stageParts(p *pipeline.Pipeline, st *pipeline.Stage, ps *procs, cache *hashcache.Cache, known *verifiedFiles) (*KeyParts, error) {
	version, code, err := ps.versionOnly(st)
	if err != nil {
		return nil, err
	}
	parts, err := baseParts(st, version, code)
	if err != nil {
		return nil, err
	}
	files, err := expandInputs(p, st, known)
	if err != nil {
		return nil, err
	}
	if parts.Inputs, _, err = hashInputs(context.Background(), cache, files); err != nil {
		return nil, err
	}
	return &parts, nil
}

// planStage returns why a stage would run, and its key parts and key when
// its inputs could be hashed (to check a checkpoint against without
// hashing them again).
func planStage(p *pipeline.Pipeline, st *pipeline.Stage, ps *procs, cache *hashcache.Cache, known *verifiedFiles, forced bool) ([]Reason, *KeyParts, string, error) {
	parts, err := stageParts(p, st, ps, cache, known)
	if err != nil {
		return nil, nil, "", err
	}
	key := parts.Key()
	head, err := runstate.ReadMarkerHead(p.Abs(st.OutputDir), st.Name)
	if err != nil {
		return []Reason{{Kind: ReasonMarkerBad, Detail: err.Error()}}, parts, key, nil
	}
	if !st.Idempotent {
		head = nil
	}
	return decide(p, st, head, parts, key, cache, forced), parts, key, nil
}

// markerParts decodes the key parts a marker was written with.
func markerParts(head *runstate.MarkerHead) (*KeyParts, error) {
	var parts KeyParts
	if err := head.DecodeParts(&parts); err != nil {
		return nil, err
	}
	return &parts, nil
}
