//go:build windows

package atomicfile

// Windows cannot fsync a directory handle opened by os.Open; NTFS journals
// the rename itself.
func ignorableSyncErr(error) bool { return true }
