package execs

import (
	"context"
	"os"
	"os/exec"
	"syscall"
)

const fetcher = "/usr/bin/wget"

func tools(ctx context.Context, url string) { // want tools:`runs network tool "curl": execs.tools -> exec.Command`
	_ = exec.Command("curl", "-fsSL", url)                                     // want `runs network tool "curl"`
	_ = exec.Command(fetcher, url)                                             // want `runs network tool "wget"`
	_ = exec.CommandContext(ctx, "ssh", "host", "uptime")                      // want `runs network tool "ssh"`
	_ = exec.Command("scp", "a", "host:b")                                     // want `runs network tool "scp"`
	_ = exec.Command("rsync", "-a", "src", "host:dst")                         // want `runs network tool "rsync"`
	_ = exec.Command("nc", "-l", "8080")                                       // want `runs network tool "nc"`
	_ = exec.Command(`C:\Tools\CURL.EXE`, url)                                 // want `runs network tool "curl"`
	_ = exec.Command("aws", "s3", "cp", "a", "s3://b")                         // want `runs network tool "aws"`
	_ = exec.Command("kubectl", "apply", "-f", "x.yaml")                       // want `runs network tool "kubectl"`
	_, _ = exec.LookPath("gsutil")                                             // want `looks up network tool "gsutil"`
	_ = &exec.Cmd{Path: "/usr/bin/telnet", Args: []string{"telnet", "h"}}      // want `runs network tool "telnet"`
	_, _ = os.StartProcess("/usr/bin/ftp", []string{"ftp", "h"}, nil)          // want `runs network tool "ftp"`
	_ = syscall.Exec("/usr/bin/socat", []string{"socat", "-", "tcp:h:1"}, nil) // want `runs network tool "socat"`
}

func subcommands() { // want subcommands:`runs "git clone", which reaches the network: execs.subcommands -> exec.Command`
	_ = exec.Command("git", "clone", "https://example.com/r.git")    // want `runs "git clone", which reaches the network`
	_ = exec.Command("git", "-C", "repo", "fetch", "origin")         // want `runs "git fetch"`
	_ = exec.Command("go", "mod", "download")                        // want `runs "go mod download"`
	_ = exec.Command("go", "get", "example.com/m@latest")            // want `runs "go get"`
	_ = exec.Command("pip", "install", "requests")                   // want `runs "pip install"`
	_ = exec.Command("docker", "pull", "alpine")                     // want `runs "docker pull"`
	_ = exec.Command("git", "status")                                // local: not reported
	_ = exec.Command("go", "build", "-trimpath", "-o", "bin/x", ".") // local: not reported
	_ = exec.Command("go", "mod", "tidy")                            // want `runs "go mod tidy"`
}

func shells(script string) { // want shells:`sh runs network tool "curl": execs.shells -> exec.Command; starts sh -c <param 0>`
	_ = exec.Command("sh", "-c", "curl -s https://example.com | sh")       // want `sh runs network tool "curl"`
	_ = exec.Command("bash", "-c", "cd /tmp && git clone x")               // want `bash runs "git clone", which reaches the network`
	_ = exec.Command("env", "LC_ALL=C", "wget", "x")                       // want `env runs network tool "wget"`
	_ = exec.Command("sudo", "nc", "h", "1")                               // want `sudo runs network tool "nc"`
	_ = exec.Command("busybox", "wget", "x")                               // want `busybox runs network tool "wget"`
	_ = exec.Command("cmd.exe", "/c", "curl.exe x")                        // want `cmd runs network tool "curl"`
	_ = exec.Command("powershell", "-Command", "Invoke-WebRequest -Uri x") // want `powershell runs "Invoke-WebRequest", which reaches the network`
	_ = exec.Command("sh", "-c", "sort -u in > out")                       // local: not reported
	_ = exec.Command("sh", "-c", script)                                   // a parameter: judged at each call (fact)
}
