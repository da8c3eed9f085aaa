package netexec

import (
	"encoding/base64"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf16"

	"github.com/guardrun/guardrun/analyzers/internal/netpolicy"
	"github.com/guardrun/guardrun/analyzers/internal/values"
)

// Outcome is what judging a command line found.
type Outcome int

// Outcomes of Judge, from harmless to reported.
const (
	Clean      Outcome = iota // runs nothing that reaches the network
	Depends                   // the answer depends on a parameter of the enclosing function
	Unresolved                // the program (or the script it is given) cannot be resolved
	Network                   // reaches the network
)

// UnresolvedSubject is the "exec" subject of an exception that covers
// unresolved programs and scripts.
const UnresolvedSubject = netpolicy.UnresolvedSubject

// Verdict is the outcome of judging one command line.
type Verdict struct {
	Outcome Outcome
	Tool    string // the program (or PowerShell command) that reaches the network; UnresolvedSubject when unresolved
	What    string // "runs network tool \"curl\"", ...
	Via     string // the outermost shell or wrapper, if any
}

// Message is the diagnostic text.
func (v Verdict) Message() string {
	if v.Via != "" {
		return v.Via + " " + v.What
	}
	return v.What
}

const maxNesting = 6

// Judge decides whether running argv (argv[0] is the program) reaches the
// network. Elements may carry the marks of package values (unknown parts,
// parameters). lookOnly is exec.LookPath: only the network tools count.
func Judge(argv []string, lookOnly bool) Verdict {
	return judge(argv, lookOnly, 0)
}

func judge(argv []string, lookOnly bool, depth int) Verdict {
	if len(argv) == 0 || depth > maxNesting {
		return Verdict{}
	}
	prog, args := argv[0], argv[1:]
	if values.HasParam(prog) {
		return Verdict{Outcome: Depends}
	}
	if values.HasUnknown(prog) {
		return unresolved(fmt.Sprintf("runs a program netlint cannot resolve (%q)", values.Show(prog)))
	}
	base := Base(prog)
	if base == "" {
		return Verdict{}
	}
	if contains(NetworkTools, base) {
		verb := "runs"
		if lookOnly {
			verb = "looks up"
		}
		return Verdict{Outcome: Network, Tool: base, What: fmt.Sprintf("%s network tool %q", verb, base)}
	}
	if lookOnly {
		return Verdict{}
	}
	v := Verdict{}
	switch {
	case base == "go" && goRemote(args) != "":
		return network(base, goRemote(args))
	case containerHost(base, args) != "":
		return network(base, containerHost(base, args))
	case base == "command" && commandQuery(args):
		return Verdict{} // command -v curl: is it installed?
	case Subcommands[base] != nil || base == "npx":
		if sub, ok := matchSub(Subcommands[base], args); ok {
			return network(base, strings.TrimSpace(base+" "+sub))
		}
	case contains(Shells, base):
		v = judgeShell(base, args, depth)
	case Interpreters[base] != nil || isPython(base):
		v = judgeInterpreter(base, args, depth)
	case contains(Openers, base):
		for _, a := range args {
			if urlRE.MatchString(a) {
				return Verdict{Outcome: Network, Tool: base, What: fmt.Sprintf("opens the URL %q", values.Show(a))}
			}
		}
	case contains(Wrappers, base):
		v = judgeWrapper(base, args, depth)
	default:
		return Verdict{} // a local program: its arguments do not matter
	}
	if v.Outcome == Network || v.Outcome == Unresolved {
		if v.Outcome == Network || depth == 0 || v.Via == "" {
			v.Via = base
		}
		return v
	}
	for _, a := range args {
		if values.HasParam(a) {
			return Verdict{Outcome: Depends}
		}
	}
	return v
}

func network(tool, cmd string) Verdict {
	return Verdict{Outcome: Network, Tool: tool, What: fmt.Sprintf("runs %q, which reaches the network", cmd)}
}

func unresolved(what string) Verdict {
	return Verdict{Outcome: Unresolved, Tool: UnresolvedSubject, What: what}
}

// worse returns the more serious of two verdicts (the first on a tie).
func worse(a, b Verdict) Verdict {
	if b.Outcome > a.Outcome {
		return b
	}
	return a
}

var pythonRE = regexp.MustCompile(`^python[0-9.]*$`)

