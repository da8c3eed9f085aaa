// Package execunresolved runs programs netlint cannot resolve; with
// "unresolved": "ignore" only the network tool is reported.
package execunresolved

import (
	"os"
	"os/exec"
)

func Run() { // want Run:`runs network tool "curl": execunresolved.Run -> exec.Command`
	_ = exec.Command(os.Getenv("TOOL"))
	_ = exec.Command("sh", "-c", os.Getenv("SCRIPT"))
	_ = exec.Command("curl", os.Getenv("URL")) // want `runs network tool "curl"`
}
