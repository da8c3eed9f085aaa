package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/guardrun/guardrun/internal/runstate"
	"github.com/guardrun/guardrun/internal/testutil"
	"github.com/guardrun/guardrun/runner"
)

// fanSpec is a fan-out chain and its fan-in: "up" runs ROOT (the
// processor's argv) once per in/*.txt into work/up/<stem>.txt, "cp" copies
// each of up's items (foreach.stage) into work/cp/<stem>.copy, and "all"
// is a plain stage that concatenates work/cp, the fan-in.
const fanSpec = `{"version": 1, "name": "fan", "defaults": {"retry": {"maxAttempts": 1}}, "stages": [
  {"name": "up", "foreach": {"glob": "in/*.txt"}, "processor": {"exec": ROOT}, "outputDir": "work/up", "outputs": ["{stem}.txt"]},
  {"name": "cp", "foreach": {"stage": "up"}, "processor": {"exec": ["bin/copy"]}, "outputDir": "work/cp", "outputs": ["{stem}.copy"]},
  {"name": "all", "processor": {"exec": ["bin/copy"]}, "inputs": ["work/cp"], "outputDir": "out", "outputs": ["all.txt"]}]}`

func fanSpecWith(root ...string) string {
	argv, _ := json.Marshal(root)
	return strings.Replace(fanSpec, "ROOT", string(argv), 1)
}

// fanScript is the root processor of the failure and kill tests, run by
// the system's sh: it refuses (exit 3) an input that says "bad", waits for
// the file "release" in the workspace before it handles an input whose
// name contains "slow", and otherwise is bin/upper. PIPELINE_INPUTS holds
// exactly one plain path: ["/abs/in/x.txt"].
const fanScript = `set -eu
in=${PIPELINE_INPUTS#??}
in=${in%??}
case "$(cat "$in")" in
*bad*) echo "refusing $in: it says bad" >&2; exit 3 ;;
esac
case "$in" in
*slow*) while [ ! -e release ]; do sleep 0.02; done ;;
esac
exec ./bin/upper
`

// runJSON is `run --json`'s document.
type runJSON struct {
	ExitCode int                `json:"exitCode"`
	Error    string             `json:"error"`
	Run      *runstate.RunState `json:"run"`
}

// planJSON is `plan --json`'s document.
type planJSON struct {
	Stages   []runner.StagePlan `json:"stages"`
	ExitCode int                `json:"exitCode"`
	Error    string             `json:"error"`
}

// runFan runs guardrun run --json with args and returns its document,
// requiring exit code want.
func runFan(t *testing.T, dir string, want int, args ...string) *runJSON {
	t.Helper()
	r := guardrun(t, dir, append([]string{"run", "--json"}, args...)...)
	require.Equal(t, want, r.code, "stderr:\n%s", r.stderr)
	var doc runJSON
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &doc), r.stdout)
	require.Equal(t, want, doc.ExitCode)
	require.NotNil(t, doc.Run, r.stdout)
	return &doc
}

func planFan(t *testing.T, dir string, args ...string) map[string]runner.StagePlan {
	t.Helper()
	r := guardrun(t, dir, append([]string{"plan", "--json"}, args...)...)
	require.Equal(t, 0, r.code, "stderr:\n%s", r.stderr)
	var doc planJSON
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &doc), r.stdout)
	m := map[string]runner.StagePlan{}
	for _, sp := range doc.Stages {
		m[sp.Name] = sp
	}
	return m
}

// outcome is every stage of a run in a few words: "skipped" for a stage
// skipped as up to date, else its status and, for a fan-out stage, its
// item counts.
func outcome(rs *runstate.RunState) map[string]string {
	m := map[string]string{}
	for _, s := range rs.AllStages() {
		v := s.Status
		if c := s.Items; c != nil {
			v += fmt.Sprintf(" total=%d ran=%d skipped=%d", c.Total, c.Ran, c.Skipped)
			for _, x := range []struct {
				n    int
				what string
			}{{c.Failed, "failed"}, {c.Blocked, "blocked"}, {c.Interrupted, "interrupted"}, {c.Removed, "removed"}} {
				if x.n > 0 {
					v += fmt.Sprintf(" %s=%d", x.what, x.n)
				}
			}
		}
		m[s.Name] = v
	}
	return m
}

