package runner

import (
	"errors"
	"fmt"
	"os"
	"sort"

	"github.com/guardrun/guardrun/internal/hashcache"
	"github.com/guardrun/guardrun/internal/runstate"
	"github.com/guardrun/guardrun/pipeline"
)

// Reason kinds, stable for `plan --json`.
const (
	ReasonNeverRun        = "never-run"
	ReasonMarkerBad       = "marker-unreadable"
	ReasonNotIdempotent   = "idempotency-disabled"
	ReasonForced          = "forced"
	ReasonProcessor       = "processor-changed"
	ReasonCodeAdded       = "code-added"
	ReasonCodeRemoved     = "code-removed"
	ReasonCodeChanged     = "code-changed"
	ReasonVersion         = "version-changed"
	ReasonParams          = "params-changed"
	ReasonEnv             = "env-changed"
	ReasonOutputsDeclared = "outputs-changed"
	ReasonInputAdded      = "input-added"
	ReasonInputRemoved    = "input-removed"
	ReasonInputChanged    = "input-changed"
	ReasonOutputMissing   = "output-missing"
	ReasonOutputModified  = "output-modified"
	ReasonUpstream        = "upstream-will-run"
	ReasonResume          = "checkpoint-resume"
	ReasonFormat          = "key-format-changed"
	ReasonItemNew         = "item-never-completed"
	ReasonItem            = "item"
)

// Reason is one cause for running a stage.
type Reason struct {
	Kind   string `json:"kind"`
	Path   string `json:"path,omitempty"`
	Old    string `json:"old,omitempty"`
	New    string `json:"new,omitempty"`
	Detail string `json:"detail,omitempty"`
}

