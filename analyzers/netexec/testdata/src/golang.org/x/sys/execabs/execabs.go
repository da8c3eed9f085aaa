// Package execabs is a stub of golang.org/x/sys/execabs.
package execabs

import (
	"context"
	"os/exec"
)

func Command(name string, arg ...string) *exec.Cmd { return exec.Command(name, arg...) } // want Command:`starts <param 0> <param 1>`

func CommandContext(ctx context.Context, name string, arg ...string) *exec.Cmd { // want CommandContext:`starts <param 1> <param 2>`
	return exec.CommandContext(ctx, name, arg...)
}