// itemPlans are a fan-out stage's planned items by id: action and first
// reason kind.
func itemPlans(t *testing.T, sp runner.StagePlan) map[string]string {
	t.Helper()
	require.NotNil(t, sp.Items, "stage %s has no item plan", sp.Name)
	m := map[string]string{}
	for _, it := range sp.Items.Items {
		kind := ""
		if len(it.Reasons) > 0 {
			kind = it.Reasons[0].Kind
		}
		require.NotEmpty(t, it.Why, "item %s of %s is planned without a reason", it.Item, sp.Name)
		m[it.Item] = it.Action + " " + kind
	}
	return m
}

// products are the files a fan-out test pipeline made (work/ and out/).
func products(t *testing.T, dir string) map[string]string {
	t.Helper()
	return testutil.Products(t, dir, "work", "out")
}

// fileID is what says a file was not rewritten: its identity and mtime.
func fileID(t *testing.T, path string) (os.FileInfo, time.Time) {
	t.Helper()
	fi, err := os.Stat(path)
	require.NoError(t, err)
	return fi, fi.ModTime()
}

func journal(t *testing.T, dir, stage string) *runstate.Journal {
	t.Helper()
	jn, err := runstate.OpenJournal(stateOf(dir).ItemJournal(stage))
	require.NoError(t, err)
	return jn
}

func journalItems(t *testing.T, dir, stage string) []string {
	t.Helper()
	var ids []string
	for _, rec := range journal(t, dir, stage).Missing(nil) {
		ids = append(ids, rec.Item)
	}
	return ids
}

