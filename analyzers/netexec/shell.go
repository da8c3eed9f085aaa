package netexec

import (
	"strings"
)

// ShellCommands splits a shell script into its simple commands (argv
// lists, quotes removed): commands are separated by ; & | && || newlines
// and parentheses, and the commands inside $(...) and `...` count as
// commands of their own. Redirections, leading variable assignments and
// the keywords that introduce a command (if, then, do, !, ...) are dropped;
// for, case and function headers are skipped. posix selects backslash
// escapes (cmd.exe and PowerShell scripts use backslashes in paths).
//
// Only words in command position are programs, so "echo $HOST",
// "git remote -v" and "test -x /usr/bin/nc" run nothing of interest.
func ShellCommands(script string, posix bool) [][]string {
	outer, subs := extractSubst(script)
	var out [][]string
	for _, s := range subs {
		out = append(out, ShellCommands(s, posix)...)
	}
	var (
		cmd      []string
		word     strings.Builder
		inWord   bool
		redirect bool // the next word is a redirection target
	)
	endWord := func() {
		if !inWord {
			return
		}
		w := word.String()
		word.Reset()
		inWord = false
		if redirect {
			redirect = false
			return
		}
		cmd = append(cmd, w)
	}
	endCmd := func() {
		endWord()
		if c := trimCommand(cmd); len(c) > 0 {
			out = append(out, c)
		}
		cmd = nil
	}
	rs := []rune(outer)
	for i := 0; i < len(rs); i++ {
		c := rs[i]
		switch {
		case c == '\'' && posix:
			inWord = true
			for i++; i < len(rs) && rs[i] != '\''; i++ {
				word.WriteRune(rs[i])
			}
		case c == '"':
			inWord = true
			for i++; i < len(rs) && rs[i] != '"'; i++ {
				if rs[i] == '\\' && posix && i+1 < len(rs) && strings.ContainsRune("\"\\$`", rs[i+1]) {
					i++ // inside double quotes a backslash escapes only " \ $ `
				}
				word.WriteRune(rs[i])
			}
		case c == '\\' && posix:
			if i+1 < len(rs) {
				i++
				if rs[i] != '\n' {
					inWord = true
					word.WriteRune(rs[i])
				}
			}
		case c == '#' && !inWord && posix:
			for i < len(rs) && rs[i] != '\n' {
				i++
			}
			endCmd()
		case c == ' ' || c == '\t' || c == '\r':
			endWord()
		case c == '\n' || c == ';' || c == '&' || c == '|' || c == '(' || c == ')' || c == '{' && !inWord || c == '}' && !inWord:
			endCmd()
		case c == '<' || c == '>':
			// "2>&1", ">file", "<<EOF": the target (or fd) is not an argument
			if inWord && isDigits(word.String()) {
				word.Reset()
				inWord = false
			} else {
				endWord()
			}
			for i+1 < len(rs) && (rs[i+1] == '>' || rs[i+1] == '<' || rs[i+1] == '&') {
				i++
			}
			redirect = true
		default:
			inWord = true
			word.WriteRune(c)
		}
	}
	endCmd()
	return out
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// keywords introduce a command; headers start constructs whose words are
// not commands.
var (
	shellKeywords = []string{"if", "then", "else", "elif", "do", "while", "until", "!", "time", "{", "fi", "done", "esac"}
	shellHeaders  = []string{"for", "case", "function", "select", "in"}
)

func trimCommand(cmd []string) []string {
	for len(cmd) > 0 {
		w := cmd[0]
		switch {
		case contains(shellKeywords, w):
			cmd = cmd[1:]
		case contains(shellHeaders, w):
			return nil
		case assignRE.MatchString(w):
			cmd = cmd[1:]
		case strings.HasPrefix(w, "$") && !strings.HasPrefix(w, "$("):
			return nil // a shell variable: decided at run time by the shell
		default:
			return cmd
		}
	}
	return nil
}

// extractSubst returns the script with every $(...) and `...` replaced by a
// placeholder word, and the contents of those substitutions.
func extractSubst(s string) (string, []string) {
	if !strings.Contains(s, "$(") && !strings.Contains(s, "`") {
		return s, nil
	}
	var (
		b    strings.Builder
		subs []string
	)
	for i := 0; i < len(s); i++ {
		switch {
		case strings.HasPrefix(s[i:], "$(("): // arithmetic
			b.WriteString("$((")
			i += 2
		case strings.HasPrefix(s[i:], "$("):
			depth, j := 1, i+2
			for ; j < len(s) && depth > 0; j++ {
				switch s[j] {
				case '(':
					depth++
				case ')':
					depth--
				}
			}
			end := j - 1
			if depth > 0 {
				end = len(s)
			}
			subs = append(subs, s[i+2:end])
			b.WriteString("$SUBST")
			i = j - 1
		case s[i] == '`':
			j := strings.IndexByte(s[i+1:], '`')
			if j < 0 {
				subs = append(subs, s[i+1:])
				i = len(s)
				continue
			}
			subs = append(subs, s[i+1:i+1+j])
			b.WriteString("$SUBST")
			i += j + 1
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String(), subs
}
