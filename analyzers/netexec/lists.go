package netexec

// NetworkTools are programs whose purpose is network access.
var NetworkTools = []string{
	// transfer clients
	"curl", "wget", "aria2c", "axel", "http", "https", "httpie", "xh", "lftp", "ftp", "tftp", "ncftp",
	"bitsadmin",
	// raw connections and remote shells
	"nc", "ncat", "netcat", "socat", "telnet", "ssh", "scp", "sftp", "rsync", "mosh", "sshpass",
	"autossh", "smbclient", "gnutls-cli", "websocat", "wscat", "grpcurl",
	// zsh's network builtins (after zmodload zsh/net/tcp, zsh/zftp)
	"ztcp", "zftp",
	// diagnostics that send packets or query DNS
	"ping", "ping6", "traceroute", "tracert", "tracepath", "mtr", "dig", "nslookup", "host",
	"whois", "nmap", "drill", "iperf", "iperf3", "hping3", "fping", "arping",
	// cloud, cluster and hosting CLIs
	"aws", "gcloud", "gsutil", "bq", "az", "kubectl", "helm", "oc", "doctl", "s3cmd", "rclone",
	"gh", "ngrok", "tailscale", "openvpn", "wg", "flyctl", "heroku", "terraform", "vault", "consul",
	// container registry clients: every command talks to a registry
	"crane", "oras", "regctl",
	// browsers and URL openers that always mean a web page
	"sensible-browser", "x-www-browser", "www-browser", "firefox", "chromium", "chromium-browser",
	"google-chrome", "google-chrome-stable", "google-chrome-beta", "chrome", "chrome-headless-shell",
	"headless_shell", "msedge", "microsoft-edge", "microsoft-edge-stable", "brave", "brave-browser",
	"opera", "vivaldi", "epiphany", "midori", "falkon", "qutebrowser", "iexplore", "safari", "surf",
	"lynx", "w3m", "links", "links2", "elinks",
}

// Subcommands lists mostly-local programs and their subcommands that reach
// the network.
var Subcommands = map[string][]string{
	"git": {"clone", "fetch", "pull", "push", "ls-remote", "submodule update", "submodule add",
		"remote update", "remote show", "remote prune", "remote set-head", "lfs", "archive --remote"},
	// "go run|install pkg@version" and "go list -m -u|-versions|pkg@version"
	// are matched in code (run, install and list are local otherwise)
	"go":             {"get", "mod download", "mod tidy", "mod vendor", "mod graph", "work sync"},
	"docker":         {"pull", "push", "login", "search", "run", "build", "create", "compose", "buildx", "image pull", "image push", "plugin install", "trust inspect", "manifest inspect", "manifest push"},
	"podman":         {"pull", "push", "login", "search", "run", "build", "create", "compose", "image pull", "image push", "manifest push"},
	"podman-remote":  {},
	"docker-compose": {"up", "pull", "push", "build", "run", "create"},
	"podman-compose": {"up", "pull", "push", "build", "run", "create"},
	"nerdctl":        {"pull", "push", "login", "run", "build", "compose"},
	"buildah":        {"pull", "push", "bud", "build", "build-using-dockerfile", "from", "login"},
	"skopeo":         {"copy", "inspect", "sync", "login", "list-tags", "delete"},
	"ctr":            {"pull", "push", "images pull", "image pull", "content fetch", "i pull"},
	"hg":             {"clone", "pull", "push", "incoming", "outgoing", "in", "out"},
	"svn":            {"checkout", "co", "update", "up", "export", "import", "commit", "ci", "switch", "ls", "list", "log", "cat"},
	"openssl":        {"s_client", "s_server", "s_time", "ocsp"},
	"pip":            {"install", "download"},
	"pip3":           {"install", "download"},
	"uv":             {"pip", "add", "sync", "tool"},
	"npm":            {"install", "i", "ci", "add", "publish", "update"},
	"npx":            {},
	"pnpm":           {"install", "i", "add", "publish", "update"},
	"yarn":           {"install", "add", "publish", "upgrade"},
	"cargo":          {"install", "fetch", "publish", "update"},
	"gem":            {"install", "fetch", "update"},
	"apt":            {"install", "update", "upgrade", "download"},
	"apt-get":        {"install", "update", "upgrade", "download"},
	"yum":            {"install", "update", "upgrade"},
	"dnf":            {"install", "update", "upgrade", "download"},
	"apk":            {"add", "update", "upgrade", "fetch"},
	"brew":           {"install", "update", "upgrade", "fetch"},
	"choco":          {"install", "upgrade"},
	"winget":         {"install", "upgrade"},
}

