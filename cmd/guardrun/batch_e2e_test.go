package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
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
	"github.com/guardrun/guardrun/metrics"
)

// batchSpec is fanSpec with "up" batched: PROC over in/*.txt, at most MAX
// items per process.
func batchSpec(proc string, maxItems int) string {
	s := strings.Replace(fanSpec, "ROOT", fmt.Sprintf("[%q]", proc), 1)
	return strings.Replace(s, `"outputs": ["{stem}.txt"]}`, fmt.Sprintf(`"outputs": ["{stem}.txt"], "batch": {"maxItems": %d}}`, maxItems), 1)
}

// doings counts the "doing <item>" lines bin/batchy wrote to up's log.
func doings(t *testing.T, dir string) map[string]int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "state", "logs", "up.log"))
	require.NoError(t, err)
	n := map[string]int{}
	for _, l := range strings.Split(string(b), "\n") {
		if id, ok := strings.CutPrefix(l, "doing "); ok {
			n[id]++
		}
	}
	return n
}

// TestBatchIncremental runs a batched stage (bin/upper, 3 items per
// process) in a chain with a fan-in: the products are byte-identical to
// the same pipeline run one process per item; an edit, an addition and a
// deletion each run only their item, in a batch of one.
func TestBatchIncremental(t *testing.T) {
	files := map[string]string{"pipeline.json": batchSpec("bin/upper", 3)}
	for _, n := range []string{"a", "b", "c", "d", "e", "f", "g"} {
		files["in/"+n+".txt"] = testutil.Lines(20) + n + "\n"
	}
	dir := workspace(t, files)
	doc := runFan(t, dir, 0, "--run-id", "b1", "--jobs", "2")
	assert.Equal(t, map[string]string{"up": "succeeded total=7 ran=7 skipped=0", "cp": "succeeded total=7 ran=7 skipped=0", "all": "succeeded"}, outcome(doc.Run))
	for _, s := range doc.Run.Stages {
		if s.Name == "up" {
			// 7 items, 2 workers, at most 3 per process: 3 + 3 + 1.
			assert.Equal(t, 3, s.Attempts, "processes started")
		}
	}

	perItem := workspace(t, files)
	testutil.WriteFile(t, filepath.Join(perItem, "pipeline.json"), fanSpecWith("bin/upper"))
	runFan(t, perItem, 0, "--run-id", "p1")
	want := products(t, perItem)
	require.Len(t, want, 15)
	assert.Equal(t, want, products(t, dir), "batched and per-item products are byte-identical")

	doc = runFan(t, dir, 0, "--run-id", "b2")
	assert.Equal(t, map[string]string{"up": "skipped", "cp": "skipped", "all": "skipped"}, outcome(doc.Run))

	testutil.WriteFile(t, filepath.Join(dir, "in", "c.txt"), "changed\n")
	testutil.WriteFile(t, filepath.Join(dir, "in", "h.txt"), "new\n")
	require.NoError(t, os.Remove(filepath.Join(dir, "in", "e.txt")))
	plans := planFan(t, dir)
	require.NotNil(t, plans["up"].Items)
	assert.Equal(t, 3, plans["up"].Items.BatchMaxItems)
	r := guardrun(t, dir, "plan")
	assert.Contains(t, r.stdout, "2 of 7 items, 1 removed, in batches of up to 3")
	doc = runFan(t, dir, 0, "--run-id", "b3")
	assert.Equal(t, map[string]string{"up": "succeeded total=7 ran=2 skipped=5 removed=1", "cp": "succeeded total=7 ran=2 skipped=5 removed=1", "all": "succeeded"}, outcome(doc.Run))
	got := products(t, dir)
	assert.Equal(t, "CHANGED\n", got["work/up/c.txt"])
	assert.Equal(t, "NEW\n", got["work/cp/h.copy"])
	assert.NotContains(t, got, "work/up/e.txt")
	assert.NotContains(t, got, "work/cp/e.copy")
	assert.Equal(t, []string{"a.txt", "b.txt", "c.txt", "d.txt", "f.txt", "g.txt", "h.txt"}, journalItems(t, dir, "up"))
}

