//go:build linux

package sandbox

import (
	"math"

	"golang.org/x/sys/unix"
)

func closeRangeCloexec() error { return unix.CloseRange(3, math.MaxUint32, unix.CLOSE_RANGE_CLOEXEC) }
