package sdk

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// EnvBatchFile names the item list of a batched fan-out stage's process.
const EnvBatchFile = "PIPELINE_BATCH_FILE"

// Item is one item a fan-out stage's process works on: its id, its
// inputs (absolute paths) and its outputs (relative to OutputDir).
type Item struct {
	ID      string   `json:"item"`
	Inputs  []string `json:"inputs"`
	Outputs []string `json:"outputs"`
}

// Items are the items this process works on: the list of a batch
// (PIPELINE_BATCH_FILE), else the one item of a per-item job
// (PIPELINE_ITEM), else, in a plain stage, one item with an empty id
// holding the stage's inputs and outputs.
func (e *Env) Items() []Item {
	if e.batch != nil {
		return e.batch
	}
	return []Item{{ID: e.Item, Inputs: e.Inputs, Outputs: e.Outputs}}
}

// Batched reports whether the process got a batch list: it then reports
// each item with Done or Failed.
func (e *Env) Batched() bool { return e.batch != nil }

// Done tells the runner that item id is done: every one of its outputs is
// written and closed (the runner fsyncs them itself). The runner commits
// the item at once; the process must not touch its outputs afterwards.
// Without a batch list it does nothing.
func (e *Env) Done(id string) error { return e.reportItem(id, "done", "") }

// Failed tells the runner that item id failed with err: the runner runs
// it again alone, after the batch. Without a batch list it does nothing.
func (e *Env) Failed(id string, err error) error {
	msg := "failed"
	if err != nil {
		msg = err.Error()
	}
	return e.reportItem(id, "failed", msg)
}

func (e *Env) reportItem(id, status, msg string) error {
	if e.batch == nil {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.progress == nil {
		return nil
	}
	b := append(e.scratch[:0], `{"item":`...)
	b = appendJSONString(b, id)
	b = append(b, `,"status":"`...)
	b = append(b, status...)
	b = append(b, '"')
	if msg != "" {
		if len(msg) > 4096 {
			msg = msg[:4096]
		}
		b = append(b, `,"error":`...)
		b = appendJSONString(b, msg)
	}
	b = append(b, '}', '\n')
	e.scratch = b
	if _, err := e.progress.Write(b); err != nil {
		return Transient(fmt.Errorf("reporting item %s: %w", id, err))
	}
	return nil
}

// MainItems is a fan-out processor's whole main function: fn is called
// for each item (in a batch, each of its items in order; in a per-item
// job, its one item) and must write the item's outputs under OutputDir.
// An item fn returns nil for is reported done; one it fails is reported
// failed and the others go on. MainItems exits with the exit code of the
// first failure (ExitCode), so that an item the runner runs alone keeps
// its exit semantics (75: transient).
func MainItems(fn func(e *Env, it Item) error) {
	Main(func(e *Env) error { return EachItem(e, fn) })
}

// EachItem calls fn for each of e's items as MainItems does and returns
// the first failure.
func EachItem(e *Env, fn func(e *Env, it Item) error) error {
	var first error
	for _, it := range e.Items() {
		err := fn(e, it)
		if err == nil {
			if rerr := e.Done(it.ID); rerr != nil {
				return rerr
			}
			continue
		}
		if it.ID != "" {
			err = fmt.Errorf("item %s: %w", it.ID, err)
		}
		if first == nil {
			first = err
		}
		if !e.Batched() {
			return err
		}
		fmt.Fprintf(os.Stderr, "%s: %v\n", filepath.Base(os.Args[0]), err)
		if rerr := e.Failed(it.ID, err); rerr != nil {
			return rerr
		}
	}
	return first
}

// readBatch reads PIPELINE_BATCH_FILE (nil when unset).
func readBatch() ([]Item, error) {
	f, ok := lookup(EnvBatchFile)
	if !ok {
		return nil, nil
	}
	b, err := os.ReadFile(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", EnvBatchFile, err)
	}
	var items []Item
	if err := json.Unmarshal(b, &items); err != nil {
		return nil, fmt.Errorf("%s: not a JSON array of items: %w", EnvBatchFile, err)
	}
	if items == nil {
		items = []Item{}
	}
	for i, it := range items {
		at := EnvBatchFile + ": element " + strconv.Itoa(i)
		if it.ID == "" {
			return nil, errors.New(at + ": no item id")
		}
		for _, in := range it.Inputs {
			if !filepath.IsAbs(in) {
				return nil, fmt.Errorf("%s: input %q is not an absolute path", at, in)
			}
		}
		for _, o := range it.Outputs {
			if !filepath.IsLocal(o) {
				return nil, fmt.Errorf("%s: output %q is not a path inside the output directory", at, o)
			}
		}
	}
	return items, nil
}
