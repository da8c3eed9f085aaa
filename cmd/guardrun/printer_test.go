package main

import (
	"bytes"
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
	assert.Contains(t, got, "  > a                   25%  100 B / 400 B, 10 lines  100 B/s  ETA 3s\n")
	assert.Contains(t, got, "\x1b[2A\x1b[J", "the two live lines are erased before redrawing")
	out.Reset()
	p.event(runstate.Event{Stage: "a", Data: runstate.StageEnd{Status: runstate.StageFailed, Error: "exit code 3"}})
	p.event(runstate.Event{RunID: "r1", Data: runstate.RunEnd{Status: runstate.RunFailed}})
	got = out.String()
	assert.Contains(t, got, "a                    failed: exit code 3\n")
	assert.NotContains(t, got[strings.LastIndex(got, "\x1b[J"):], "  > ", "the block is gone at the end")
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
