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
}

// Subcommands lists mostly-local programs and their subcommands that reach
// the network.
var Subcommands = map[string][]string{
	"git":     {"clone", "fetch", "pull", "push", "ls-remote", "submodule", "remote"},
	"go":      {"get", "install", "mod download"},
	"docker":  {"pull", "push", "login", "search"},
	"podman":  {"pull", "push", "login", "search"},
	"nerdctl": {"pull", "push", "login"},
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
	"start",
}

// PowerShellNetwork are PowerShell commands and .NET types that reach the
// network, searched for (case-insensitively) in the words of a script.
var PowerShellNetwork = []string{
	"invoke-webrequest", "iwr", "invoke-restmethod", "irm", "start-bitstransfer",
	"net.webclient", "system.net.webclient", "system.net.http.httpclient", "test-netconnection",
	"new-pssession", "enter-pssession", "invoke-command",
}
