// Package execclean runs only local programs.
package execclean

import (
	"os/exec"
	"strings"
)

func Clean(name string) { // want Clean:`starts <param 0>`
	_ = exec.Command("sort", "-u", "in.txt")
	_ = exec.Command("tr", "a-z", "A-Z")
	_ = exec.Command(name) // a parameter: judged where Clean is called (fact)
	_ = exec.Command(strings.ToLower("SORT"))
	_ = exec.Command("./tools/curl-report") // a different program
	_ = exec.Command("git", "rev-parse", "HEAD")
}
