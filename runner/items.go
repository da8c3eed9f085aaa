package runner

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/guardrun/guardrun/internal/atomicfile"
	"github.com/guardrun/guardrun/internal/hashcache"
	"github.com/guardrun/guardrun/internal/runstate"
	"github.com/guardrun/guardrun/pipeline"
)

// This file is what a fan-out stage's items are: listing them (a glob or a
// directory walk, or an upstream stage's items), expanding the stage's
// templates for each, and each item's idempotency key and skip decision
// against the stage's item journal. fanout.go runs them.

// item is one item of a fan-out chain: its id and, per stage of the
// chain, its template values.
type item struct {
	id string
}

// listItems lists the items of a fan-out stage whose foreach is a glob or
// a directory: regular files only, sorted by id, symlinks not followed,
// guardrun's artifacts skipped, never entering stateDir, locksDir or the
// stage's own outputDir.
func listItems(p *pipeline.Pipeline, st *pipeline.Stage) ([]item, error) {
	fe := st.Foreach
	pattern, root, skip := foreachScope(p, st)
	absRoot := p.Abs(root)
	if fi, err := os.Lstat(absRoot); err != nil || !fi.IsDir() {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil // nothing there yet: no items
		}
		if err == nil {
			err = fmt.Errorf("%s is not a directory", root)
		}
		return nil, fmt.Errorf("listing items of foreach %s: %w", foreachText(fe), unwrapPathErr(err))
	}
	w := itemWalk{pattern: pattern, skip: skip}
	if root != "." {
		w.segs = strings.Split(root, "/")
	}
	err := w.dir(absRoot, root, "")
	if err != nil {
		return nil, fmt.Errorf("listing items of foreach %s: %w", foreachText(fe), unwrapPathErr(err))
	}
	items := w.items
	slices.SortFunc(items, func(a, b item) int { return strings.Compare(a.id, b.id) })
	return items, nil
}

// foreachScope is what a glob or dir foreach lists: the glob's pattern
// segments (nil: every file), the root (workspace-relative, "." for the
// workspace) and the directories never entered (the stage's own
// outputDir, stateDir and locksDir), by workspace-relative path.
func foreachScope(p *pipeline.Pipeline, st *pipeline.Stage) (pattern []string, root string, skip map[string]bool) {
	fe := st.Foreach
	if fe.Glob != "" {
		pattern = strings.Split(fe.Glob, "/")
	}
	root = fe.Root
	if root == "" {
		root = "."
	}
	skip = map[string]bool{st.OutputDir: true}
	for _, d := range []string{p.StateDir, p.LocksDir} {
		if rel, ok := relInside(p.Workspace, d); ok {
			skip[rel] = true
		}
	}
	return pattern, root, skip
}

// itemWalk lists the regular files under a foreach root that match its
// pattern (all of them without one), as filepath.WalkDir did but without
// an allocation per entry beyond the item ids: segs is the path of the
// directory being listed, as pattern segments, reused as a stack.
type itemWalk struct {
	pattern []string
	skip    map[string]bool
	segs    []string
	items   []item
}

// dir lists abs, whose workspace path is rel and whose item id prefix
// (its path under the root, with a trailing slash) is idDir.
func (w *itemWalk) dir(abs, rel, idDir string) error {
	depth := len(w.segs)
	return eachDirent(abs, func(name string, t fs.FileMode) error {
		if runstate.IsArtifact(name) {
			return nil
		}
		segs := append(w.segs[:depth], name)
		switch {
		case t.IsDir():
			name = strings.Clone(name) // kept below this call
			r := joinRel(rel, name)
			if rel == "." {
				r = name
			}
			segs[depth] = name
			if w.skip[r] || (w.pattern != nil && !couldMatch(w.pattern, segs)) {
				return nil
			}
			w.segs = segs
			err := w.dir(abs+string(filepath.Separator)+name, r, idDir+name+"/")
			w.segs = w.segs[:depth]
			return err
		case !t.IsRegular():
			return nil // symlinks are not followed; FIFOs and devices are not items
		case w.pattern != nil && !match(w.pattern, segs):
			return nil
		}
		id := idDir + name
		if idDir == "" {
			id = strings.Clone(name) // "" + name is name itself, in the getdents buffer
		}
		w.items = append(w.items, item{id: id})
		return nil
	})
}

func foreachText(fe *pipeline.Foreach) string {
	switch {
	case fe.Glob != "":
		return "glob " + strconv.Quote(fe.Glob)
	case fe.Dir != "":
		return "dir " + strconv.Quote(fe.Dir)
	}
	return "stage " + strconv.Quote(fe.Stage)
}

// itemPath is the workspace-relative file of item id under a foreach root.
func itemPath(root, id string) string {
	if root == "" || root == "." {
		return id
	}
	return root + "/" + id
}

