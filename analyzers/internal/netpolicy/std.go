package netpolicy

import (
	"go/build"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
)

var (
	gorootOnce sync.Once
	goroot     string
	stdCache   sync.Map // import path -> bool
)

func findGOROOT() string {
	if gr := os.Getenv("GOROOT"); gr != "" {
		return gr
	}
	// The GOROOT netlint was built with (empty for -trimpath builds).
	if gr := build.Default.GOROOT; gr != "" {
		if st, err := os.Stat(filepath.Join(gr, "src", "net")); err == nil && st.IsDir() {
			return gr
		}
	}
	if out, err := exec.Command("go", "env", "GOROOT").Output(); err == nil {
		if gr := strings.TrimSpace(string(out)); gr != "" {
			return gr
		}
	}
	return ""
}

// IsStd reports whether path is a package of the standard library: its first
// element has no dot and GOROOT/src holds it. (Import paths without a dot
// that are not in GOROOT, such as "testmod/a", are not standard.)
func IsStd(path string) bool {
	first, _, _ := strings.Cut(path, "/")
	if strings.Contains(first, ".") || path == "" {
		return false
	}
	if path == "C" || path == "unsafe" {
		return true
	}
	if v, ok := stdCache.Load(path); ok {
		return v.(bool)
	}
	gorootOnce.Do(func() { goroot = findGOROOT() })
	std := false
	if goroot != "" {
		st, err := os.Stat(filepath.Join(goroot, "src", filepath.FromSlash(path)))
		std = err == nil && st.IsDir()
	}
	stdCache.Store(path, std)
	return std
}