// TestBatchReportedFailureFailsTheItemAlone: a processor that reports an
// item failed and carries on, exiting 0 (as the README's Python example
// does), fails that item when it runs alone too: its output is not
// committed and the item is not in the journal, whatever the exit code.
func TestBatchReportedFailureFailsTheItemAlone(t *testing.T) {
	dir := workspace(t, map[string]string{"pipeline.json": batchSpec("bin/batchy", 10),
		"in/a.txt": "a\n", "in/soft.txt": "this one will softfail\n", "in/c.txt": "c\n"})
	doc := runFan(t, dir, 1, "--run-id", "s1", "--jobs", "1")
	assert.Equal(t, "failed total=3 ran=2 skipped=0 failed=1", outcome(doc.Run)["up"], doc.Error)
	for _, s := range doc.Run.Stages {
		if s.Name == "up" {
			require.NotNil(t, s.Items)
			require.Len(t, s.Items.FailedItems, 1)
			assert.Equal(t, "soft.txt", s.Items.FailedItems[0].Item)
			assert.Contains(t, s.Items.FailedItems[0].Error, "item reported failed: this input says softfail")
		}
	}
	assert.Equal(t, map[string]int{"a.txt": 1, "soft.txt": 2, "c.txt": 1}, doings(t, dir), "the batch, then soft.txt alone")
	assert.Equal(t, []string{"a.txt", "c.txt"}, journalItems(t, dir, "up"))
	assert.NoFileExists(t, filepath.Join(dir, "work", "up", "soft.txt"), "a failed item's output is not committed")
	// Nothing changed: the next run tries the failed item again, alone.
	doc = runFan(t, dir, 1, "--run-id", "s2", "--jobs", "1")
	assert.Equal(t, "failed total=3 ran=0 skipped=2 failed=1", outcome(doc.Run)["up"], doc.Error)
}

// TestBatchFailures: in one batch, an item the processor reports failed
// and an item on which the process crashes run alone afterwards (the
// first fails for good, exit 3; the second then succeeds), the items
// reported before the crash are committed and never redone, and those
// after it go into a new batch. The failed item blocks only its own chain
// and the fan-in.
func TestBatchFailures(t *testing.T) {
	dir := workspace(t, map[string]string{"pipeline.json": batchSpec("bin/batchy", 10),
		"in/a.txt": "a\n", "in/b.txt": "b\n", "in/bad.txt": "this one will fail\n", "in/c.txt": "c\n",
		"in/crash.txt": "this one makes it crash\n", "in/d.txt": "d\n", "in/e.txt": "e\n"})
	doc := runFan(t, dir, 1, "--run-id", "f1", "--jobs", "1")
	assert.Equal(t, map[string]string{"up": "failed total=7 ran=6 skipped=0 failed=1", "cp": "blocked total=7 ran=6 skipped=0 blocked=1", "all": "blocked"}, outcome(doc.Run))
	assert.Contains(t, doc.Error, "bad.txt")
	for _, s := range doc.Run.Stages {
		if s.Name == "up" {
			require.NotNil(t, s.Items)
			require.Len(t, s.Items.FailedItems, 1)
			assert.Equal(t, "bad.txt", s.Items.FailedItems[0].Item)
			assert.Contains(t, s.Items.FailedItems[0].Error, "item reported failed: this input says fail", "the report says why (it also exited 3)")
			assert.Equal(t, []string{"doing bad.txt", "batchy: this input says fail"}, s.Items.FailedItems[0].OutputTail)
			assert.Equal(t, s.Items.FailedItems[0].OutputTail, s.OutputTail, "the stage's tail is its first failed item's")
			// the batch, bad alone, crash alone, the batch of d and e
			assert.Equal(t, 4, s.Attempts, "processes started")
		}
	}
	assert.Equal(t, map[string]int{"a.txt": 1, "b.txt": 1, "bad.txt": 2, "c.txt": 1, "crash.txt": 2, "d.txt": 1, "e.txt": 1}, doings(t, dir),
		"reported items are never redone; the failed and the crashing item ran again alone")
	assert.Equal(t, []string{"a.txt", "b.txt", "c.txt", "crash.txt", "d.txt", "e.txt"}, journalItems(t, dir, "up"))
	// The metrics count the items and name the failed one.
	m, err := metrics.ReadJSON(stateOf(dir).MetricsJSON("f1"))
	require.NoError(t, err)
	for _, s := range m.Stages {
		if s.Name == "up" {
			require.NotNil(t, s.Items)
			assert.Equal(t, metrics.Items{Total: 7, Ran: 6, Failed: 1, FailedItems: []string{"bad.txt"}}, *s.Items)
		}
	}
	prom, err := os.ReadFile(stateOf(dir).MetricsProm("f1"))
	require.NoError(t, err)
	assert.Contains(t, string(prom), `stage="up",item="bad.txt"} 1`)
	last, err := os.ReadFile(stateOf(dir).MetricsLastProm())
	require.NoError(t, err)
	assert.Contains(t, string(last), `guardrun_last_run_stage_failed_items{pipeline="fan",stage="up"} 1`)
	assert.Contains(t, string(last), `guardrun_last_run_stage_status{pipeline="fan",stage="all",status="blocked"} 1`)
	got := products(t, dir)
	assert.Equal(t, "this one makes it crash\n", got["work/cp/crash.copy"])
	assert.NotContains(t, got, "work/up/bad.txt")

	testutil.WriteFile(t, filepath.Join(dir, "in", "bad.txt"), "fixed\n")
	doc = runFan(t, dir, 0, "--run-id", "f2")
	assert.Equal(t, map[string]string{"up": "succeeded total=7 ran=1 skipped=6", "cp": "succeeded total=7 ran=1 skipped=6", "all": "succeeded"}, outcome(doc.Run))
}

