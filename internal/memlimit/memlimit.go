package memlimit

import (
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"sync"
)

// Floor is the smallest limit set: below it the collector runs as GOGC says.
const Floor = 100 << 20

// Headroom is the limit over the heap once the heap is above
// Floor/Headroom: 1.25 lets it grow by a quarter before a collection, so
// the collector runs at most about four times as often as GOGC=100 would
// (never the back-to-back collections of a limit below the live heap).
const Headroom = 1.25

// Tuner adjusts the limit after every collection until Stop.
type Tuner struct {
	floor int64
	prev  int64
	// mu makes Stop and an adjustment exclusive: a collection's
	// finalizer that had seen the tuner running must not set a limit
	// after Stop restored the old one.
	mu      sync.Mutex
	stopped bool
}

// Start sets the soft memory limit to floor and keeps it at
// max(floor, live heap × Headroom) after every garbage collection. It
// returns nil, changing nothing, when GOMEMLIMIT or GOGC is set.
func Start(floor int64) *Tuner {
	if os.Getenv("GOMEMLIMIT") != "" || os.Getenv("GOGC") != "" {
		return nil
	}
	t := &Tuner{floor: floor}
	t.prev = debug.SetMemoryLimit(floor)
	t.arm()
	return t
}

// Stop ends the tuning and restores the limit there was before Start.
func (t *Tuner) Stop() {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped {
		return
	}
	t.stopped = true
	debug.SetMemoryLimit(t.prev)
}

// sentinel is garbage the collector finds at every cycle: its finalizer
// runs after each collection and arms the next one. It holds a pointer and
// is larger than 16 bytes, so it is never a tiny allocation (whose
// finalizers may never run).
type sentinel struct {
	t *Tuner
	_ [32]byte
}

func (t *Tuner) arm() {
	runtime.SetFinalizer(&sentinel{t: t}, func(s *sentinel) {
		s.t.mu.Lock()
		defer s.t.mu.Unlock()
		if s.t.stopped {
			return
		}
		s.t.adjust()
		s.t.arm()
	})
}

// adjust sets the limit from the heap just after a collection: what it
// marked live plus what was allocated since (a slight overestimate, on the
// safe side). runtime.ReadMemStats rather than runtime/metrics, whose
// package initialisation alone costs every start of guardrun 0.5 ms.
func (t *Tuner) adjust() {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	limit := t.floor
	if want := float64(ms.HeapAlloc) * Headroom; want > float64(limit) {
		limit = int64(min(want, math.MaxInt64/2))
	}
	debug.SetMemoryLimit(limit)
}

// Limit returns the soft memory limit in force.
func Limit() int64 { return debug.SetMemoryLimit(-1) }
