package runner

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sync"

	"github.com/guardrun/guardrun/internal/atomicfile"
	"github.com/guardrun/guardrun/internal/hashcache"
	"github.com/guardrun/guardrun/internal/runstate"
	"github.com/guardrun/guardrun/internal/safefs"
)

// promote commits a successful attempt: staged outputs are fsynced and
// renamed into the output dir, the dirs fsynced, then the marker written
// (atomically, always last), then the checkpoint and staging dir cleared.
func (se *stageExec) promote(m *StageMetrics) error {
	r, st := se.r, se.st
	key, err := se.key()
	if err != nil {
		return err
	}
	// outputDir is re-checked now: an earlier stage may have replaced it
	// (or a component of it) by a symlink.
	out, err := se.openOutDir(true)
	if err != nil {
		return fmt.Errorf("promoting outputs: %w", err)
	}
	defer out.Close()
	stg, err := out.Sub(filepath.Base(se.staging), false)
	if err != nil {
		return fmt.Errorf("promoting outputs: %w", err)
	}
	defer stg.Close()
	// Only regular single-link files and real directories may be staged:
	// a symlink, hardlink, FIFO, device or socket fails the stage.
	limit := r.opts.maxStaged()
	staged, err := stg.FilesMax(limit)
	if errors.Is(err, safefs.ErrTooMany) {
		return fmt.Errorf("the staging dir holds more than %d files and directories (the limit, --max-staged-files): nothing promoted", limit)
	}
	if err != nil {
		return fmt.Errorf("listing staged outputs: %w", err)
	}
	have := map[string]bool{}
	for _, s := range staged {
		// A staged ".<stage>.done" would land next to the markers of the
		// stages sharing this output dir, and could pass for one.
		if !se.isItem && runstate.IsArtifact(path.Base(s)) {
			return fmt.Errorf("refusing staged output %s: the name is reserved for guardrun's markers, staging dirs and temp files", s)
		}
		have[s] = true
	}
	for _, o := range st.Outputs {
		if !have[o] {
			return fmt.Errorf("declared output %s was not produced", o)
		}
	}
	if se.isItem {
		// An item's job promotes its declared outputs only: the item
		// journal tracks those, and nothing else may appear in outputDir.
		if extra := len(staged) - len(st.Outputs); extra > 0 {
			se.log.Warn("discarding files an item's job staged beyond its declared outputs", logKeyJob, se.job, logKeyCount, extra)
		}
		staged = st.Outputs
	}
	outs, dirs, err := se.commitFiles(stg, out, staged, m)
	if err != nil {
		return err
	}
	if err := syncDirs(dirs); err != nil {
		return err
	}
	if se.isItem {
		se.committed = outs
	} else if st.Idempotent {
		parts, err := json.Marshal(se.inputs.Parts())
		if err != nil {
			return fmt.Errorf("encoding key parts: %w", err)
		}
		_, total, _ := se.inputs.Ready()
		mk := runstate.Marker{Version: runstate.MarkerVersion, Stage: st.Name, Key: key, Parts: parts, Outputs: outs, RunID: r.runID, CompletedAt: r.now(),
			Counters: &runstate.MarkerCounters{BytesIn: total, BytesOut: m.BytesOut, LinesIn: se.linesIn, LinesOut: m.LinesOut}}
		if err := runstate.WriteMarker(se.outDir, &mk); err != nil {
			return fmt.Errorf("writing marker: %w", err)
		}
	}
	se.state.Outputs = make([]runstate.OutputRecord, len(outs))
	for i, o := range outs {
		se.state.Outputs[i] = o.OutputRecord
	}
	if err := r.layout.RemoveProgress(se.job); err != nil {
		return err
	}
	if err := se.removeStaging(); err != nil {
		return fmt.Errorf("removing staging dir: %w", err)
	}
	return nil
}