// TestBatchTamperedAfterCommit: a batch process that writes an output
// through a descriptor it kept after the item was committed does not get
// its write past the journal: the item is taken back and run alone, and
// what the journal says is what is on disk.
func TestBatchTamperedAfterCommit(t *testing.T) {
	dir := workspace(t, map[string]string{"pipeline.json": batchSpec("bin/batchy", 10),
		"in/a.txt": "a\n", "in/t.txt": "tamper with me\n", "in/z.txt": "z\n"})
	r := guardrun(t, dir, "run", "--run-id", "t1", "--jobs", "1")
	require.Equal(t, 0, r.code, r.stderr)
	logText, err := os.ReadFile(filepath.Join(dir, "state", "guardrun.log"))
	require.NoError(t, err)
	assert.Contains(t, string(logText), "changed after it was committed")
	assert.Equal(t, map[string]int{"a.txt": 1, "t.txt": 2, "z.txt": 1}, doings(t, dir))
	got := products(t, dir)
	assert.Equal(t, "tamper with me\n", got["work/up/t.txt"])
	jn := journal(t, dir, "up")
	for _, id := range []string{"a.txt", "t.txt", "z.txt"} {
		rec := jn.Get(id)
		require.NotNil(t, rec, id)
		for _, o := range rec.Outputs {
			b, err := os.ReadFile(filepath.Join(dir, o.Path))
			require.NoError(t, err)
			sum := sha256.Sum256(b)
			assert.Equal(t, hex.EncodeToString(sum[:]), o.SHA256, "the journal tells the truth about %s", o.Path)
		}
	}
	r = guardrun(t, dir, "run", "--run-id", "t2")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stderr, "0 ran, 3 skipped")
}

// TestBatchKill9MidBatch kills guardrun with SIGKILL while its batch
// process waits inside an item after reporting others: the reported items
// are committed and skipped by the next run, the others run, and the
// products are byte-identical to a clean run's.
func TestBatchKill9MidBatch(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("kill -9 semantics tested on Linux")
	}
	files := map[string]string{"pipeline.json": batchSpec("bin/batchy", 10)}
	for _, n := range []string{"a", "b", "c", "m", "x", "y"} {
		files["in/"+n+".txt"] = testutil.Lines(30) + n + " has no newline at the end"
	}
	files["in/m.txt"] += " and waits"
	dir := workspace(t, files)
	kill9When(t, dir, "a, b and c committed", func() bool {
		b, _ := os.ReadFile(stateOf(dir).ItemJournal("up"))
		return bytes.Count(b, []byte(`"item":`)) == 3
	}, "run", "--run-id", "k1", "--jobs", "1")
	assert.Equal(t, []string{"a.txt", "b.txt", "c.txt"}, journalItems(t, dir, "up"))

	testutil.WriteFile(t, filepath.Join(dir, "release"), "")
	// A slot this rerun does not use (a killed run with more workers):
	// only the sweep removes its staging dir.
	testutil.WriteFile(t, filepath.Join(dir, "work", "up", ".up.batch7.staging", "x.txt"), "partial")
	doc := runFan(t, dir, 0, "--run-id", "k2", "--jobs", "1")
	assert.Equal(t, map[string]string{"up": "succeeded total=6 ran=3 skipped=3", "cp": "succeeded total=6 ran=6 skipped=0", "all": "succeeded"}, outcome(doc.Run))
	leftovers, _ := filepath.Glob(filepath.Join(dir, "work", "up", ".*.staging"))
	assert.Empty(t, leftovers, "the killed batch's staging dir is swept")

	clean := workspace(t, files)
	testutil.WriteFile(t, filepath.Join(clean, "release"), "")
	runFan(t, clean, 0, "--run-id", "clean")
	want := products(t, clean)
	require.Len(t, want, 13)
	assert.Equal(t, want, products(t, dir))
}

