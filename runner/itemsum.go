package runner

import (
	"context"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"github.com/guardrun/guardrun/internal/hashcache"
	"github.com/guardrun/guardrun/internal/runstate"
	"github.com/guardrun/guardrun/pipeline"
)

// This file is the fast path of a fan-out stage's decisions: its item
// summary (runstate.Summary, stateDir/items_<stage>.sum), which a run
// writes when it ends and the next run reads instead of the journal. When
// the summary was written under this spec, these stage-wide key parts and
// the journal as it is now, an item whose input and output files all
// still have the identities the summary lists is up to date: the journal
// would say the same after a replay, a decode and a key per item, which
// is what a 10,000-item no-op spent most of its time on. An item the
// summary does not settle is decided from the journal as before; when it
// settles every item the journal is not even opened.

// loadSummary reads stage st's item summary and returns it when it may
// decide for this run: nil when there is none, it does not parse, or it
// was written under another spec, other stage-wide parts (base) or a
// journal since appended to or replaced. A forced or non-idempotent
// stage decides nothing from it.
func loadSummary(layout runstate.Layout, p *pipeline.Pipeline, st *pipeline.Stage, base string, forced bool) *runstate.Summary {
	if forced || !st.Idempotent {
		return nil
	}
	s, err := runstate.ReadSummary(layout.ItemSummary(st.Name))
	if err != nil || s == nil {
		return nil
	}
	h := &s.Header
	if h.Stage != st.Name || h.Spec != p.SpecHash || h.Base != base {
		return nil
	}
	fi, err := os.Lstat(layout.ItemJournal(st.Name))
	if err != nil || !fi.Mode().IsRegular() || hashcache.ID(fi) != h.Journal {
		return nil
	}
	return s
}

// fastPass is what a stage's summary settled: the items up to date, with
// the metrics their last run recorded.
type fastPass struct {
	sum *runstate.Summary
	pos []int32 // by item position: its entry in sum, -1 for none
	ok  []bool  // by item position: up to date
	n   int     // items ok
	// noop is set when every item is ok and the summary lists exactly the
	// journal's live items: the stage has nothing to run or remove.
	noop    bool
	metrics StageMetrics
}

// fastItems checks items against summary s on every CPU: an item is ok
// when its entry's inputs and outputs all have their recorded identities
// (inputs as this run verified them, or stat'ed regular files) and, in a
// chained stage, its upstream item is ok too (parentOK; nil: no item is).
// The outputs of ok items are recorded verified, as a skip from the
// journal does, for the stages reading them.
func fastItems(p *pipeline.Pipeline, s *runstate.Summary, items []item, chained bool, parentOK []bool, known *verifiedFiles, stat *hashcache.Statter) *fastPass {
	fp := &fastPass{sum: s, pos: make([]int32, len(items)), ok: make([]bool, len(items))}
	// Both are sorted by id: a merge finds each item's entry.
	e := 0
	for n := range items {
		for e < s.Len() && s.Item(e) < items[n].id {
			e++
		}
		fp.pos[n] = -1
		if e < s.Len() && s.Item(e) == items[n].id {
			fp.pos[n] = int32(e)
		}
	}
	if chained && parentOK == nil {
		return fp
	}
	// Chunks of items go to the CPUs (forEachItem), each with its own
	// entry buffer, sums and verified outputs, merged once per chunk.
	const chunk = 256
	var mu sync.Mutex
	forEachItem(context.Background(), (len(items)+chunk-1)/chunk, runtime.NumCPU(), func(c int) {
		var ent runstate.SumEntry
		var m StageMetrics
		ok := 0
		outs := make([]verifiedOutput, 0, chunk)
		for n := c * chunk; n < min(len(items), (c+1)*chunk); n++ {
			if fp.pos[n] < 0 || (parentOK != nil && !parentOK[n]) || !s.Entry(int(fp.pos[n]), &ent) || !fastItem(p, &ent, known, stat) {
				continue
			}
			fp.ok[n] = true
			ok++
			m.LinesIn += ent.LinesIn
			m.LinesOut += ent.LinesOut
			for _, in := range ent.Inputs {
				m.BytesIn += in.Size
			}
			for _, o := range ent.Outputs {
				m.BytesOut += o.Size
				// The hash is copied: the summary's bytes are garbage
				// once the stage is decided.
				outs = append(outs, verifiedOutput{wsPath(p, o.Path), verified{id: o.ID, sum: strings.Clone(o.SHA256)}})
			}
		}
		known.addAll(outs)
		mu.Lock()
		fp.n += ok
		fp.metrics.BytesIn += m.BytesIn
		fp.metrics.BytesOut += m.BytesOut
		fp.metrics.LinesIn += m.LinesIn
		fp.metrics.LinesOut += m.LinesOut
		mu.Unlock()
	})
	fp.noop = s.Header.Complete && fp.n == len(items) && s.Len() == len(items)
	return fp
}