// TestFanoutIncremental drives a glob fan-out, a chained fan-out and a
// fan-in through the real binary: the first run runs every item, a second
// changes nothing, and an edited, an added and a deleted input each rerun
// (or remove) exactly their item in both fan-out stages and rerun the
// fan-in; plan --json names the item and why beforehand.
func TestFanoutIncremental(t *testing.T) {
	files := map[string]string{"pipeline.json": fanSpecWith("bin/upper")}
	for _, n := range []string{"a", "b", "c", "d"} {
		files["in/"+n+".txt"] = "content of " + n + "\nsecond line of " + n + "\n"
	}
	dir := workspace(t, files)
	all := func() string {
		b, err := os.ReadFile(filepath.Join(dir, "out", "all.txt"))
		require.NoError(t, err)
		return string(b)
	}

	doc := runFan(t, dir, 0, "--run-id", "r1")
	assert.Equal(t, map[string]string{"up": "succeeded total=4 ran=4 skipped=0", "cp": "succeeded total=4 ran=4 skipped=0", "all": "succeeded"}, outcome(doc.Run))
	want := map[string]string{}
	var allWant string
	for _, n := range []string{"a", "b", "c", "d"} {
		up := strings.ToUpper(files["in/"+n+".txt"])
		want["work/up/"+n+".txt"], want["work/cp/"+n+".copy"] = up, up
		allWant += up
	}
	want["out/all.txt"] = allWant
	assert.Equal(t, want, products(t, dir))
	assert.Equal(t, []string{"a.txt", "b.txt", "c.txt", "d.txt"}, journalItems(t, dir, "up"))
	assert.Equal(t, []string{"a.txt", "b.txt", "c.txt", "d.txt"}, journalItems(t, dir, "cp"))

	// Nothing changed: every stage is skipped, nothing is rewritten.
	aFI, aTime := fileID(t, filepath.Join(dir, "work", "cp", "a.copy"))
	doc = runFan(t, dir, 0, "--run-id", "r2")
	assert.Empty(t, doc.Run.Stages, "a no-op run lists no stage as run")
	require.NotNil(t, doc.Run.Skipped)
	assert.Equal(t, []string{"up", "cp", "all"}, doc.Run.Skipped.Names)
	assert.Equal(t, 3, doc.Run.Counts.Skipped)
	for name, sp := range planFan(t, dir) {
		assert.Equal(t, "skip", sp.Action, name)
	}

	// One input edited: plan names that item and why, the run reruns it
	// alone in both fan-out stages, and the fan-in.
	testutil.WriteFile(t, filepath.Join(dir, "in", "b.txt"), "b was edited\n")
	plans := planFan(t, dir)
	assert.Equal(t, "run", plans["up"].Action)
	assert.Equal(t, map[string]string{"b.txt": "run " + runner.ReasonInputChanged}, itemPlans(t, plans["up"]))
	require.Len(t, plans["up"].Items.Items, 1)
	assert.Equal(t, "in/b.txt", plans["up"].Items.Items[0].Reasons[0].Path)
	assert.Equal(t, 1, plans["up"].Items.Run)
	assert.Equal(t, 3, plans["up"].Items.Skip)
	assert.Equal(t, map[string]string{"b.txt": "run " + runner.ReasonUpstream}, itemPlans(t, plans["cp"]))
	assert.Equal(t, "run", plans["all"].Action)
	doc = runFan(t, dir, 0, "--run-id", "r3")
	assert.Equal(t, map[string]string{"up": "succeeded total=4 ran=1 skipped=3", "cp": "succeeded total=4 ran=1 skipped=3", "all": "succeeded"}, outcome(doc.Run))
	assert.Contains(t, all(), "B WAS EDITED\n")
	assert.NotContains(t, all(), "CONTENT OF B")
	fi, mtime := fileID(t, filepath.Join(dir, "work", "cp", "a.copy"))
	assert.True(t, os.SameFile(aFI, fi) && mtime.Equal(aTime), "the output of an item that did not change was rewritten")

	// A file added: only its item runs.
	testutil.WriteFile(t, filepath.Join(dir, "in", "e.txt"), "a new file e\n")
	assert.Equal(t, map[string]string{"e.txt": "run " + runner.ReasonItemNew}, itemPlans(t, planFan(t, dir)["up"]))
	doc = runFan(t, dir, 0, "--run-id", "r4")
	assert.Equal(t, map[string]string{"up": "succeeded total=5 ran=1 skipped=4", "cp": "succeeded total=5 ran=1 skipped=4", "all": "succeeded"}, outcome(doc.Run))
	assert.Equal(t, "A NEW FILE E\n", products(t, dir)["work/cp/e.copy"])
	assert.Contains(t, all(), "A NEW FILE E\n")

	// A file deleted: its outputs go from both output dirs, the fan-in
	// reruns without it, nothing else runs.
	require.NoError(t, os.Remove(filepath.Join(dir, "in", "c.txt")))
	plans = planFan(t, dir)
	assert.Equal(t, map[string]string{"c.txt": "remove "}, itemPlans(t, plans["up"]))
	assert.Equal(t, 1, plans["up"].Items.Remove)
	assert.Equal(t, map[string]string{"c.txt": "remove "}, itemPlans(t, plans["cp"]))
	assert.Equal(t, "run", plans["all"].Action)
	doc = runFan(t, dir, 0, "--run-id", "r5")
	assert.Equal(t, map[string]string{"up": "succeeded total=4 ran=0 skipped=4 removed=1", "cp": "succeeded total=4 ran=0 skipped=4 removed=1", "all": "succeeded"}, outcome(doc.Run))
	got := products(t, dir)
	assert.NotContains(t, got, "work/up/c.txt")
	assert.NotContains(t, got, "work/cp/c.copy")
	assert.NotContains(t, all(), "OF C")
	assert.Equal(t, "CONTENT OF A\nSECOND LINE OF A\nB WAS EDITED\nCONTENT OF D\nSECOND LINE OF D\nA NEW FILE E\n", all())
	assert.Equal(t, []string{"a.txt", "b.txt", "d.txt", "e.txt"}, journalItems(t, dir, "up"))
	assert.Equal(t, []string{"a.txt", "b.txt", "d.txt", "e.txt"}, journalItems(t, dir, "cp"))

	// And then nothing to do again; the audit chain holds.
	doc = runFan(t, dir, 0, "--run-id", "r6")
	assert.Equal(t, map[string]string{"up": "skipped", "cp": "skipped", "all": "skipped"}, outcome(doc.Run))
	r := guardrun(t, dir, "verify")
	assert.Equal(t, 0, r.code, r.stderr)
	// status and the report show a fan-out stage's items.
	r = guardrun(t, dir, "status", "--run-id", "r5")
	assert.Equal(t, 0, r.code, r.stderr)
	assert.Regexp(t, `up +succeeded +attempts=0 items: skipped 4, removed 1 of 4 items`, r.stdout)
	r = guardrun(t, dir, "report", "--run-id", "r5")
	require.Equal(t, 0, r.code, r.stderr)
	html, err := os.ReadFile(filepath.Join(dir, "state", "report_r5.html"))
	require.NoError(t, err)
	assert.Contains(t, string(html), "items: skipped 4, removed 1 of 4 items")
}