func (r Reason) String() string {
	switch r.Kind {
	case ReasonNeverRun:
		return "no completion marker (never completed)"
	case ReasonInputChanged:
		return fmt.Sprintf("input %s changed (%s -> %s)", r.Path, short(r.Old), short(r.New))
	case ReasonInputAdded:
		return fmt.Sprintf("input %s added", r.Path)
	case ReasonInputRemoved:
		return fmt.Sprintf("input %s removed", r.Path)
	case ReasonOutputMissing:
		return fmt.Sprintf("output %s missing", r.Path)
	case ReasonOutputModified:
		return fmt.Sprintf("output %s modified since it was written", r.Path)
	case ReasonProcessor:
		return fmt.Sprintf("processor changed (%s -> %s)", short(r.Old), short(r.New))
	case ReasonCodeChanged:
		return fmt.Sprintf("code %s changed (%s -> %s)", r.Path, short(r.Old), short(r.New))
	case ReasonCodeAdded:
		return fmt.Sprintf("code %s added", r.Path)
	case ReasonCodeRemoved:
		return fmt.Sprintf("code %s removed", r.Path)
	case ReasonFormat:
		return fmt.Sprintf("idempotency key format changed (%s): this guardrun keys stages differently, one rerun", r.Detail)
	case ReasonParams:
		return fmt.Sprintf("params changed (%s -> %s)", r.Old, r.New)
	case ReasonItemNew:
		return "never completed (no line in the item journal)"
	case ReasonItem:
		return r.Detail
	case ReasonResume:
		return "resume from checkpoint at " + r.Detail
	}
	if r.Detail != "" {
		return r.Kind + ": " + r.Detail
	}
	return r.Kind
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

// compare explains why the marker does not cover parts; nil means up to date
// as far as the key goes.
func compare(mp *KeyParts, parts *KeyParts) []Reason {
	var rs []Reason
	if mp.Format != parts.Format {
		// The other parts of another format do not compare: saying "code
		// added" for every file of a key that had no Code would mislead.
		return []Reason{{Kind: ReasonFormat, Detail: fmt.Sprintf("%d -> %d", mp.Format, parts.Format)}}
	}
	if mp.Processor != parts.Processor {
		rs = append(rs, Reason{Kind: ReasonProcessor, Old: mp.Processor, New: parts.Processor})
	}
	rs = append(rs, diffFiles(mp.Code, parts.Code, ReasonCodeAdded, ReasonCodeChanged, ReasonCodeRemoved)...)
	if mp.Version != parts.Version {
		rs = append(rs, Reason{Kind: ReasonVersion, Old: mp.Version, New: parts.Version})
	}
	if mp.Params != parts.Params {
		rs = append(rs, Reason{Kind: ReasonParams, Old: mp.Params, New: parts.Params})
	}
	if !equalMap(mp.Env, parts.Env) {
		rs = append(rs, Reason{Kind: ReasonEnv, Detail: envDiff(mp.Env, parts.Env)})
	}
	if !equalSlice(mp.Outputs, parts.Outputs) {
		rs = append(rs, Reason{Kind: ReasonOutputsDeclared, Old: fmt.Sprint(mp.Outputs), New: fmt.Sprint(parts.Outputs)})
	}
	return append(rs, diffFiles(mp.Inputs, parts.Inputs, ReasonInputAdded, ReasonInputChanged, ReasonInputRemoved)...)
}

// diffFiles explains how the files of a key part (inputs, code) changed:
// each added, changed (content) or removed file, by path.
func diffFiles(was, now []InputID, added, changed, removed string) []Reason {
	var rs []Reason
	old := make(map[string]InputID, len(was))
	for _, in := range was {
		old[in.Path] = in
	}
	seen := make(map[string]bool, len(now))
	for _, in := range now {
		seen[in.Path] = true
		o, ok := old[in.Path]
		switch {
		case !ok:
			rs = append(rs, Reason{Kind: added, Path: in.Path, New: in.SHA256})
		case o.SHA256 != in.SHA256 || o.Size != in.Size:
			rs = append(rs, Reason{Kind: changed, Path: in.Path, Old: o.SHA256, New: in.SHA256})
		}
	}
	for _, in := range was {
		if !seen[in.Path] {
			rs = append(rs, Reason{Kind: removed, Path: in.Path, Old: in.SHA256})
		}
	}
	return rs
}

// checkOutputs verifies that every output the marker recorded is still what
// was written: same identity (cheap), or failing that same size and hash.
// exact (may be nil) is cleared unless every output had its identity.
// now (nil, or one per output) gets each output's identity when its
// content is known to be the recorded one: its recorded identity, or a
// new one (a restored or copied workspace) whose hash matched and can be
// trusted for it.
func checkOutputs(p *pipeline.Pipeline, outputs []runstate.MarkerOutput, cache *hashcache.Cache, stat *hashcache.Statter, exact *bool, now []hashcache.FileID) []Reason {
	var rs []Reason
	for i, o := range outputs {
		abs := p.Abs(o.Path)
		id, _, err := stat.Stat(abs)
		if err != nil && exact != nil {
			*exact = false
		}
		if errors.Is(err, os.ErrNotExist) {
			rs = append(rs, Reason{Kind: ReasonOutputMissing, Path: o.Path})
			continue
		}
		if err != nil {
			rs = append(rs, Reason{Kind: ReasonOutputModified, Path: o.Path, Detail: err.Error()})
			continue
		}
		if id == o.ID {
			if now != nil {
				now[i] = id
			}
			continue
		}
		if exact != nil {
			*exact = false
		}
		if id.Size != o.Size {
			rs = append(rs, Reason{Kind: ReasonOutputModified, Path: o.Path, Old: o.SHA256})
			continue
		}
		sum, hid, err := cache.Sum(abs)
		if err != nil || sum != o.SHA256 {
			rs = append(rs, Reason{Kind: ReasonOutputModified, Path: o.Path, Old: o.SHA256, New: sum})
			continue
		}
		if _, trusted := cache.Lookup(abs, hid); trusted && now != nil {
			now[i] = hid
		}
	}
	return rs
}

func equalMap(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func equalSlice(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func envDiff(a, b map[string]string) string {
	var keys []string
	for k, v := range b {
		if w, ok := a[k]; !ok || w != v {
			keys = append(keys, k)
		}
	}
	for k := range a {
		if _, ok := b[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return fmt.Sprintf("%v", keys)
}
