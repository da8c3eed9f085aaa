package main

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/guardrun/guardrun/internal/runstate"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func newTestPrinter(live bool) (*printer, *bytes.Buffer, *fakeClock) {
	var b bytes.Buffer
	c := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	p := &printer{w: &b, live: live, start: c.t, now: c.now, running: map[string]*stageProgress{}}
	return p, &b, c
}

func TestPlainProgressLinesArePeriodic(t *testing.T) {
	p, out, clock := newTestPrinter(false)
	p.event(runstate.Event{Stage: "s", Data: runstate.AttemptStart{Attempt: 1}})
	for i := 1; i <= 12; i++ {
		clock.t = clock.t.Add(time.Second)
		p.event(runstate.Event{Stage: "s", Data: runstate.ProgressReport{Lines: int64(i * 1000), Bytes: int64(i) << 20, TotalBytes: 12 << 20}})
	}
	p.event(runstate.Event{Stage: "s", Data: runstate.StageEnd{Status: runstate.StageSucceeded}})
	got := out.String()
	assert.NotContains(t, got, "\x1b[", "no escape codes off a terminal")
	assert.Equal(t, 2, strings.Count(got, "ETA"), "one progress line every 5 s:\n%s", got)
	assert.Contains(t, got, " 42%  5.0 MiB / 12.0 MiB, 5000 lines  1.0 MiB/s  ETA 7s")
	assert.True(t, strings.HasSuffix(got, "s                    succeeded\n"), got)
}

func TestLiveBlockIsRedrawnAndErased(t *testing.T) {
	p, out, clock := newTestPrinter(true)
	p.event(runstate.Event{Stage: "a", Data: runstate.AttemptStart{Attempt: 1}})
	p.event(runstate.Event{Stage: "b", Data: runstate.AttemptStart{Attempt: 2}})
	clock.t = clock.t.Add(time.Second)
	p.event(runstate.Event{Stage: "a", Data: runstate.ProgressReport{Lines: 10, Bytes: 100, TotalBytes: 400}})
	got := out.String()
	assert.Contains(t, got, "a                    running\n")
	assert.Contains(t, got, "b                    running (attempt 2)\n")
	assert.Contains(t, got, "[1] a  [=====>              ]   25%  100 B / 400 B  100 B/s  elapsed 1s  ETA 3s\n[2] b  running, elapsed 1s")
	assert.Contains(t, got, "\r\x1b[K\x1b[1A\x1b[J[1] a", "the two live lines are erased before redrawing")
	out.Reset()
	p.event(runstate.Event{Stage: "a", Data: runstate.StageEnd{Status: runstate.StageFailed, Error: "exit code 3"}})
	p.event(runstate.Event{RunID: "r1", Data: runstate.RunEnd{Status: runstate.RunFailed}})
	got = out.String()
	assert.Contains(t, got, "a                    failed: exit code 3\n")
	assert.NotContains(t, got[strings.LastIndex(got, "\x1b[K"):], "[1] a", "the block is gone at the end")
	assert.Contains(t, got, "run r1 failed in")
}

func TestQuietPrintsOnlyFailures(t *testing.T) {
	p, out, _ := newTestPrinter(false)
	p.quiet = true
	p.event(runstate.Event{Stage: "a", Data: runstate.AttemptStart{Attempt: 1}})
	p.event(runstate.Event{Stage: "a", Data: runstate.StageEnd{Status: runstate.StageSucceeded}})
	p.event(runstate.Event{Stage: "b", Data: runstate.StageEnd{Status: runstate.StageFailed, Error: "boom"}})
	assert.Equal(t, "b                    failed: boom\n", out.String())
}

func TestHumanUnits(t *testing.T) {
	for in, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB", 5 << 20: "5.0 MiB", 3 << 30: "3.0 GiB"} {
		assert.Equal(t, want, humanBytes(in))
	}
	for in, want := range map[int64]string{999: "999", 12345: "12.3k", 2500000: "2.5M", 3e9: "3.0G"} {
		assert.Equal(t, want, humanCount(in))
	}
}