// TestFanoutFailedItem: an item whose processor fails fails its stage
// (exit 1, the error names the item); the other items' outputs exist, the
// chained stage runs the good items and blocks the bad one, and the fan-in
// does not run. Once the input is fixed, only that item runs.
func TestFanoutFailedItem(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("sh")
	}
	sh, policy := shPolicy(t)
	dir := workspace(t, map[string]string{"pipeline.json": fanSpecWith(sh, "bin/proc.sh"), "bin/proc.sh": fanScript, "policy/allow.rego": policy,
		"in/a.txt": "a\n", "in/b.txt": "b\n", "in/bad.txt": "this one is bad\n", "in/c.txt": "c\n"})

	doc := runFan(t, dir, 1, "--policy", "policy", "--run-id", "f1")
	assert.Equal(t, map[string]string{"up": "failed total=4 ran=3 skipped=0 failed=1", "cp": "blocked total=4 ran=3 skipped=0 blocked=1", "all": "blocked"}, outcome(doc.Run))
	assert.Contains(t, doc.Error, "bad.txt")
	var up runstate.RunStage
	for _, s := range doc.Run.Stages {
		if s.Name == "up" {
			up = s
		}
	}
	require.NotNil(t, up.Items)
	require.Len(t, up.Items.FailedItems, 1)
	assert.Equal(t, "bad.txt", up.Items.FailedItems[0].Item)
	assert.Contains(t, up.Items.FailedItems[0].Error, "exit code 3")
	assert.Contains(t, up.Error, "bad.txt")
	assert.Equal(t, map[string]string{
		"work/up/a.txt": "A\n", "work/up/b.txt": "B\n", "work/up/c.txt": "C\n",
		"work/cp/a.copy": "A\n", "work/cp/b.copy": "B\n", "work/cp/c.copy": "C\n",
	}, products(t, dir), "the good items ran through the chain; nothing of the bad one, no fan-in")
	assert.Equal(t, []string{"a.txt", "b.txt", "c.txt"}, journalItems(t, dir, "up"))
	assert.Equal(t, []string{"a.txt", "b.txt", "c.txt"}, journalItems(t, dir, "cp"))
	// The failed item's stderr is in the stage log, in one piece under its id.
	logText, err := os.ReadFile(filepath.Join(dir, "state", "logs", "up.log"))
	require.NoError(t, err)
	assert.Regexp(t, `--- item bad\.txt\nrefusing \S*bad\.txt: it says bad\n`, string(logText))

	// Fixed: only that item runs, in both stages, then the fan-in.
	testutil.WriteFile(t, filepath.Join(dir, "in", "bad.txt"), "fixed now\n")
	doc = runFan(t, dir, 0, "--policy", "policy", "--run-id", "f2")
	assert.Equal(t, map[string]string{"up": "succeeded total=4 ran=1 skipped=3", "cp": "succeeded total=4 ran=1 skipped=3", "all": "succeeded"}, outcome(doc.Run))
	assert.Equal(t, "A\nB\nFIXED NOW\nC\n", products(t, dir)["out/all.txt"])
}

