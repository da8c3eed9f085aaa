package runner

import (
	"crypto/sha256"
	"encoding/binary"
	"math"
	"strconv"
	"time"

	"github.com/guardrun/guardrun/pipeline"
)

// Backoff returns the delay before attempt n (n >= 2) of a stage:
//
//	d = min(maxDelay, base * multiplier^(n-2))
//	d = d * (1 + jitter*(2u-1)), u in [0,1) derived from SHA-256(runID, stage, n)
//	d = min(d, maxDelay)
//
// The jitter is deterministic for a run id, stage and attempt, so the same
// run retried from a checkpoint waits the same way and tests can assert exact
// delays.
func Backoff(r pipeline.Retry, runID, stage string, n int) time.Duration {
	if n < 2 {
		return 0
	}
	d := float64(r.BaseDelayMs) * math.Pow(r.Multiplier, float64(n-2))
	maxD := float64(r.MaxDelayMs)
	if d > maxD {
		d = maxD
	}
	if r.Jitter > 0 {
		u := jitterUnit(runID, stage, n)
		d *= 1 + r.Jitter*(2*u-1)
	}
	if d > maxD {
		d = maxD
	}
	if d < 0 {
		d = 0
	}
	return time.Duration(math.Round(d)) * time.Millisecond
}

func jitterUnit(runID, stage string, n int) float64 {
	h := sha256.Sum256([]byte(runID + "\x00" + stage + "\x00" + strconv.Itoa(n)))
	return float64(binary.BigEndian.Uint64(h[:8])>>11) / float64(1<<53)
}
