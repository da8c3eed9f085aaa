package netpolicy

import (
	"fmt"
	"strings"
)

// Match reports whether the import path matches pattern. A pattern ending in
// "/..." matches the path before it and everything below it; any other
// pattern matches only itself. It returns the specificity of the match (the
// length of the fixed part), so that the longest match can win.
func Match(pattern, path string) (int, bool) {
	if base, ok := strings.CutSuffix(pattern, "/..."); ok {
		if path == base || strings.HasPrefix(path, base+"/") {
			return len(base), true
		}
		return 0, false
	}
	if path == pattern {
		// An exact pattern beats a "/..." pattern with the same stem.
		return len(pattern) + 1, true
	}
	return 0, false
}

// ValidPattern checks that pattern is a plausible import path pattern.
func ValidPattern(pattern string) error {
	switch {
	case pattern == "":
		return fmt.Errorf("empty import path pattern")
	case pattern == "..." || pattern == "/...":
		return fmt.Errorf("pattern %q would match every package", pattern)
	case strings.ContainsAny(pattern, " \t\n\"'`*?[]"):
		return fmt.Errorf("pattern %q contains a character not allowed in import paths", pattern)
	case strings.Contains(strings.TrimSuffix(pattern, "/..."), "..."):
		return fmt.Errorf("pattern %q: \"...\" is only allowed as a final \"/...\"", pattern)
	case strings.HasPrefix(pattern, "/") || strings.HasSuffix(pattern, "/"):
		return fmt.Errorf("pattern %q must not start or end with a slash", pattern)
	}
	return nil
}
