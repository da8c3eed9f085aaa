//go:build !unix

package sdk

import "time"

func cpuTime() time.Duration { return 0 }
