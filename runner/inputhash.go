package runner

import (
	"context"

	"github.com/guardrun/guardrun/internal/hashcache"
)

// inputHash is a stage's key once its inputs are hashed: a future. A stage
// that must run whatever its key (no marker, no checkpoint) starts it in
// the background and hashes while the processor works; a skip decision or
// a checkpoint to validate waits for it at once. Whoever needs the key
// (a checkpoint, the marker, the stage record) calls Wait or Ready.
type inputHash struct {
	done  chan struct{}
	parts KeyParts // with Inputs, once done
	key   string
	total int64 // bytes of all inputs
	err   error
}

// Hashing reads only while ctx lives: the caller gives it the run's
// context (SIGINT stops it) bounded by the stage's timeout. Inputs that
// are not regular files were refused before (expandInputs) and are
// refused again when opened (hashcache): a FIFO cannot hang it.

// hashInputsAsync starts hashing files into a copy of base.
func hashInputsAsync(ctx context.Context, cache *hashcache.Cache, files []inputFile, base KeyParts) *inputHash {
	h := &inputHash{done: make(chan struct{}), parts: base}
	go h.compute(ctx, cache, files)
	return h
}

// hashInputsNow hashes files into a copy of base before returning.
func hashInputsNow(ctx context.Context, cache *hashcache.Cache, files []inputFile, base KeyParts) *inputHash {
	h := &inputHash{done: make(chan struct{}), parts: base}
	h.compute(ctx, cache, files)
	return h
}

func (h *inputHash) compute(ctx context.Context, cache *hashcache.Cache, files []inputFile) {
	defer close(h.done)
	// A plain stage hashes while it waits for its lock and runs: the stat
	// expandInputs made may be old by now, so the cache stats again (an
	// identity verified in this run stays: nothing in the run writes it).
	fresh := make([]inputFile, len(files))
	for i, f := range files {
		fresh[i] = inputFile{Rel: f.Rel, Abs: f.Abs, id: f.id, sum: f.sum}
	}
	ids, total, err := hashInputs(ctx, cache, fresh)
	if err != nil {
		h.err = err
		return
	}
	h.parts.Inputs, h.total = ids, total
	h.key = h.parts.Key()
}

// Wait returns the key once the inputs are hashed, or ctx's error first.
func (h *inputHash) Wait(ctx context.Context) (string, error) {
	select {
	case <-h.done:
		return h.key, h.err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// Ready returns the key and the inputs' total size when hashing has
// finished successfully, without waiting.
func (h *inputHash) Ready() (key string, total int64, ok bool) {
	select {
	case <-h.done:
		return h.key, h.total, h.err == nil
	default:
		return "", 0, false
	}
}

// Parts are the key's parts; valid once Wait returned no error.
func (h *inputHash) Parts() *KeyParts { return &h.parts }
