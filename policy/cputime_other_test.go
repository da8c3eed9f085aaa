//go:build !unix

package policy

import "time"

// processCPU is unknown here; benchmarks then report 0 cpu-ms/op.
func processCPU() time.Duration { return 0 }