// TestSummaryLineCountsTheStages: every run ends with one line: status,
// wall time, ran and skipped always, the other counts when not zero; also
// with --quiet, never with --silent.
func TestSummaryLineCountsTheStages(t *testing.T) {
	end := runstate.Event{RunID: "r1", Data: runstate.RunEnd{Status: runstate.RunFailed, Error: "x",
		Counts: &runstate.StageCounts{Stages: 9, Ran: 3, Skipped: 2, Failed: 1, Blocked: 2, Pending: 1}}}
	p, out, clock := newTestPrinter(false)
	clock.t = clock.t.Add(1500 * time.Millisecond)
	p.event(end)
	assert.Equal(t, "run r1 failed in 1.5s: 3 ran, 2 skipped, 1 failed, 2 blocked, 1 pending\n", out.String())

	p, out, _ = newTestPrinter(false)
	p.event(runstate.Event{RunID: "r2", Data: runstate.RunEnd{Status: runstate.RunSucceeded, Counts: &runstate.StageCounts{Stages: 2, Skipped: 2}}})
	assert.Equal(t, "run r2 succeeded in 0s: 0 ran, 2 skipped\n", out.String())

	p, out, _ = newTestPrinter(false)
	p.quiet = true
	p.event(runstate.Event{Stage: "a", Data: runstate.StageSkip{}})
	p.event(end)
	assert.Equal(t, "run r1 failed in 0s: 3 ran, 2 skipped, 1 failed, 2 blocked, 1 pending\n", out.String())

	p, out, _ = newTestPrinter(false)
	p.quiet, p.silent = true, true
	p.event(runstate.Event{Stage: "b", Data: runstate.StageEnd{Status: runstate.StageFailed, Error: "boom"}})
	p.event(end)
	assert.Equal(t, "b                    failed: boom\n", out.String(), "--silent: failures only")
}

// TestLongRunsOfSkipsAreFolded: a run of consecutive skipped stages prints
// its first foldSkipsAfter lines and one line for the rest, which ends when
// something else is printed; --verbose lists every one.
func TestLongRunsOfSkipsAreFolded(t *testing.T) {
	skips := func(p *printer, from, n int) {
		for i := from; i < from+n; i++ {
			p.event(runstate.Event{Stage: fmt.Sprintf("s%04d", i), Data: runstate.StageSkip{}})
		}
	}
	for _, live := range []bool{false, true} {
		p, out, _ := newTestPrinter(live)
		skips(p, 0, 4501)
		p.event(runstate.Event{Stage: "x", Data: runstate.AttemptStart{Attempt: 1}})
		skips(p, 4501, 3)
		p.event(runstate.Event{RunID: "r", Data: runstate.RunEnd{Status: runstate.RunSucceeded, Counts: &runstate.StageCounts{Stages: 4504, Ran: 0, Skipped: 4504}}})
		got := out.String()
		assert.Equal(t, foldSkipsAfter+3, strings.Count(got, "skipped (up to date)\n"), got)
		assert.Contains(t, got, "s0009                skipped (up to date)\n... 4491 more stages skipped (up to date; --verbose lists them)\nx                    running\n")
		assert.NotContains(t, got, "s0010 ")
		if !live { // on a terminal the live block of x is redrawn in between
			assert.Contains(t, got, "s4503                skipped (up to date)\nrun r succeeded")
		}
		assert.Equal(t, 1, strings.Count(got, "more stages skipped"))
	}

	p, out, _ := newTestPrinter(false)
	p.verbose = true
	skips(p, 0, 50)
	p.event(runstate.Event{RunID: "r", Data: runstate.RunEnd{Status: runstate.RunSucceeded}})
	assert.Equal(t, 50, strings.Count(out.String(), "skipped (up to date)\n"))
	assert.NotContains(t, out.String(), "more stages skipped")

	// A long run of skips that ends the run is folded before the summary.
	p, out, _ = newTestPrinter(false)
	skips(p, 0, 12)
	p.event(runstate.Event{RunID: "r", Data: runstate.RunEnd{Status: runstate.RunSucceeded}})
	assert.True(t, strings.HasSuffix(out.String(), "... 2 more stages skipped (up to date; --verbose lists them)\nrun r succeeded in 0s\n"), out.String())
}
