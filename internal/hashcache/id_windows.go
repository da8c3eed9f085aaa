//go:build windows

package hashcache

import (
	"os"
	"syscall"
)

// Windows file info carries no inode or ctime through os.Stat; creation time
// stands in for ctime so a replaced file is still noticed.
func idOf(fi os.FileInfo) FileID {
	id := FileID{Size: fi.Size(), MtimeNs: fi.ModTime().UnixNano()}
	if d, ok := fi.Sys().(*syscall.Win32FileAttributeData); ok {
		id.CtimeNs = d.CreationTime.Nanoseconds()
	}
	return id
}