func isPython(base string) bool { return pythonRE.MatchString(base) }

var urlRE = regexp.MustCompile(`(?i)\b(https?|ftps?|wss?|sftp|scp|ssh|git|rsync|tftp|telnet)://`)

// goRemote returns what a go command that is local only in its other
// forms fetches: "go run|install example.com/tool@v1.2.3" downloads the
// tool, "go list -m -u|-versions|-retracted" and "go list -m pkg@version"
// ask the module proxy. It returns "" otherwise (go run ./cmd, go install
// ., go list ./... build from what is there).
func goRemote(args []string) string {
	sub := ""
	for _, a := range args {
		if !values.Clean(a) {
			continue
		}
		if strings.HasPrefix(a, "-") {
			if sub == "list" {
				switch strings.SplitN(a, "=", 2)[0] {
				case "-u", "--u", "-versions", "--versions", "-retracted", "--retracted":
					return "go list -m " + strings.SplitN(a, "=", 2)[0]
				}
			}
			continue
		}
		if sub == "" {
			switch a {
			case "run", "install", "list":
				sub = a
				continue
			}
			return ""
		}
		if i := strings.LastIndexByte(a, '@'); i > 0 && i < len(a)-1 {
			if sub == "list" {
				return "go list -m pkg@version"
			}
			return "go " + sub + " pkg@version"
		}
	}
	return ""
}

var remoteDaemonRE = regexp.MustCompile(`(?i)^(tcp|ssh|https?)://`)

// containerHost: docker -H tcp://host, podman --url ssh://host, podman
// --remote drive a container engine on another machine, whatever the
// subcommand.
func containerHost(base string, args []string) string {
	switch base {
	case "docker", "podman", "nerdctl", "docker-compose", "podman-compose", "buildah":
	default:
		return ""
	}
	// global flags only: they come before the subcommand (a word right
	// after a flag may be its value)
	prevFlag := false
	for i, a := range args {
		if !strings.HasPrefix(a, "-") || a == "--" {
			if prevFlag && a != "--" {
				prevFlag = false
				continue
			}
			return ""
		}
		prevFlag = !strings.Contains(a, "=")
		name, val, hasVal := strings.Cut(a, "=")
		switch name {
		case "-H", "--host", "--url", "--connection", "-c":
			if !hasVal && i+1 < len(args) {
				val = args[i+1]
			}
			if remoteDaemonRE.MatchString(val) {
				return base + " " + name + " " + val
			}
		case "--remote", "-r":
			if base == "podman" {
				return base + " " + name
			}
		}
	}
	return ""
}

// commandQuery: "command -v curl" and "command -V curl" say whether (and
// where) a program is installed; they run nothing.
func commandQuery(args []string) bool {
	for _, a := range args {
		if !strings.HasPrefix(a, "-") {
			return false
		}
		if strings.ContainsAny(a[1:], "vV") {
			return true
		}
	}
	return false
}

// matchSub reports whether the first non-flag arguments name one of subs
// (an entry may have several words, such as "mod download"). When the
// first non-flag argument follows a flag it may be that flag's value (git
// -C dir fetch), so the next one is tried too; an argument netlint could
// not resolve right after a flag is taken as its value. An empty subs
// matches anything.
func matchSub(subs []string, args []string) (string, bool) {
	var words []string
	firstAfterFlag, prevFlag := false, false
	for _, a := range args {
		if a == values.UnknownTail || strings.HasPrefix(a, "\x02") {
			break
		}
		if !values.Clean(a) {
			if prevFlag {
				prevFlag = false
				continue // the flag's value
			}
			break
		}
		if strings.HasPrefix(a, "-") || (strings.HasPrefix(a, "/") && len(words) == 0 && len(a) <= 3) {
			if strings.Contains(a, "=") {
				prevFlag = false
			} else {
				// "--remote" of "git archive --remote" is part of a subcommand entry
				if len(words) > 0 {
					words = append(words, a)
				}
				prevFlag = true
			}
			continue
		}
		if len(words) == 0 {
			firstAfterFlag = prevFlag
		}
		prevFlag = false
		if words = append(words, a); len(words) == 4 {
			break
		}
	}
	if len(subs) == 0 {
		return strings.Join(words, " "), true
	}
	try := func(words []string) (string, bool) {
		for _, s := range subs {
			want := strings.Fields(s)
			if len(want) <= len(words) && strings.Join(words[:len(want)], " ") == s {
				return s, true
			}
		}
		return "", false
	}
	if s, ok := try(words); ok {
		return s, true
	}
	if firstAfterFlag && len(words) > 1 {
		return try(words[1:])
	}
	return "", false
}