// TestBatchSIGINT: the first SIGINT mid-batch stops the process and exits
// 130; the items it reported stay committed and the next run does the
// rest.
func TestBatchSIGINT(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no SIGINT delivery to a child on Windows")
	}
	dir := workspace(t, map[string]string{"pipeline.json": batchSpec("bin/batchy", 10),
		"in/a.txt": "a\n", "in/b.txt": "b\n", "in/m.txt": "m: wait\n", "in/x.txt": "x\n"})
	cmd, se := start(t, dir, "run", "--run-id", "i1", "--jobs", "1")
	waitFor(t, "a and b committed", 60*time.Second, func() bool {
		b, _ := os.ReadFile(stateOf(dir).ItemJournal("up"))
		return bytes.Count(b, []byte(`"item":`)) == 2
	})
	require.NoError(t, cmd.Process.Signal(os.Interrupt))
	err := cmd.Wait()
	assert.Equal(t, 130, exitOf(err), se.String())
	waitFor(t, "processors to stop", 10*time.Second, func() bool { return len(processorsOf(dir)) == 0 })
	rs, err := stateOf(dir).ReadRun("i1")
	require.NoError(t, err)
	// cp, chained after the batched stage, had not started (its items wait
	// for up's batches).
	assert.Equal(t, map[string]string{"up": "interrupted total=4 ran=2 skipped=0 interrupted=2", "cp": "interrupted total=4 ran=0 skipped=0 interrupted=4", "all": "pending"}, outcome(rs))
	assert.Equal(t, []string{"a.txt", "b.txt"}, journalItems(t, dir, "up"))

	testutil.WriteFile(t, filepath.Join(dir, "release"), "")
	doc := runFan(t, dir, 0, "--run-id", "i2")
	assert.Equal(t, map[string]string{"up": "succeeded total=4 ran=2 skipped=2", "cp": "succeeded total=4 ran=4 skipped=0", "all": "succeeded"}, outcome(doc.Run))
	assert.Equal(t, "a\nb\nm: wait\nx\n", products(t, dir)["out/all.txt"])
}

// TestBatchProtocolAndUnsafeOutputs: a batch process that reports an item
// it was not given is ended (a protocol error; the item it was on then
// runs alone and the rest in a new batch), and an output a process stages
// as a symlink is never committed, in a batch or alone.
func TestBatchProtocolAndUnsafeOutputs(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("sh")
	}
	sh, policy := shPolicy(t)
	// A shell batch processor: stages a symlink for k-link.txt, reports an
	// item it was not given for lie.txt and exits 0, copies the others;
	// reports each item done.
	script := `set -eu
list=$(cat "$PIPELINE_BATCH_FILE")
for id in a.txt b.txt k-link.txt lie.txt z.txt; do
  case "$list" in *"\"$id\""*) ;; *) continue ;; esac
  case $id in
  lie.txt) printf '{"item":"not-mine.txt","status":"done"}\n' >&3; exit 0 ;;
  k-link.txt) ln -sf /etc/passwd "$PIPELINE_OUTPUT_DIR/$id" ;;
  *) cp "in/$id" "$PIPELINE_OUTPUT_DIR/$id" ;;
  esac
  printf '{"item":"%s","status":"done"}\n' "$id" >&3
done
`
	spec := strings.Replace(batchSpec("SH", 10), `["SH"]`, fmt.Sprintf("[%q, %q]", sh, "bin/batch.sh"), 1)
	dir := workspace(t, map[string]string{"pipeline.json": spec, "bin/batch.sh": script, "policy/allow.rego": policy,
		"in/a.txt": "a\n", "in/b.txt": "b\n", "in/k-link.txt": "l\n", "in/lie.txt": "lie\n", "in/z.txt": "z\n"})
	doc := runFan(t, dir, 1, "--policy", "policy", "--run-id", "p1", "--jobs", "1")
	assert.Equal(t, "failed total=5 ran=4 skipped=0 failed=1", outcome(doc.Run)["up"], doc.Error)
	var failed []runstate.ItemFailure
	for _, s := range doc.Run.Stages {
		if s.Name == "up" && s.Items != nil {
			failed = s.Items.FailedItems
		}
	}
	require.Len(t, failed, 1)
	assert.Equal(t, "k-link.txt", failed[0].Item)
	assert.Contains(t, failed[0].Error, "symlink")
	logText, err := os.ReadFile(filepath.Join(dir, "state", "guardrun.log"))
	require.NoError(t, err)
	assert.Contains(t, string(logText), `report for item \"not-mine.txt\", which is not in the batch`)
	// lie.txt ran alone (where its process's stray report means nothing)
	// and exited 0: its output is the empty file guardrun created.
	assert.Equal(t, []string{"a.txt", "b.txt", "lie.txt", "z.txt"}, journalItems(t, dir, "up"))
	got := products(t, dir)
	assert.Equal(t, "", got["work/up/lie.txt"])
	assert.Equal(t, "z\n", got["work/up/z.txt"])
	_, err = os.Lstat(filepath.Join(dir, "work", "up", "k-link.txt"))
	assert.True(t, os.IsNotExist(err), "the symlink was not promoted")
}