// Wrappers are shells and programs that run another program named in their
// arguments; their constant arguments are searched for network tools.
var Wrappers = []string{
	"sh", "bash", "zsh", "dash", "ksh", "ash", "fish", "csh", "tcsh", "cmd", "powershell", "pwsh",
	"busybox", "toybox", "env", "sudo", "doas", "nice", "nohup", "timeout", "stdbuf", "xargs", "time",
	"setsid", "ionice", "chroot", "unshare", "nsenter", "firejail", "watch", "exec", "command",
	"start", "mksh", "strace", "ltrace", "flock", "taskset", "chrt", "runuser", "su", "script",
}

// Shells are the Wrappers that take a script: POSIX-style with -c, cmd
// with /c or /k, PowerShell with -Command or -EncodedCommand.
var Shells = []string{"sh", "bash", "zsh", "dash", "ksh", "ash", "fish", "csh", "tcsh", "mksh", "cmd", "powershell", "pwsh"}

// Openers open what they are given, a web page when it is a URL: reported
// when an argument has a network URL scheme.
var Openers = []string{"xdg-open", "open", "gio", "gnome-open", "kde-open", "kde-open5", "kioclient", "kioclient5",
	"kfmclient", "exo-open", "explorer", "start", "rundll32", "cygstart", "wslview",
	// PowerShell's: Start-Process https://... opens the browser
	"start-process", "saps", "invoke-item", "ii"}

// Interpreters run code given on their command line (python3 -c, perl -e,
// node -e, ...); the code is searched for network modules, URLs and network
// programs. The value lists the flags that take the code.
var Interpreters = map[string][]string{
	"python": {"-c"}, "python2": {"-c"}, "python3": {"-c"}, "py": {"-c"}, "pypy": {"-c"}, "pypy3": {"-c"},
	"perl": {"-e", "-E"}, "ruby": {"-e"}, "node": {"-e", "--eval", "-p", "--print"}, "nodejs": {"-e", "--eval", "-p", "--print"},
	"bun": {"-e", "--eval", "-p", "--print"}, "deno": {"eval"}, "php": {"-r"}, "lua": {"-e"}, "luajit": {"-e"},
	"rscript": {"-e"}, "r": {"-e"},
	"osascript": {"-e"}, "awk": {}, "gawk": {}, // awk: the program is the first operand
}

// ModuleFlags are the flags of an interpreter that load a module before the
// code runs (perl -MLWP::Simple, ruby -rsocket, node -r https): the module is
// judged like a use of it in the code.
var ModuleFlags = map[string][]string{
	"perl": {"-M", "-m"}, "ruby": {"-r", "--require"},
	"node": {"-r", "--require", "--import"}, "nodejs": {"-r", "--require", "--import"}, "bun": {"-r", "--preload"},
}

// PythonNetModules are run with "python -m" and reach the network (pip only
// with install or download).
var PythonNetModules = []string{"http.server", "SimpleHTTPServer", "smtpd", "aiosmtpd", "webbrowser", "pip", "urllib.request", "ftplib", "telnetlib"}

// PowerShellNetwork are PowerShell commands and .NET types that reach the
// network, searched for (case-insensitively) in the words of a script.
var PowerShellNetwork = []string{
	"invoke-webrequest", "iwr", "invoke-restmethod", "irm", "start-bitstransfer",
	"net.webclient", "system.net.webclient", "system.net.http.httpclient", "test-netconnection",
	"new-pssession", "enter-pssession", "invoke-command",
}
