//go:build !unix

package runstate

// noFollow: Windows opens have no O_NOFOLLOW; the state dir is checked
// for reparse points before use (safefs).
const noFollow = 0
