//go:build unix && !linux

package safefs

import "errors"

var errNoOpenat2 = errors.New("openat2 unavailable")

func openat2(int, string, int, uint32) (int, error) { return -1, errNoOpenat2 }

func noOpenatAvailable() bool { return true }
func restoreOpenat(bool)      {}