// judgeWrapper looks through env, sudo, timeout, xargs, busybox and the
// like: the first operand that is a known program (or a shell string) is
// judged with what follows it.
func judgeWrapper(base string, args []string, depth int) Verdict {
	positional := 0
	for i, a := range args {
		switch {
		case a == values.UnknownTail || strings.HasPrefix(a, "\x02"):
			return Verdict{}
		case strings.HasPrefix(a, "-") && values.Clean(a):
			continue
		case assignRE.MatchString(a), durationRE.MatchString(a):
			continue
		}
		if strings.ContainsAny(a, " \t\n;|&") {
			return judgeScript(a, true, depth)
		}
		if values.HasParam(a) {
			return Verdict{Outcome: Depends}
		}
		if values.HasUnknown(a) {
			if positional == 0 {
				return unresolved(fmt.Sprintf("runs a program netlint cannot resolve (%q)", values.Show(a)))
			}
			return Verdict{}
		}
		if known(Base(a)) {
			return judge(args[i:], false, depth+1)
		}
		if positional++; positional > 3 {
			return Verdict{}
		}
	}
	return Verdict{}
}

var (
	assignRE   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*=`)
	durationRE = regexp.MustCompile(`^[0-9][0-9.]*[smhd]?$`)
)

// known reports whether a program is on one of the lists.
func known(base string) bool {
	return contains(NetworkTools, base) || Subcommands[base] != nil || base == "npx" || contains(Wrappers, base) ||
		Interpreters[base] != nil || isPython(base) || contains(Openers, base)
}

// judgeShell finds the script a shell is given (-c, /c, -Command,
// -EncodedCommand) and judges its commands.
func judgeShell(base string, args []string, depth int) Verdict {
	switch base {
	case "cmd":
		for i, a := range args {
			if la := strings.ToLower(a); la == "/c" || la == "/k" || la == "/r" {
				return judgeScript(strings.Join(args[i+1:], " "), false, depth)
			}
		}
		return Verdict{}
	case "powershell", "pwsh":
		for i, a := range args {
			la := strings.ToLower(a)
			switch {
			case la == "-command" || la == "-c" || la == "/command":
				return judgePowerShell(strings.Join(args[i+1:], " "), depth)
			case la == "-encodedcommand" || la == "-enc" || la == "-e" || la == "-ec":
				if i+1 < len(args) {
					return judgePowerShell(decodePS(args[i+1]), depth)
				}
			case la == "-file" || la == "-f":
				return Verdict{}
			case strings.HasPrefix(la, "-"):
				continue
			default:
				return judgePowerShell(strings.Join(args[i:], " "), depth)
			}
		}
		return Verdict{}
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == values.UnknownTail || strings.HasPrefix(a, "\x02"):
			return Verdict{}
		case a == "--" || !strings.HasPrefix(a, "-") && !strings.HasPrefix(a, "+"):
			return Verdict{} // a script file (or stdin): not visible
		case a == "-o" || a == "+o":
			i++
		case !strings.HasPrefix(a, "--") && strings.Contains(a, "c"):
			if i+1 >= len(args) {
				return Verdict{}
			}
			return judgeScript(args[i+1], true, depth)
		}
	}
	return Verdict{}
}

func decodePS(s string) string {
	if !values.Clean(s) {
		return s
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b)%2 != 0 {
		return s
	}
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = uint16(b[2*i]) | uint16(b[2*i+1])<<8
	}
	return string(utf16.Decode(u))
}

// judgePowerShell looks for PowerShell's own network commands, then judges
// the script's commands like a shell's.
func judgePowerShell(script string, depth int) Verdict {
	for _, w := range strings.FieldsFunc(script, func(r rune) bool {
		return strings.ContainsRune(" \t\r\n;|&(){}[]'\"`$=,", r)
	}) {
		lw := strings.ToLower(w)
		if contains(PowerShellNetwork, lw) || strings.Contains(lw, "net.webclient") || strings.Contains(lw, "httpclient") ||
			strings.Contains(lw, "net.sockets") {
			return Verdict{Outcome: Network, Tool: lw, What: fmt.Sprintf("runs %q, which reaches the network", w)}
		}
	}
	return judgeScript(script, false, depth)
}

