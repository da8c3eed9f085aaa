// Package helper runs programs for its callers: what it runs is decided by
// the arguments of each call, in another package (facts).
package helper

import (
	"os/exec"
	"syscall"
)

// Run runs name with args.
func Run(name string, args ...string) error { // want Run:`starts <param 0> <param 1>`
	return exec.Command(name, args...).Run()
}

// Shell runs a shell script.
func Shell(script string) error { // want Shell:`starts sh -c <param 0>`
	return exec.Command("sh", "-c", script).Run()
}

// Git runs git in dir.
func Git(dir string, args ...string) *exec.Cmd { // want Git:`starts git -C <param 0> <param 1>`
	return exec.Command("git", append([]string{"-C", dir}, args...)...)
}

// Prog builds the program's path.
func Prog(dir, name string) error { // want Prog:`starts <param 0>/<param 1>`
	return exec.Command(dir + "/" + name).Run()
}

// Exec replaces the process.
func Exec(argv []string) error { // want Exec:`starts <param 0>`
	return syscall.Exec(argv[0], argv, nil)
}

// Fetch runs curl itself: callers in other packages are told.
func Fetch(url string) error { // want Fetch:`runs network tool "curl": helper.Fetch -> exec.Command`
	return exec.Command("curl", "-fsSL", url).Run() // want `runs network tool "curl"`
}

// Runner runs programs through a method.
type Runner struct{ Dir string }

// Start runs name in r.Dir.
func (r Runner) Start(name string) *exec.Cmd { // want Start:`starts <param 1>`
	c := exec.Command(name)
	c.Dir = r.Dir
	return c
}
