package netexec

// NetworkTools are programs whose purpose is network access.
var NetworkTools = []string{
	// transfer clients
	"curl", "wget", "aria2c", "axel", "http", "https", "httpie", "xh", "lftp", "ftp", "tftp", "ncftp",
	"bitsadmin",
	// raw connections and remote shells
	"nc", "ncat", "netcat", "socat", "telnet", "ssh", "scp", "sftp", "rsync", "mosh", "sshpass",
	"autossh", "smbclient",
	// diagnostics that send packets or query DNS
	"ping", "ping6", "traceroute", "tracert", "tracepath", "mtr", "dig", "nslookup", "host",
	"whois", "nmap", "drill",
	// cloud, cluster and hosting CLIs
	"aws", "gcloud", "gsutil", "bq", "az", "kubectl", "helm", "oc", "doctl", "s3cmd", "rclone",
	"gh", "ngrok", "tailscale", "openvpn", "wg", "flyctl", "heroku", "terraform", "vault", "consul",
	// browsers and URL openers that always mean a web page
	"sensible-browser", "x-www-browser", "www-browser", "firefox", "chromium", "chromium-browser",
	"google-chrome", "chrome", "msedge", "lynx", "w3m", "links", "elinks",
}

// Subcommands lists mostly-local programs and their subcommands that reach
// the network.
var Subcommands = map[string][]string{
	"git": {"clone", "fetch", "pull", "push", "ls-remote", "submodule update", "submodule add",
		"remote update", "remote show", "remote prune", "remote set-head", "lfs", "archive --remote"},
	// "go run pkg@version" is matched in code (run is local otherwise)
	"go":      {"get", "install", "mod download", "mod tidy", "mod vendor", "mod graph", "work sync"},
	"docker":  {"pull", "push", "login", "search", "run", "build", "create", "compose", "buildx", "image pull", "plugin install"},
	"podman":  {"pull", "push", "login", "search", "run", "build", "create", "compose", "image pull"},
	"nerdctl": {"pull", "push", "login", "run", "build", "compose"},
	"openssl": {"s_client", "s_server", "s_time", "ocsp"},
	"pip":     {"install", "download"},
	"pip3":    {"install", "download"},
	"uv":      {"pip", "add", "sync", "tool"},
	"npm":     {"install", "i", "ci", "add", "publish", "update"},
	"npx":     {},
	"pnpm":    {"install", "i", "add", "publish", "update"},
	"yarn":    {"install", "add", "publish", "upgrade"},
	"cargo":   {"install", "fetch", "publish", "update"},
	"gem":     {"install", "fetch", "update"},
	"apt":     {"install", "update", "upgrade", "download"},
	"apt-get": {"install", "update", "upgrade", "download"},
	"yum":     {"install", "update", "upgrade"},
	"dnf":     {"install", "update", "upgrade", "download"},
	"apk":     {"add", "update", "upgrade", "fetch"},
	"brew":    {"install", "update", "upgrade", "fetch"},
	"choco":   {"install", "upgrade"},
	"winget":  {"install", "upgrade"},
}

// Wrappers are shells and programs that run another program named in their
// arguments; their constant arguments are searched for network tools.
var Wrappers = []string{
	"sh", "bash", "zsh", "dash", "ksh", "ash", "fish", "csh", "tcsh", "cmd", "powershell", "pwsh",
	"busybox", "env", "sudo", "doas", "nice", "nohup", "timeout", "stdbuf", "xargs", "time",
	"setsid", "ionice", "chroot", "unshare", "nsenter", "firejail", "watch", "exec", "command",
	"start", "mksh", "strace", "ltrace", "flock", "taskset", "chrt", "runuser", "su", "script",
}

// Shells are the Wrappers that take a script: POSIX-style with -c, cmd
// with /c or /k, PowerShell with -Command or -EncodedCommand.
var Shells = []string{"sh", "bash", "zsh", "dash", "ksh", "ash", "fish", "csh", "tcsh", "mksh", "cmd", "powershell", "pwsh"}

// Openers open what they are given, a web page when it is a URL: reported
// when an argument has a network URL scheme.
var Openers = []string{"xdg-open", "open", "gio", "gnome-open", "kde-open", "explorer", "start", "rundll32", "cygstart", "wslview"}

// Interpreters run code given on their command line (python3 -c, perl -e,
// node -e, ...); the code is searched for network modules, URLs and network
// programs. The value lists the flags that take the code.
var Interpreters = map[string][]string{
	"python": {"-c"}, "python2": {"-c"}, "python3": {"-c"}, "py": {"-c"}, "pypy": {"-c"}, "pypy3": {"-c"},
	"perl": {"-e", "-E"}, "ruby": {"-e"}, "node": {"-e", "--eval", "-p", "--print"}, "nodejs": {"-e", "--eval", "-p", "--print"},
	"bun": {"-e", "--eval", "-p", "--print"}, "deno": {"eval"}, "php": {"-r"}, "lua": {"-e"}, "rscript": {"-e"},
	"osascript": {"-e"}, "awk": {}, "gawk": {}, // awk: the program is the first operand
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
