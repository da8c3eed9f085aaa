//go:build !unix

package engine

import "time"

// processCPU is unknown here; benchmarks then report 0 cpu-ms/op.
func processCPU() time.Duration { return 0 }
