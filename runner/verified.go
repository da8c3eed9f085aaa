package runner

import (
	"strings"
	"sync"

	"github.com/guardrun/guardrun/internal/hashcache"
)

// verifiedFiles are the outputs of up-to-date items this run has stat'ed
// and found exactly as their journal recorded them (same device, inode,
// size, mtime and ctime). Nothing in this run writes them (an up-to-date
// item does not run; no two stages share outputs), so a fan-in over a
// fan-out stage's outputDir, or the next stage of a chain, hashes them
// with the journal's hash instead of a second stat and the stat cache: at
// 10,000 items that is 10,000 fewer stats on a no-op. A file changed by
// someone else between the two moments is the race every tool has with
// edits made while it runs.
type verifiedFiles struct {
	mu sync.RWMutex
	m  map[string]*verified // absolute path -> identity and hash (never changed once added)
}

type verified struct {
	id  hashcache.FileID
	sum string
}

// add records that abs was verified to have identity id and hash sum.
// sum is copied: a journal record's strings share its whole line.
func (v *verifiedFiles) add(abs string, id hashcache.FileID, sum string) {
	sum = strings.Clone(sum)
	v.mu.Lock()
	if v.m == nil {
		v.m = map[string]*verified{}
	}
	v.m[abs] = &verified{id: id, sum: sum}
	v.mu.Unlock()
}

// get returns what abs was verified to be (not to be modified); a nil v
// knows nothing.
func (v *verifiedFiles) get(abs string) (*verified, bool) {
	if v == nil {
		return nil, false
	}
	v.mu.RLock()
	e, ok := v.m[abs]
	v.mu.RUnlock()
	return e, ok
}

// verifiedOutput is a file to record verified, for addAll.
type verifiedOutput struct {
	abs string
	v   verified
}

// addAll is add for many files under one lock; the hashes are kept as
// they are (the caller copies what shares memory it will not keep).
func (v *verifiedFiles) addAll(fs []verifiedOutput) {
	if len(fs) == 0 {
		return
	}
	v.mu.Lock()
	if v.m == nil {
		v.m = make(map[string]*verified, len(fs))
	}
	for i := range fs {
		v.m[fs[i].abs] = &fs[i].v
	}
	v.mu.Unlock()
}