// job is one item of one fan-out stage: the stage with its templates
// expanded for the item.
type job struct {
	item string
	// name is the job's name for its staging dir, checkpoint and process
	// id: "<stage>.<first 16 hex of the item id's SHA-256>", which no
	// stage name can be.
	name string
	// inputs and outputs are the stage's, expanded (outputs relative to
	// outputDir, outPaths workspace-relative).
	inputs, outputs []string
	outPaths        []string
}

// stage is st with the job's inputs and outputs: what its attempts run
// (made only for the jobs that run: thousands of copies would cost).
func (j *job) stage(st *pipeline.Stage) *pipeline.Stage {
	c := *st
	c.Inputs, c.Outputs = j.inputs, j.outputs
	return &c
}

// jobName is the name of item id's job in stage.
func jobName(stage, id string) string {
	s := sha256.Sum256([]byte(id))
	return stage + "." + hex.EncodeToString(s[:8])
}

// expandJob expands st's templates for an item. up is the upstream job of
// a chained stage (nil at the root of a chain).
func expandJob(st *pipeline.Stage, id string, up *job) (*job, error) {
	vars := pipeline.ItemVars{Item: id}
	switch {
	case up != nil:
		if len(up.outPaths) > 0 {
			vars.Path = up.outPaths[0]
		}
	default:
		vars.Path = itemPath(st.Foreach.Root, id)
	}
	j := &job{item: id, name: jobName(st.Name, id)}
	switch {
	case len(st.Inputs) > 0:
		j.inputs = make([]string, 0, len(st.Inputs))
		for _, in := range st.Inputs {
			j.inputs = append(j.inputs, path.Clean(pipeline.ExpandTemplate(in, vars)))
		}
	case up != nil:
		j.inputs = up.outPaths
	default:
		j.inputs = []string{vars.Path}
	}
	j.outputs = make([]string, len(st.Outputs))
	j.outPaths = make([]string, len(st.Outputs))
	for k, o := range st.Outputs {
		e := path.Clean(pipeline.ExpandTemplate(o, vars))
		if e == "." || path.IsAbs(e) || e == ".." || strings.HasPrefix(e, "../") || strings.Contains(e, "/../") {
			return nil, fmt.Errorf("item %s: outputs[%d] %q expands to %q, which is not a file inside outputDir", id, k, o, e)
		}
		if runstate.IsArtifact(path.Base(e)) {
			return nil, fmt.Errorf("item %s: outputs[%d] %q expands to %q, a name reserved for guardrun's markers, staging dirs and temp files", id, k, o, e)
		}
		j.outputs[k] = e
		j.outPaths[k] = joinRel(st.OutputDir, e)
	}
	return j, nil
}

// checkCollisions fails when two items of a stage expand to the same
// output, naming both.
func checkCollisions(st *pipeline.Stage, jobs []*job) error {
	owner := make(map[string]string, len(jobs))
	for _, j := range jobs {
		if j == nil {
			continue
		}
		for _, o := range j.outputs {
			if prev, ok := owner[o]; ok && prev != j.item {
				return fmt.Errorf("items %s and %s both write output %s (outputs %v): use {item}, {path} or {dir} to tell them apart", prev, j.item, o, st.Outputs)
			}
			owner[o] = j.item
		}
	}
	return nil
}

// baseKey is a fan-out stage's item-independent key parts and their hash:
// what every item's key starts from.
type baseKey struct {
	parts KeyParts // Inputs empty; Outputs the templates
	hash  string
	enc   json.RawMessage
}

func newBaseKey(parts KeyParts) (*baseKey, error) {
	parts.Inputs = []InputID{}
	enc, err := json.Marshal(&parts)
	if err != nil {
		return nil, fmt.Errorf("encoding key parts: %w", err)
	}
	s := sha256.Sum256(enc)
	return &baseKey{parts: parts, hash: hex.EncodeToString(s[:]), enc: enc}, nil
}

// itemKeyFormat versions itemKey's encoding.
const itemKeyFormat = "guardrun-item-key-1"

// itemKey is an item's idempotency key: the SHA-256 of the stage's base
// hash, the item id, its expanded outputs and its inputs' identities, in a
// fixed line encoding (cheaper than JSON for thousands of items).
func itemKey(base string, j *job, inputs []InputID) string {
	h := sha256.New()
	b := make([]byte, 0, 256)
	flush := func() {
		h.Write(b)
		b = b[:0]
	}
	b = append(b, itemKeyFormat...)
	b = append(b, '\n')
	b = append(b, base...)
	b = append(b, '\n')
	b = strconv.AppendQuote(b, j.item)
	b = append(b, '\n')
	for _, o := range j.outputs {
		b = append(b, "o "...)
		b = strconv.AppendQuote(b, o)
		b = append(b, '\n')
		flush()
	}
	for _, in := range inputs {
		b = append(b, "i "...)
		b = strconv.AppendQuote(b, in.Path)
		b = append(b, ' ')
		b = strconv.AppendInt(b, in.Size, 10)
		b = append(b, ' ')
		b = append(b, in.SHA256...)
		b = append(b, '\n')
		flush()
	}
	flush()
	var sum [sha256.Size]byte
	return hex.EncodeToString(h.Sum(sum[:0]))
}