// itemRunning reports whether a processor of the workspace dir handles an
// input whose path contains name (or the item name).
func itemRunning(dir, name string) bool {
	for _, pid := range processorsOf(dir) {
		env, err := os.ReadFile(filepath.Join("/proc", fmt.Sprint(pid), "environ"))
		if err != nil {
			continue
		}
		for _, kv := range bytes.Split(env, []byte{0}) {
			for _, k := range []string{"PIPELINE_INPUTS=", "PIPELINE_ITEM="} {
				if v, ok := bytes.CutPrefix(kv, []byte(k)); ok && bytes.Contains(v, []byte(name)) {
					return true
				}
			}
		}
	}
	return false
}

// TestFanoutKill9MidRun kills guardrun with SIGKILL while one item's
// processor blocks and others are committed; the next run runs only the
// items not committed, and the products are byte-identical to a clean run
// in a fresh workspace.
func TestFanoutKill9MidRun(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("kill -9 semantics tested on Linux")
	}
	sh, policy := shPolicy(t)
	files := map[string]string{"pipeline.json": fanSpecWith(sh, "bin/proc.sh"), "bin/proc.sh": fanScript, "policy/allow.rego": policy}
	for _, n := range []string{"a", "b", "m-slow", "x", "y"} {
		files["in/"+n+".txt"] = testutil.Lines(50) + n + " has no newline at the end"
	}
	dir := workspace(t, files)

	// One worker: a and b go through the chain, then m-slow blocks, and x
	// and y wait for it.
	kill9When(t, dir, "an item committed and m-slow.txt running", func() bool {
		b, _ := os.ReadFile(stateOf(dir).ItemJournal("up"))
		return bytes.Contains(b, []byte(`"item":`)) && itemRunning(dir, "m-slow.txt")
	}, "run", "--policy", "policy", "--run-id", "k1", "--jobs", "1")

	// What the killed run committed is what the next run skips.
	committedUp, committedCp := journalItems(t, dir, "up"), journalItems(t, dir, "cp")
	t.Logf("committed when killed: up %v, cp %v", committedUp, committedCp)
	require.NotEmpty(t, committedUp)
	assert.NotContains(t, committedUp, "m-slow.txt")
	for _, id := range []string{"x.txt", "y.txt"} {
		assert.NotContains(t, committedUp, id, "one worker: an item after the blocked one ran")
	}

	testutil.WriteFile(t, filepath.Join(dir, "release"), "")
	doc := runFan(t, dir, 0, "--policy", "policy", "--run-id", "k2", "--jobs", "1")
	assert.Equal(t, map[string]string{
		"up":  fmt.Sprintf("succeeded total=5 ran=%d skipped=%d", 5-len(committedUp), len(committedUp)),
		"cp":  fmt.Sprintf("succeeded total=5 ran=%d skipped=%d", 5-len(committedCp), len(committedCp)),
		"all": "succeeded",
	}, outcome(doc.Run))
	rs, err := stateOf(dir).ReadRun("k1")
	require.NoError(t, err)
	assert.Equal(t, runstate.RunInterrupted, rs.Status, "the killed run is recorded as interrupted")

	// The same pipeline in a fresh workspace, never interrupted.
	clean := workspace(t, files)
	testutil.WriteFile(t, filepath.Join(clean, "release"), "")
	runFan(t, clean, 0, "--policy", "policy", "--run-id", "clean")
	want := products(t, clean)
	require.Len(t, want, 11)
	got := products(t, dir)
	assert.Equal(t, len(want), len(got))
	for name, w := range want {
		assert.True(t, got[name] == w, "%s differs from the clean run's (%d vs %d bytes)", name, len(got[name]), len(w))
	}
	assert.Equal(t, want, got)
}

