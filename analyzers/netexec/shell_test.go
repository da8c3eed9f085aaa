package netexec_test

import (
	"testing"

	"github.com/guardrun/guardrun/analyzers/netexec"
	"github.com/stretchr/testify/assert"
)

func TestShellCommands(t *testing.T) {
	for script, want := range map[string][][]string{
		"echo $HOST":                         {{"echo", "$HOST"}},
		"test -x /usr/bin/nc && echo ok":     {{"test", "-x", "/usr/bin/nc"}, {"echo", "ok"}},
		"A=1 curl -s 'https://x' | sh":       {{"curl", "-s", "https://x"}, {"sh"}},
		"if true; then wget x; fi":           {{"true"}, {"wget", "x"}},
		"for h in a b; do ssh $h; done":      {{"ssh", "$h"}},
		"echo $(nc -z h 1) 2>&1 > /dev/null": {{"nc", "-z", "h", "1"}, {"echo", "$SUBST"}},
		"# curl\nls # wget":                  {{"ls"}},
		`printf "curl is \"here\"\n" >> log`: {{"printf", `curl is "here"\n`}},
	} {
		assert.Equal(t, want, netexec.ShellCommands(script, true), script)
	}
	assert.Equal(t, [][]string{{`C:\Tools\curl.exe`, "x"}, {"dir"}}, netexec.ShellCommands(`C:\Tools\curl.exe x & dir`, false))
}

func TestJudgeOutcomes(t *testing.T) {
	for _, tc := range []struct {
		argv []string
		want netexec.Outcome
	}{
		{[]string{"curl"}, netexec.Network},
		{[]string{"sort", "\x00"}, netexec.Clean},
		{[]string{"\x00"}, netexec.Unresolved},
		{[]string{"sh", "-c", "\x00"}, netexec.Unresolved},
		{[]string{"\x010\x01"}, netexec.Depends},
		{[]string{"git", "\x021\x02"}, netexec.Depends},
		{[]string{"git", "-C", "\x00", "fetch"}, netexec.Network},
		{[]string{"git", "remote", "-v"}, netexec.Clean},
		{[]string{"git", "remote", "update"}, netexec.Network},
		{[]string{"go", "run", "./cmd/x"}, netexec.Clean},
		{[]string{"go", "run", "-v", "example.com/x@v1"}, netexec.Network},
		{[]string{"sudo", "-u", "bob", "curl"}, netexec.Network},
		{[]string{"env", "-i", "LC_ALL=C", "sort"}, netexec.Clean},
		{[]string{"python3", "-c", "print(1)"}, netexec.Clean},
		{[]string{"python3", "-c", "import requests"}, netexec.Network},
		{[]string{"perl", "-le", "use LWP::Simple; get('x')"}, netexec.Network},
		{[]string{"awk", "BEGIN { s = \"/inet/tcp/0/h/80\" }"}, netexec.Network},
	} {
		assert.Equal(t, tc.want, netexec.Judge(tc.argv, false).Outcome, "%q", tc.argv)
	}
	assert.NotEqual(t, netexec.Network, netexec.Judge([]string{"\x00"}, true).Outcome, "LookPath of an unknown name is not a network finding")
	assert.Equal(t, netexec.Network, netexec.Judge([]string{"/usr/bin/nc"}, true).Outcome)
}
