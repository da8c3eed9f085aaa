//go:build unix && !linux

package sandbox

import "errors"

func closeRangeCloexec() error { return errors.ErrUnsupported }