// fastItem reports whether every file of entry e has its recorded
// identity now.
func fastItem(p *pipeline.Pipeline, e *runstate.SumEntry, known *verifiedFiles, stat *hashcache.Statter) bool {
	for i := range e.Inputs {
		in := &e.Inputs[i]
		abs := wsPath(p, in.Path)
		if v, ok := known.get(abs); ok {
			if v.id != in.ID {
				return false
			}
			continue
		}
		id, regular, err := stat.StatID(abs)
		if err != nil || !regular || id != in.ID {
			return false
		}
	}
	for i := range e.Outputs {
		o := &e.Outputs[i]
		id, _, err := stat.StatID(wsPath(p, o.Path))
		if err != nil || id != o.ID {
			return false
		}
	}
	return true
}

// wsPath is p.Abs(rel) without its Join and Clean when rel is a clean
// relative path, as the paths of a journal and a summary are.
func wsPath(p *pipeline.Pipeline, rel string) string {
	if rel == "" || rel == ".." || strings.HasPrefix(rel, "../") || filepath.IsAbs(rel) || path.Clean(rel) != rel {
		return p.Abs(rel)
	}
	ws := p.Workspace
	if strings.HasSuffix(ws, string(filepath.Separator)) {
		return ws + filepath.FromSlash(rel)
	}
	return ws + string(filepath.Separator) + filepath.FromSlash(rel)
}

// itemEntry is the summary entry of an item up to date with inputs ids
// (hashed from files, the job's inputs expanded) and outputs outs: ""
// when it cannot have one, because an input is a directory (a file added
// beneath it would go unseen by stats of the files alone) or has no
// trusted identity.
func itemEntry(j *job, files []inputFile, ids []InputID, outs []runstate.MarkerOutput, linesIn, linesOut int64) string {
	if len(files) != len(j.inputs) || len(ids) != len(files) {
		return ""
	}
	e := runstate.SumEntry{Item: j.item, Inputs: make([]runstate.SumFile, len(ids)), Outputs: make([]runstate.SumFile, len(outs)), LinesIn: linesIn, LinesOut: linesOut}
	for i, in := range ids {
		if in.id == nil || files[i].Rel != j.inputs[i] || in.Path != j.inputs[i] {
			return ""
		}
		e.Inputs[i] = runstate.SumFile{Path: in.Path, Size: in.Size, SHA256: in.SHA256, ID: *in.id}
	}
	for i, o := range outs {
		e.Outputs[i] = runstate.SumFile{Path: o.Path, Size: o.Size, SHA256: o.SHA256, ID: o.ID}
	}
	return string(runstate.AppendEntry(nil, &e))
}

// writeSummary replaces stage f's summary with the entries of its items
// that ended up to date (outcome itemOK), once its journal is closed. A
// summary that cannot be written is removed: the old one would not be
// used (the journal changed), but it is not left to look current.
func (r *Runner) writeSummary(f *fanStage, items []item) {
	path := r.layout.ItemSummary(f.st.Name)
	entries := make([]string, 0, len(items))
	for n := range items {
		if f.entries[n] != "" && f.outcome[n] == itemOK {
			entries = append(entries, f.entries[n])
		}
	}
	fi, err := os.Lstat(r.layout.ItemJournal(f.st.Name))
	if err == nil {
		h := &runstate.SumHeader{Stage: f.st.Name, Spec: r.p.SpecHash, Base: f.base.hash, Journal: hashcache.ID(fi),
			Complete: len(entries) == len(items) && f.jn.Len() == len(items)}
		err = runstate.WriteSummary(path, h, entries)
	}
	if err != nil {
		f.log.Warn("writing the item summary; the next run decides from the journal", logKeyErr, err)
		if rerr := os.Remove(path); rerr != nil && !os.IsNotExist(rerr) {
			f.log.Warn("removing the item summary", logKeyErr, rerr)
		}
	}
}
