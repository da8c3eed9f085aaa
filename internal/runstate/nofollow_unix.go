//go:build unix

package runstate

import "syscall"

// noFollow makes an open fail on a symlink in the last component.
const noFollow = syscall.O_NOFOLLOW
