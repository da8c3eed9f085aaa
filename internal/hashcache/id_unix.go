//go:build !windows

package hashcache

import (
	"os"
	"syscall"
)

func idOf(fi os.FileInfo) FileID {
	id := FileID{Size: fi.Size(), MtimeNs: fi.ModTime().UnixNano()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		id.Dev = uint64(st.Dev) //nolint:unconvert // int32 on darwin
		id.Ino = st.Ino
		id.CtimeNs = ctimeNs(st)
	}
	return id
}
