// Package execwarn runs programs netlint cannot resolve; with
// "unresolved": "warn" they are reported in the "warning" category, and the
// network tool stays a finding.
package execwarn

import (
	"os"
	"os/exec"
)

func Run() { // want Run:`runs network tool "curl": execwarn.Run -> exec.Command`
	_ = exec.Command(os.Getenv("TOOL"))               // want `unresolved command: runs a program netlint cannot resolve`
	_ = exec.Command("sh", "-c", os.Getenv("SCRIPT")) // want `unresolved command: sh runs a script netlint cannot resolve`
	_ = exec.Command("curl", os.Getenv("URL"))        // want `runs network tool "curl"`
}