// TestFanoutKill9MidRerun kills a rerun of a pipeline whose previous run
// ended cleanly (so its item summaries are current) after it committed one
// changed item and while it blocks in another: the run after that decides
// from the journal the killed run appended to (the summary no longer
// applies), runs only what was not committed, is settled by the summaries
// it writes in turn, and its products are byte-identical to a clean run's.
func TestFanoutKill9MidRerun(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("kill -9 semantics tested on Linux")
	}
	sh, policy := shPolicy(t)
	files := map[string]string{"pipeline.json": fanSpecWith(sh, "bin/proc.sh"), "bin/proc.sh": fanScript, "policy/allow.rego": policy, "release": ""}
	names := []string{"a", "b", "m-slow", "x", "y"}
	for _, n := range names {
		files["in/"+n+".txt"] = testutil.Lines(20) + n + "\n"
	}
	dir := workspace(t, files)
	// An hour old: hashed now, their identities are recorded (the racy
	// window), and the summaries list every item.
	age := func(names ...string) {
		old := time.Now().Add(-time.Hour)
		for _, n := range names {
			require.NoError(t, os.Chtimes(filepath.Join(dir, "in", n+".txt"), old, old))
		}
	}
	age(names...)
	runFan(t, dir, 0, "--policy", "policy", "--run-id", "r1")
	doc := runFan(t, dir, 0, "--policy", "policy", "--run-id", "r2")
	require.Equal(t, map[string]string{"up": "skipped", "cp": "skipped", "all": "skipped"}, outcome(doc.Run))
	require.FileExists(t, filepath.Join(dir, "state", "items_up.sum"))

	// a and m-slow change; of the two workers, one blocks in m-slow while
	// the other carries a through the chain.
	require.NoError(t, os.Remove(filepath.Join(dir, "release")))
	for _, n := range []string{"a", "m-slow"} {
		testutil.WriteFile(t, filepath.Join(dir, "in", n+".txt"), testutil.Lines(25)+n+" changed\n")
	}
	age("a", "m-slow")
	before, err := os.ReadFile(stateOf(dir).ItemJournal("cp"))
	require.NoError(t, err)
	kill9When(t, dir, "a's chain committed and m-slow.txt running", func() bool {
		b, _ := os.ReadFile(stateOf(dir).ItemJournal("cp"))
		return len(b) > len(before) && bytes.Contains(b[len(before):], []byte(`"item":"a.txt"`)) && itemRunning(dir, "m-slow.txt")
	}, "run", "--policy", "policy", "--run-id", "k1", "--jobs", "2")

	testutil.WriteFile(t, filepath.Join(dir, "release"), "")
	doc = runFan(t, dir, 0, "--policy", "policy", "--run-id", "k2", "--jobs", "1")
	assert.Equal(t, map[string]string{
		"up":  "succeeded total=5 ran=1 skipped=4",
		"cp":  "succeeded total=5 ran=1 skipped=4",
		"all": "succeeded",
	}, outcome(doc.Run), "only m-slow was left: a was committed by the killed run")
	doc = runFan(t, dir, 0, "--policy", "policy", "--run-id", "k3")
	assert.Equal(t, map[string]string{"up": "skipped", "cp": "skipped", "all": "skipped"}, outcome(doc.Run))

	clean := workspace(t, files)
	for _, n := range []string{"a", "m-slow"} {
		testutil.WriteFile(t, filepath.Join(clean, "in", n+".txt"), testutil.Lines(25)+n+" changed\n")
	}
	runFan(t, clean, 0, "--policy", "policy", "--run-id", "clean")
	want := products(t, clean)
	require.Len(t, want, 11)
	assert.Equal(t, want, products(t, dir))
}
