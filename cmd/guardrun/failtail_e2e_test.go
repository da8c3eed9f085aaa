package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/guardrun/guardrun/internal/runstate"
)

// TestFailureSaysWhy: a failed stage's last output lines and its log path
// are on the terminal, in run --json, in stage_<name>.json and in the
// report, not only its exit code.
func TestFailureSaysWhy(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("sh")
	}
	sh, policy := shPolicy(t)
	script := `i=1; while [ $i -le 30 ]; do echo "line $i" >&2; i=$((i+1)); done; echo "fatal: bad row 12 in input.csv" >&2; exit 2`
	spec := fmt.Sprintf(`{"version": 1, "name": "tail", "stages": [%s]}`, shStage(sh, "parse", script))
	dir := workspace(t, map[string]string{"pipeline.json": spec, "policy/allow.rego": policy})

	r := guardrun(t, dir, "run", "--policy", "policy", "--run-id", "t1")
	require.Equal(t, 1, r.code, r.stderr)
	assert.Contains(t, r.stderr, "parse failed; its last output lines:\n")
	assert.Contains(t, r.stderr, "  | line 30\n  | fatal: bad row 12 in input.csv\n  log: state/logs/parse.log\n")
	assert.NotContains(t, r.stderr, "  | line 11\n", "at most 20 lines")

	want := []string{}
	for i := 12; i <= 30; i++ {
		want = append(want, fmt.Sprintf("line %d", i))
	}
	want = append(want, "fatal: bad row 12 in input.csv")
	r = guardrun(t, dir, "run", "--json", "--policy", "policy", "--run-id", "t2")
	require.Equal(t, 1, r.code, r.stderr)
	var doc runJSON
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &doc))
	require.Len(t, doc.Run.Stages, 1)
	assert.Equal(t, want, doc.Run.Stages[0].OutputTail)
	assert.Equal(t, "state/logs/parse.log", doc.Run.Stages[0].Log)

	b, err := os.ReadFile(filepath.Join(dir, "state", "stage_parse.json"))
	require.NoError(t, err)
	var ss runstate.StageState
	require.NoError(t, json.Unmarshal(b, &ss))
	require.Len(t, ss.Attempts, 1)
	assert.Equal(t, want, ss.Attempts[0].OutputTail)

	r = guardrun(t, dir, "report", "--run-id", "t2")
	require.Equal(t, 0, r.code, r.stderr)
	html, err := os.ReadFile(filepath.Join(dir, "state", "report_t2.html"))
	require.NoError(t, err)
	assert.Contains(t, string(html), "fatal: bad row 12 in input.csv")
	assert.Contains(t, string(html), "state/logs/parse.log")
	assert.True(t, strings.Contains(string(html), "Last output lines"))
}
