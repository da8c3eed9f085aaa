// Package execclean runs only local programs.
package execclean

import (
	"os/exec"
	"strings"
)

func Clean(name string) {
	_ = exec.Command("sort", "-u", "in.txt")
	_ = exec.Command("tr", "a-z", "A-Z")
	_ = exec.Command(name) // not a constant: cannot be judged
	_ = exec.Command(strings.ToLower("CURL"))
	_ = exec.Command("./tools/curl-report") // a different program
	_ = exec.Command("git", "rev-parse", "HEAD")
}
