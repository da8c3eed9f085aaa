// Package execfp must stay quiet: programs and shell strings that look like
// networking by spelling only.
package execfp

import (
	"os/exec"
)

const script = `
# nc and curl are only mentioned here
if test -x /usr/bin/nc; then echo "nc is installed"; fi
echo $HOST
echo "fetch the data with: curl -O url" > README
grep -q host /etc/hosts && printf '%s\n' ssh
`

func Quiet(file string) {
	_ = exec.Command("sh", "-c", "echo $HOST")
	_ = exec.Command("sh", "-c", "test -x /usr/bin/nc")
	_ = exec.Command("git", "remote", "-v")
	_ = exec.Command("git", "remote", "get-url", "origin")
	_ = exec.Command("git", "submodule", "status")
	_ = exec.Command("git", "-C", "repo", "status")
	_ = exec.Command("sh", "-c", script)
	_ = exec.Command("bash", "-c", "for h in host1 host2; do echo $h; done")
	_ = exec.Command("bash", "-c", "HOST=localhost make test 2>&1 | tee log")
	_ = exec.Command("go", "build", "-trimpath", "./...")
	_ = exec.Command("go", "run", "./cmd/tool")
	_ = exec.Command("go", "vet", "./...")
	_ = exec.Command("docker", "ps")
	_ = exec.Command("docker", "images")
	_ = exec.Command("python3", "-c", "print('hello, world')")
	_ = exec.Command("python3", "-c", "import json, sys; json.dump({}, sys.stdout)")
	_ = exec.Command("node", "-e", "console.log(process.version)")
	_ = exec.Command("openssl", "x509", "-in", "cert.pem", "-noout", "-text")
	_ = exec.Command("xdg-open", "report.html")
	_ = exec.Command("env", "LC_ALL=C", "sort", "in.txt")
	_ = exec.Command("sort", file)
	_ = exec.Command("cmd", "/c", "dir")
	_ = exec.Command("powershell", "-Command", "Get-ChildItem")
	_ = exec.Command("hostname")
	_ = exec.Command("sh", "-c", "printf 'curl is a tool\n'")
}