// decideItem lists why an item's job must run; none means up to date.
// rec is the item's journal record (nil: never completed).
// exact (may be nil) is cleared unless the outputs were checked and each
// had exactly its recorded identity; now is checkOutputs'.
func decideItem(p *pipeline.Pipeline, st *pipeline.Stage, jn *runstate.Journal, rec *runstate.ItemRecord, base *baseKey, key string, inputs []InputID, cache *hashcache.Cache, stat *hashcache.Statter, forced bool, exact *bool, now []hashcache.FileID) []Reason {
	var rs []Reason
	switch {
	case rec == nil:
		rs = append(rs, Reason{Kind: ReasonItemNew})
	case rec.Key == key:
		rs = append(rs, checkOutputs(p, rec.Outputs, cache, stat, exact, now)...)
	default:
		if rec.Base != base.hash {
			var old KeyParts
			raw, ok := jn.Bases[rec.Base]
			if !ok || json.Unmarshal(raw, &old) != nil {
				rs = append(rs, Reason{Kind: ReasonMarkerBad, Detail: "the journal does not hold the stage settings this item was made with"})
			} else {
				rs = append(rs, compare(&old, &base.parts)...)
			}
		}
		was := make([]InputID, len(rec.Inputs))
		for i, in := range rec.Inputs {
			was[i] = InputID{Path: in.Path, Size: in.Size, SHA256: in.SHA256}
		}
		rs = append(rs, diffFiles(was, inputs, ReasonInputAdded, ReasonInputChanged, ReasonInputRemoved)...)
		if len(rs) == 0 {
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

// inputRecords are ids as journal records.
func inputRecords(ids []InputID) []runstate.InputRecord {
	out := make([]runstate.InputRecord, len(ids))
	for i, in := range ids {
		out[i] = runstate.InputRecord{Path: in.Path, Size: in.Size, SHA256: in.SHA256, ID: in.id}
	}
	return out
}

// trusted reports whether every id has a trusted identity.
func trusted(ids []InputID) bool {
	for _, in := range ids {
		if in.id == nil {
			return false
		}
	}
	return true
}

// journalInputs are an item's input ids as its journal record has them,
// when every file is the one recorded there (same path, same identity as
// stat'ed or verified now): the hashes are then the record's, without the
// stat cache. ok is false when any file differs or was not recorded with
// an identity; the inputs are then hashed.
func journalInputs(rec *runstate.ItemRecord, files []inputFile) (ids []InputID, total int64, ok bool) {
	if rec == nil || len(rec.Inputs) != len(files) {
		return nil, 0, false
	}
	ids = make([]InputID, len(files))
	for i := range files {
		f, in := &files[i], &rec.Inputs[i]
		if in.ID == nil || in.Path != f.Rel {
			return nil, 0, false
		}
		switch {
		case f.fi != nil:
			if !f.fi.Mode().IsRegular() || hashcache.ID(f.fi) != *in.ID {
				return nil, 0, false
			}
		case f.id != nil:
			if *f.id != *in.ID {
				return nil, 0, false
			}
		default:
			return nil, 0, false
		}
		ids[i] = InputID{Path: in.Path, Size: in.Size, SHA256: in.SHA256, id: in.ID}
		total += in.Size
	}
	return ids, total, true
}

// itemReason prefixes a reason with the item it is about.
func itemReason(id string, r Reason) string { return id + ": " + r.String() }

// removeItemOutputs deletes outputs (workspace-relative) of a stage whose
// outputDir is outDirRel, beneath that dir without following symlinks.
func (r *Runner) removeItemOutputs(outDirRel string, outputs []runstate.MarkerOutput) error {
	abs := r.p.Abs(outDirRel)
	d, err := r.openBeneath(abs, false)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer d.Close()
	dirs := map[string]bool{}
	for _, o := range outputs {
		rel, ok := strings.CutPrefix(o.Path, outDirRel+"/")
		if !ok {
			continue // not in this outputDir: never ours to delete
		}
		if err := d.Remove(rel); err != nil {
			return fmt.Errorf("removing %s: %w", o.Path, err)
		}
		dirs[filepath.Dir(filepath.Join(abs, filepath.FromSlash(rel)))] = true
	}
	for dir := range dirs {
		if err := syncDirIfExists(dir); err != nil {
			return err
		}
	}
	return nil
}

func syncDirIfExists(dir string) error {
	if _, err := os.Lstat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return atomicfile.SyncDir(dir)
}
