package main

import (
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// helpCommands and helpFlags read the real binary's help: the commands
// `guardrun help` lists and the flags `guardrun help COMMAND` prints.
func helpCommands(t *testing.T, dir string) []string {
	r := guardrun(t, dir, "help")
	require.Equal(t, 0, r.code, r.stderr)
	var cmds []string
	for _, m := range regexp.MustCompile(`(?m)^  ([a-z]+) `).FindAllStringSubmatch(r.stdout, -1) {
		cmds = append(cmds, m[1])
	}
	return cmds
}

func helpFlags(t *testing.T, dir, cmd string) []string {
	r := guardrun(t, dir, "help", cmd)
	require.Equal(t, 0, r.code, r.stderr)
	var flags []string
	for _, m := range regexp.MustCompile(`(?m)^  -([a-z][a-z0-9-]*)`).FindAllStringSubmatch(r.stdout, -1) {
		flags = append(flags, m[1])
	}
	return flags
}

// TestCompletionCoversEveryCommandAndFlag: the bash, zsh and fish scripts
// name every command `guardrun help` lists and every flag `guardrun help
// COMMAND` prints, and `COMMAND --help` prints the same flags.
func TestCompletionCoversEveryCommandAndFlag(t *testing.T) {
	dir := t.TempDir()
	cmds := helpCommands(t, dir)
	require.Contains(t, cmds, "clean")
	require.Contains(t, cmds, "completion")
	flags := map[string][]string{}
	for _, c := range cmds {
		flags[c] = helpFlags(t, dir, c)
		r := guardrun(t, dir, c, "--help")
		require.Equal(t, 0, r.code, "%s --help: %s", c, r.stderr)
		for _, f := range flags[c] {
			assert.Contains(t, r.stdout, "  -"+f, "%s --help lists -%s", c, f)
		}
	}
	require.Contains(t, flags["run"], "pipeline")
	require.Contains(t, flags["clean"], "dry-run")
	for _, shell := range []string{"bash", "zsh", "fish"} {
		r := guardrun(t, dir, "completion", shell)
		require.Equal(t, 0, r.code, r.stderr)
		for _, c := range cmds {
			assert.Regexp(t, `(?m)(^|[\s'"(])`+c+`([\s:)'"]|$)`, r.stdout, "%s: command %s", shell, c)
			for _, f := range flags[c] {
				want := "--" + f
				if shell == "fish" {
					want = "-l " + f
					if len(f) == 1 {
						want = "-s " + f
					}
					want = "__fish_seen_subcommand_from " + c + "' " + want
				}
				assert.Contains(t, r.stdout, want, "%s: %s's flag %s", shell, c, f)
			}
		}
	}
	r := guardrun(t, dir, "completion", "tcsh")
	assert.Equal(t, 2, r.code)
	assert.Contains(t, r.stderr, `unknown shell "tcsh"`)
}

// TestBashCompletionCompletes sources the bash script in a real bash and
// completes commands, flags and a flag's file argument.
func TestBashCompletionCompletes(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("bash is not installed")
	}
	dir := t.TempDir()
	script := guardrun(t, dir, "completion", "bash").stdout
	complete := func(words ...string) string {
		t.Helper()
		var quoted []string
		for _, w := range words {
			quoted = append(quoted, "'"+w+"'")
		}
		sh := script + "\nCOMP_WORDS=(" + strings.Join(quoted, " ") + "); COMP_CWORD=" + strconv.Itoa(len(words)-1) + "; _guardrun; printf '%s\\n' \"${COMPREPLY[@]}\"\n"
		cmd := exec.Command("bash", "--norc", "-c", sh)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, string(out))
		return string(out)
	}
	assert.Equal(t, "check\nclean\ncompletion\n", complete("guardrun", "c"))
	assert.Equal(t, "--dry-run\n", complete("guardrun", "clean", "--dry"))
	assert.Contains(t, complete("guardrun", "run", "--pi"), "--pipeline")
	assert.Equal(t, "zsh\n", complete("guardrun", "completion", "z"))
}