// commitFiles moves the staged files rels (paths relative to the staging
// dir stg and to the output dir out) into outputDir. Each is opened
// beneath stg without following links (a regular file with one link),
// made guardrun's, fsynced, hashed, renamed, and checked to be the very
// file hashed, unchanged. It returns their records and the directories to
// fsync (syncDirs) before anything names them as committed.
func (se *stageExec) commitFiles(stg, out *safefs.Dir, rels []string, m *StageMetrics) ([]runstate.MarkerOutput, map[string]bool, error) {
	r, st := se.r, se.st
	type result struct {
		rec   runstate.MarkerOutput
		fi    os.FileInfo
		lines int64
		err   error
	}
	results := make([]result, len(rels))
	var wg sync.WaitGroup
	// A bounded number of files at a time: a processor that stages
	// thousands of files must not cost guardrun a goroutine and a
	// descriptor for each.
	sem := make(chan struct{}, 64) // fsyncs in flight: the journal commits them in groups
	for i, rel := range rels {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int, rel string) {
			defer wg.Done()
			defer func() { <-sem }()
			src := filepath.Join(se.staging, filepath.FromSlash(rel))
			f, err := stg.OpenFile(rel, os.O_RDONLY, 0)
			if err != nil {
				results[i].err = err
				return
			}
			defer f.Close()
			// The processor's uid owns what it staged: the file becomes
			// guardrun's, without setuid/setgid or group/other write.
			if err := safefs.Own(f); err != nil {
				results[i].err = err
				return
			}
			err = f.Sync()
			fi, serr := f.Stat()
			if err != nil || serr != nil {
				results[i].err = errors.Join(err, serr)
				return
			}
			h := se.hashers[rel]
			if h == nil {
				h = hashcache.NewIncremental(src)
			}
			sum, err := h.FinishAt(f, fi.Size())
			if err != nil {
				results[i].err = err
				return
			}
			// A processor still running (a batch) must not have written
			// the file while it was hashed.
			after, err := f.Stat()
			if err != nil {
				results[i].err = err
				return
			}
			if hashcache.ID(after) != hashcache.ID(fi) {
				results[i].err = errors.New("the file changed while being hashed")
				return
			}
			results[i] = result{rec: runstate.MarkerOutput{OutputRecord: runstate.OutputRecord{Path: joinRel(st.OutputDir, rel), Size: fi.Size(), SHA256: sum}}, fi: fi, lines: h.Lines()}
		}(i, rel)
	}
	wg.Wait()
	dirs := map[string]bool{}
	outs := make([]runstate.MarkerOutput, 0, len(rels))
	for i, rel := range rels {
		if results[i].err != nil {
			return nil, nil, fmt.Errorf("finishing output %s: %w", rel, results[i].err)
		}
		dst := filepath.Join(se.outDir, filepath.FromSlash(rel))
		if err := stg.Rename(rel, out, rel); err != nil {
			return nil, nil, fmt.Errorf("promoting %s: %w", rel, err)
		}
		dirs[filepath.Dir(dst)] = true
		rec := results[i].rec
		// What landed in outputDir is the very file hashed above, not
		// written since (a rename may change ctime, never mtime).
		fi, err := out.Stat(rel)
		if err != nil {
			return nil, nil, fmt.Errorf("promoting %s: %w", rel, err)
		}
		if !os.SameFile(fi, results[i].fi) || fi.Size() != rec.Size || !fi.ModTime().Equal(results[i].fi.ModTime()) {
			return nil, nil, fmt.Errorf("promoting %s: the file changed while being promoted", rel)
		}
		id := hashcache.ID(fi)
		rec.ID = id
		// An item's outputs are known by its journal; the stat cache
		// keeps what nothing else remembers.
		if !se.isItem {
			r.cache.Put(dst, id, rec.SHA256, r.now(), true)
		}
		outs = append(outs, rec)
		m.BytesOut += rec.Size
		m.LinesOut += results[i].lines
	}
	return outs, dirs, nil
}

// syncDirs fsyncs each of dirs.
func syncDirs(dirs map[string]bool) error {
	for d := range dirs {
		if err := atomicfile.SyncDir(d); err != nil {
			return err
		}
	}
	return nil
}
