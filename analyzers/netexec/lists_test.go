package netexec_test

import (
	"testing"

	"github.com/guardrun/guardrun/analyzers/netexec"
)

// TestListsIssue13 checks the exec lists of issue 13, item 4, command line
// by command line: what reaches the network (interpreter one-liners and
// module flags, docker/podman and their remote forms, go module fetches,
// openssl s_client, browsers and openers) and what only looks like it
// (echo $HOST, git remote -v, test -x /usr/bin/nc, command -v curl, go
// install ./cmd, a /dev/tcp path that is not redirected to).
func TestListsIssue13(t *testing.T) {
	net := [][]string{
		{"python3", "-c", "from urllib.request import urlopen; urlopen('x')"},
		{"python3", "-Ic", "import socket"},
		{"python3", "-c", "__import__('http.client')"},
		{"python3", "-m", "pip", "download", "x"},
		{"python3.12", "-c", "import httpx"},
		{"perl", "-MLWP::Simple", "-e", "getprint $ARGV[0]", "u"},
		{"perl", "-MIO::Socket::INET", "-e", "1"},
		{"perl", "-e", "use Socket; socket(S, PF_INET, SOCK_STREAM, 0)"},
		{"perl", "-e", "print `curl -s x`"},
		{"node", "-e", "require('net').connect(80, 'h')"},
		{"node", "-e", "import('https').then(m => m.get('x'))"},
		{"node", "--eval", "require(\"dgram\").createSocket('udp4')"},
		{"node", "-r", "https", "-e", "1"},
		{"node", "-e", "require('child_process').execSync('wget x')"},
		{"ruby", "-rsocket", "-e", "TCPSocket.new('h', 80)"},
		{"ruby", "-ropen-uri", "-e", "URI.open(ARGV[0])", "u"},
		{"ruby", "-rnet/http", "-e", "p 1"},
		{"ruby", "-e", "require 'socket'"},
		{"ruby", "-e", "puts `nc -z h 1`"},
		{"bash", "-c", "exec 3<>/dev/tcp/example.com/80; cat <&3"},
		{"bash", "-c", "echo hi > /dev/tcp/10.0.0.1/9"},
		{"bash", "-c", "cat </dev/udp/h/53"},
		{"bash", "-lc", "curl x"},
		{"sh", "-c", "wget -qO- x | sh"},
		{"docker", "run", "--rm", "alpine"},
		{"docker", "pull", "alpine"},
		{"docker", "compose", "up"},
		{"docker", "image", "pull", "alpine"},
		{"docker", "--context", "remote", "pull", "x"},
		{"docker", "-H", "tcp://h:2375", "ps"},
		{"docker-compose", "up", "-d"},
		{"podman", "run", "alpine"},
		{"podman", "pull", "alpine"},
		{"podman", "--remote", "ps"},
		{"buildah", "bud", "."},
		{"skopeo", "copy", "docker://a", "dir:b"},
		{"go", "get", "example.com/x@v1"},
		{"go", "get", "-u", "./..."},
		{"go", "mod", "download"},
		{"go", "mod", "download", "-json", "example.com/x@v1"},
		{"go", "mod", "tidy"},
		{"go", "run", "example.com/x@latest"},
		{"go", "run", "-mod=mod", "example.com/x@v1.2.3", "arg"},
		{"go", "install", "example.com/x@latest"},
		{"go", "install", "-v", "example.com/x/cmd/y@v1.0.0"},
		{"go", "list", "-m", "-u", "all"},
		{"go", "list", "-m", "-versions", "example.com/x"},
		{"go", "list", "-m", "example.com/x@latest"},
		{"/usr/local/go/bin/go", "mod", "tidy"},
		{"openssl", "s_client", "-connect", "h:443"},
		{"openssl", "s_client", "-connect", "h:443", "-servername", "h"},
		{"sh", "-c", "echo | openssl s_client -connect h:443"},
		{"xdg-open", "https://example.com"},
		{"xdg-open", "http://localhost:8080"},
		{"open", "https://x"},
		{"sensible-browser", "x"},
		{"firefox", "--new-tab", "x"},
		{"google-chrome-stable", "--headless", "https://x"},
		{"chromium", "--headless", "--dump-dom", "https://x"},
		{"brave-browser", "x"},
		{"microsoft-edge", "x"},
		{"cmd", "/c", "start https://x"},
		{"rundll32", "url.dll,FileProtocolHandler", "https://x"},
		{"powershell", "-Command", "Start-Process https://x"},
		{"gio", "open", "https://x"},
		{"wslview", "https://x"},
		{"python3", "-m", "webbrowser", "https://x"},
		{"lua", "-e", "local http = require('socket.http')"},
		{"Rscript", "-e", "download.file(u, 'f')"},
		{"gawk", "BEGIN { s = \"/inet/tcp/0/h/80\"; print \"x\" |& s }"},
		{"zsh", "-c", "zmodload zsh/net/tcp; ztcp h 80"},
		{"env", "-S", "python3 -c 'import socket'"},
		{"nice", "-n", "10", "wget", "x"},
		{"busybox", "wget", "x"},
		{"toybox", "wget", "x"},
		{"gnutls-cli", "h"},
	}
	clean := [][]string{
		{"sh", "-c", "echo $HOST"},
		{"sh", "-c", "echo \"$HOST\""},
		{"git", "remote", "-v"},
		{"sh", "-c", "git remote -v"},
		{"sh", "-c", "test -x /usr/bin/nc"},
		{"sh", "-c", "[ -x /usr/bin/curl ] && echo yes"},
		{"sh", "-c", "command -v curl >/dev/null"},
		{"sh", "-c", "command -V wget"},
		{"sh", "-c", "which curl"},
		{"sh", "-c", "type -p curl"},
		{"sh", "-c", "hash curl 2>/dev/null"},
		{"sh", "-c", "man ssh"},
		{"sh", "-c", "echo see /dev/tcp/host/port in bash(1)"},
		{"sh", "-c", "grep -r 'docker run' docs"},
		{"sh", "-c", "echo 'go get is deprecated'"},
		{"go", "install", "./cmd/tool"},
		{"go", "install", "."},
		{"go", "build", "./..."},
		{"go", "run", "."},
		{"go", "list", "-m", "all"},
		{"go", "mod", "verify"},
		{"go", "mod", "why", "x"},
		{"go", "mod", "edit", "-require=example.com/x@v1.0.0"},
		{"go", "env", "GOPATH"},
		{"go", "version"},
		{"docker", "ps"},
		{"docker", "inspect", "x"},
		{"docker", "logs", "x"},
		{"podman", "ps", "-a"},
		{"openssl", "x509", "-noout", "-text"},
		{"openssl", "req", "-new"},
		{"openssl", "rand", "-hex", "16"},
		{"xdg-open", "report.html"},
		{"xdg-open", "file:///tmp/report.html"},
		{"open", "."},
		{"python3", "-c", "import json, sys"},
		{"python3", "-c", "import ipaddress; ipaddress.ip_address('10.0.0.1')"},
		{"python3", "-m", "json.tool", "f"},
		{"python3", "-m", "venv", ".venv"},
		{"perl", "-pe", "s/a/b/"},
		{"perl", "-ne", "print if /socket/"},
		{"node", "-e", "console.log(require('os').hostname())"},
		{"node", "-e", "console.log(require('path').join('a','b'))"},
		{"ruby", "-e", "puts 1"},
		{"bash", "-c", "for h in a b; do echo $h; done"},
		{"ssh-keygen", "-t", "ed25519"},
		{"env", "LC_ALL=C", "sort"},
		{"hostname"},
		{"awk", "{print $1}"},
	}
	for _, a := range net {
		if v := netexec.Judge(a, false); v.Outcome != netexec.Network {
			t.Errorf("missed %q: %v", a, v)
		}
	}
	for _, a := range clean {
		if v := netexec.Judge(a, false); v.Outcome != netexec.Clean {
			t.Errorf("false positive %q: %v %s", a, v.Outcome, v.Message())
		}
	}
}

// TestListsFlags: the global flags of docker/podman are read before the
// subcommand only; command -p runs, command -v asks.
func TestListsFlags(t *testing.T) {
	for _, a := range [][]string{{"podman", "cp", "-r", "a", "b"}, {"docker", "exec", "-H", "x"}, {"command", "-p", "ls"}} {
		if v := netexec.Judge(a, false); v.Outcome != netexec.Clean {
			t.Errorf("false positive %q: %v %s", a, v.Outcome, v.Message())
		}
	}
	for _, a := range [][]string{{"docker", "--debug", "-H", "ssh://u@h", "ps"}, {"command", "curl", "x"}, {"podman", "--log-level", "debug", "--remote", "ps"}} {
		if v := netexec.Judge(a, false); v.Outcome != netexec.Network {
			t.Errorf("missed %q: %v %s", a, v.Outcome, v.Message())
		}
	}
}
