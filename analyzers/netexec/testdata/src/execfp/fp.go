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
	// issue 13, item 4: what only asks, lists or builds locally
	_ = exec.Command("sh", "-c", `echo "$HOST"`)
	_ = exec.Command("sh", "-c", "git remote -v")
	_ = exec.Command("sh", "-c", "[ -x /usr/bin/curl ] && echo yes")
	_ = exec.Command("sh", "-c", "command -v curl >/dev/null || echo 'install curl'")
	_ = exec.Command("sh", "-c", "which wget; type -p ssh; hash nc 2>/dev/null")
	_ = exec.Command("sh", "-c", "man ssh")
	_ = exec.Command("sh", "-c", "echo 'bash can open /dev/tcp/host/port' > NOTES")
	_ = exec.Command("sh", "-c", "grep -r 'docker run' docs")
	_ = exec.Command("go", "install", "./cmd/tool")
	_ = exec.Command("go", "install", ".")
	_ = exec.Command("go", "list", "-m", "all")
	_ = exec.Command("go", "list", "-deps", "./...")
	_ = exec.Command("go", "mod", "verify")
	_ = exec.Command("go", "mod", "edit", "-require=example.com/x@v1.0.0")
	_ = exec.Command("docker", "inspect", "x")
	_ = exec.Command("podman", "ps", "-a")
	_ = exec.Command("podman", "cp", "-r", "a", "b")
	_ = exec.Command("openssl", "req", "-new", "-key", "k.pem")
	_ = exec.Command("openssl", "rand", "-hex", "16")
	_ = exec.Command("xdg-open", "file:///tmp/report.html")
	_ = exec.Command("open", ".")
	_ = exec.Command("python3", "-c", "import ipaddress; print(ipaddress.ip_address('10.0.0.1'))")
	_ = exec.Command("python3", "-m", "json.tool", "in.json")
	_ = exec.Command("python3", "-m", "venv", ".venv")
	_ = exec.Command("perl", "-pe", "s/a/b/")
	_ = exec.Command("perl", "-MPOSIX", "-e", "print strftime('%F', localtime)")
	_ = exec.Command("ruby", "-rjson", "-e", "puts JSON.generate({})")
	_ = exec.Command("node", "-r", "./setup.js", "-e", "console.log(require('path').join('a', 'b'))")
	_ = exec.Command("ssh-keygen", "-t", "ed25519", "-f", "key")
	_ = exec.Command("awk", "{print $1}", "in.txt")
}