// devNetRE: bash opens /dev/tcp/host/port and /dev/udp/host/port only in a
// redirection (exec 3<>/dev/tcp/h/80, cat </dev/udp/h/53, >&/dev/tcp/...);
// a path assigned to a variable is taken as meant for one. A mention in an
// argument (echo see /dev/tcp/host/port) opens nothing.
var devNetRE = regexp.MustCompile(`(?:[<>][&|>]?[ \t]*|=)["']?(/dev/(?:tcp|udp)/)`)

// judgeScript judges every simple command of a shell script.
func judgeScript(script string, posix bool, depth int) Verdict {
	if values.HasParam(script) && strings.Trim(script, " \t") == strings.Trim(values.ParamMark(firstParam(script)), " ") {
		return Verdict{Outcome: Depends}
	}
	if m := devNetRE.FindStringSubmatch(script); m != nil {
		return Verdict{Outcome: Network, Tool: m[1][:8], What: fmt.Sprintf("opens a network connection through %s", m[1])}
	}
	if strings.Trim(script, " \t") == values.Unknown {
		return unresolved("runs a script netlint cannot resolve")
	}
	out := Verdict{}
	for _, cmd := range ShellCommands(script, posix) {
		v := judge(cmd, false, depth+1)
		if v.Outcome == Network {
			return v
		}
		out = worse(out, v)
	}
	return out
}

func firstParam(s string) int {
	if p := values.Params(s); len(p) > 0 {
		return p[0]
	}
	return -1
}

// judgeInterpreter looks at the code a python, perl, node, ... is given.
func judgeInterpreter(base string, args []string, depth int) Verdict {
	flags := Interpreters[base]
	if isPython(base) {
		flags = []string{"-c"}
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == values.UnknownTail || strings.HasPrefix(a, "\x02") {
			return Verdict{}
		}
		if (base == "awk" || base == "gawk") && !strings.HasPrefix(a, "-") {
			return judgeCode(base, a, depth)
		}
		if (isPython(base) || base == "py") && a == "-m" && i+1 < len(args) {
			mod := args[i+1]
			if contains(PythonNetModules, mod) {
				if mod == "pip" {
					if sub, ok := matchSub(Subcommands["pip"], args[i+2:]); ok {
						return network(base, base+" -m pip "+sub)
					}
					return Verdict{}
				}
				return network(base, base+" -m "+mod)
			}
			return Verdict{}
		}
		if base == "deno" && a == "run" {
			for _, b := range args[i+1:] {
				if urlRE.MatchString(b) {
					return network(base, "deno run "+b)
				}
			}
		}
		if mod := moduleFlag(base, args, i); mod != "" {
			if v := judgeModule(base, mod); v.Outcome == Network {
				return v
			}
		}
		for _, f := range flags {
			code := ""
			switch {
			case a == f && i+1 < len(args):
				code = args[i+1]
			case strings.HasPrefix(f, "-") && !strings.HasPrefix(f, "--") && strings.HasPrefix(a, "-") &&
				!strings.HasPrefix(a, "--") && strings.HasSuffix(a, f[1:]) && i+1 < len(args): // perl -le
				code = args[i+1]
			case strings.HasPrefix(a, f+"=") && strings.HasPrefix(f, "--"):
				code = strings.TrimPrefix(a, f+"=")
			default:
				continue
			}
			return judgeCode(base, code, depth)
		}
	}
	return Verdict{}
}

// moduleFlag returns the module args[i] loads (perl -MLWP::Simple, ruby
// -rsocket, ruby -r net/http, node --require=https), or "".
func moduleFlag(base string, args []string, i int) string {
	a := args[i]
	for _, f := range ModuleFlags[base] {
		switch {
		case a == f && i+1 < len(args):
			return args[i+1]
		case strings.HasPrefix(f, "--") && strings.HasPrefix(a, f+"="):
			return a[len(f)+1:]
		case !strings.HasPrefix(f, "--") && len(a) > len(f) && strings.HasPrefix(a, f):
			return strings.TrimLeft(a[len(f):], "-") // perl -M-strict
		}
	}
	return ""
}

