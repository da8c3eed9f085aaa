package execallow

import "os/exec"

func Allowed() { // want Allowed:`runs network tool "curl": execallow.Allowed -> exec.Command`
	//netlint:allow rsync between two local directories only
	_ = exec.Command("rsync", "-a", "/data/in/", "/data/out/")

	_ = exec.Command("ssh", "-V") //netlint:allow prints the version, no connection

	//netlint:allow
	_ = exec.Command("curl", "--version") // want `runs network tool "curl"`
}
