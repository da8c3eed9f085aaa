package memlimit

import (
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync/atomic"
)

// Floor is the smallest limit set: below it the collector runs as GOGC says.
const Floor = 100 << 20

// Headroom is the limit over the live heap once the live heap is above
// Floor/Headroom: 1.5 means the heap may grow by half before a collection.
const Headroom = 1.5

// Tuner adjusts the limit after every collection until Stop.
type Tuner struct {
	floor   int64
	stopped atomic.Bool
	sample  []metrics.Sample
	prev    int64
}

// Start sets the soft memory limit to floor and keeps it at
// max(floor, live heap × Headroom) after every garbage collection. It
// returns nil, changing nothing, when GOMEMLIMIT or GOGC is set.
func Start(floor int64) *Tuner {
	if os.Getenv("GOMEMLIMIT") != "" || os.Getenv("GOGC") != "" {
		return nil
	}
	t := &Tuner{floor: floor, sample: []metrics.Sample{{Name: "/gc/heap/live:bytes"}}}
	t.prev = debug.SetMemoryLimit(floor)
	t.arm()
	return t
}

// Stop ends the tuning and restores the limit there was before Start.
func (t *Tuner) Stop() {
	if t == nil || t.stopped.Swap(true) {
		return
	}
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
		if s.t.stopped.Load() {
			return
		}
		s.t.adjust()
		s.t.arm()
	})
}

// adjust sets the limit from the live heap of the last collection.
func (t *Tuner) adjust() {
	metrics.Read(t.sample)
	if t.sample[0].Value.Kind() != metrics.KindUint64 {
		return
	}
	live := t.sample[0].Value.Uint64()
	limit := t.floor
	if want := float64(live) * Headroom; want > float64(limit) {
		limit = int64(min(want, math.MaxInt64/2))
	}
	debug.SetMemoryLimit(limit)
}

// Limit returns the soft memory limit in force.
func Limit() int64 { return debug.SetMemoryLimit(-1) }