// judgeModule judges a module loaded by a flag as the statement that loads
// it in the language's code.
func judgeModule(base, mod string) Verdict {
	if !values.Clean(mod) {
		return Verdict{}
	}
	var code string
	switch base {
	case "perl":
		code = "use " + strings.SplitN(mod, "=", 2)[0] + ";"
	case "ruby":
		code = "require '" + mod + "'"
	default:
		code = "require('" + mod + "')"
	}
	v := judgeCode(base, code, maxNesting)
	if v.Outcome == Network {
		v.What = fmt.Sprintf("loads a network module (%s)", mod)
	}
	return v
}

// codeRE are the network modules, classes and calls of interpreted code.
var codeRE = map[string]*regexp.Regexp{
	"python": regexp.MustCompile(`\b(urllib[23]?|http\.client|httplib|socket|socketserver|requests|httpx|aiohttp|ftplib|smtplib|poplib|imaplib|telnetlib|xmlrpc|paramiko|http\.server|webbrowser|pip)\b`),
	"perl":   regexp.MustCompile(`IO::Socket|LWP|HTTP::Tiny|Net::|\bSocket\b|\bsocket\s*\(|WWW::|Mojo::UserAgent`),
	"ruby":   regexp.MustCompile(`net/http|open-uri|\bsocket\b|TCPSocket|UDPSocket|Net::HTTP|URI\.open|httparty|faraday|rest-client`),
	"node":   regexp.MustCompile(`require\(\s*['"](node:)?(https?|net|dgram|tls|http2)['"]|import\(\s*['"](node:)?(https?|net|dgram|tls|http2)['"]|from\s+['"](node:)?(https?|net|dgram|tls|http2)['"]|\bfetch\s*\(|axios|XMLHttpRequest|WebSocket|undici|\b(https?|net|dgram|tls)\.(get|request|connect|createConnection|createServer|createSocket)\b`),
	"php":    regexp.MustCompile(`fsockopen|curl_|stream_socket_client|socket_create|file_get_contents|fopen\s*\(\s*['"][a-z]+://`),
	"lua":    regexp.MustCompile(`require\s*\(?\s*['"](socket|ssl|http|resty\.http|luacurl|cURL|lcurl)\b`),
	"r":      regexp.MustCompile(`download\.file|\burl\s*\(|socketConnection|make\.socket|\bhttr2?\b|RCurl|curl::|install\.packages|readLines\s*\(\s*['"]https?`),
	"awk":    regexp.MustCompile(`/inet[46]?/(tcp|udp)/`),
	"any":    regexp.MustCompile(`(?i)\b(https?|ftps?|wss?)://`),
}

// quotedRE: the strings of interpreted code, and its backquotes (perl,
// ruby and php run them as shell commands).
var quotedRE = regexp.MustCompile("'([^'\\\\]*)'|\"([^\"\\\\]*)\"|`([^`]*)`")

func judgeCode(base, code string, depth int) Verdict {
	if values.HasParam(code) && strings.TrimSpace(code) == values.ParamMark(firstParam(code)) {
		return Verdict{Outcome: Depends}
	}
	if strings.TrimSpace(code) == values.Unknown {
		return unresolved("runs code netlint cannot resolve")
	}
	lang := base
	switch {
	case isPython(base) || base == "py" || base == "pypy" || base == "pypy3":
		lang = "python"
	case base == "nodejs" || base == "bun" || base == "deno":
		lang = "node"
	case base == "gawk":
		lang = "awk"
	case base == "luajit":
		lang = "lua"
	case base == "rscript":
		lang = "r"
	}
	for _, re := range []*regexp.Regexp{codeRE[lang], codeRE["any"]} {
		if re == nil {
			continue
		}
		if m := re.FindString(code); m != "" {
			return Verdict{Outcome: Network, Tool: base, What: fmt.Sprintf("runs code that reaches the network (%s)", m)}
		}
	}
	// Programs named in the code's strings: os.system("curl ..."),
	// subprocess.run(["nc", ...]), `wget ...`.
	for _, m := range quotedRE.FindAllStringSubmatch(code, -1) {
		s := m[1] + m[2] + m[3]
		if v := judgeScript(s, true, depth+1); v.Outcome == Network {
			return v
		}
	}
	return Verdict{}
}
