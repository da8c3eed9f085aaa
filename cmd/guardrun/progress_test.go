package main

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/guardrun/guardrun/internal/runstate"
)

func newLivePrinter(stages, width int) (*printer, *strings.Builder, *fakeClock) {
	p, out, clock := newTestPrinter(true)
	p.stages = stages
	p.width = func() int { return width }
	var b strings.Builder
	p.w = &b
	_ = out
	return p, &b, clock
}

// lastBlock is the live block as last drawn.
func lastBlock(out string) string {
	if i := strings.LastIndex(out, "\x1b[K"); i >= 0 {
		out = out[i+len("\x1b[K"):]
	}
	if i := strings.LastIndex(out, "\x1b[J"); i >= 0 {
		out = out[i+len("\x1b[J"):]
	}
	return out
}

// TestLiveLines: what the live line of a stage says, by what the stage
// reports.
func TestLiveLines(t *testing.T) {
	for _, tc := range []struct {
		name   string
		events []runstate.Payload // at 0 s; the line is drawn at 2 s
		width  int
		want   string
	}{
		{"nothing reported: elapsed time", []runstate.Payload{runstate.StageStart{}, runstate.AttemptStart{Attempt: 1}}, 120,
			"[2/5] s  running, elapsed 2s"},
		{"bytes of a known total", []runstate.Payload{runstate.StageStart{}, runstate.AttemptStart{Attempt: 1}, runstate.ProgressReport{Lines: 10, Bytes: 1 << 20, TotalBytes: 4 << 20}}, 120,
			"[2/5] s  [=====>              ]   25%  1.0 MiB / 4.0 MiB  512.0 KiB/s  elapsed 2s  ETA 6s"},
		{"lines without a total", []runstate.Payload{runstate.StageStart{}, runstate.AttemptStart{Attempt: 1}, runstate.ProgressReport{Lines: 12345, Bytes: 2048}}, 120,
			"[2/5] s  12.3k lines, 2.0 KiB  1.0 KiB/s  elapsed 2s"},
		{"items of a fan-out stage", []runstate.Payload{runstate.StageStart{Items: 40}, runstate.ItemProgress{Done: 20, Skipped: 10, Total: 40}}, 120,
			"[2/5] s  [==========>         ]  20/40 items   50%  elapsed 2s  ETA 4s"},
		{"items before any ran: no ETA", []runstate.Payload{runstate.StageStart{Items: 40}, runstate.ItemProgress{Done: 10, Skipped: 10, Total: 40}}, 120,
			"[2/5] s  [=====>              ]  10/40 items   25%  elapsed 2s"},
		{"narrow: the rate and sizes go first", []runstate.Payload{runstate.StageStart{}, runstate.AttemptStart{Attempt: 1}, runstate.ProgressReport{Lines: 10, Bytes: 1 << 20, TotalBytes: 4 << 20}}, 60,
			"[2/5] s  [=====>              ]   25%  elapsed 2s  ETA 6s"},
		{"narrower: the bar goes", []runstate.Payload{runstate.StageStart{}, runstate.AttemptStart{Attempt: 1}, runstate.ProgressReport{Lines: 10, Bytes: 1 << 20, TotalBytes: 4 << 20}}, 30,
			"[2/5] s   25%  ETA 6s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, out, clock := newLivePrinter(5, tc.width)
			p.event(runstate.Event{Stage: "first", Data: runstate.StageSkip{}})
			for _, d := range tc.events {
				p.event(runstate.Event{Stage: "s", Data: d})
			}
			clock.t = clock.t.Add(2 * time.Second)
			p.draw(true)
			got := lastBlock(out.String())
			assert.Equal(t, tc.want, got)
			assert.Less(t, len(got), tc.width, "fits the terminal")
		})
	}
}

// TestRateAfterAResumeCountsOnlyThisAttempt: a stage resumed at byte 900
// that reached byte 1000 in one second reads 100 B/s, not 1000 B/s.
func TestRateAfterAResumeCountsOnlyThisAttempt(t *testing.T) {
	for _, live := range []bool{true, false} {
		p, out, clock := newLivePrinter(1, 200)
		p.live = live
		p.event(runstate.Event{Stage: "s", Data: runstate.StageStart{}})
		p.event(runstate.Event{Stage: "s", Data: runstate.StageResume{Attempt: 1, LineOffset: 9, ByteOffset: 900}})
		p.event(runstate.Event{Stage: "s", Data: runstate.AttemptStart{Attempt: 1}})
		clock.t = clock.t.Add(5 * time.Second)
		p.event(runstate.Event{Stage: "s", Data: runstate.ProgressReport{Lines: 10, Bytes: 1400, TotalBytes: 2000}})
		got := out.String()
		assert.Contains(t, got, "100 B/s", "live=%v", live)
		assert.Contains(t, got, "ETA 6s", "live=%v", live)
		assert.NotContains(t, got, "280 B/s", "live=%v: the resumed bytes are not this attempt's", live)
	}
}

// TestRedrawsAreThrottled: progress reports arriving faster than drawEvery
// redraw the live block once per drawEvery, not once per report.
func TestRedrawsAreThrottled(t *testing.T) {
	p, out, clock := newLivePrinter(1, 120)
	p.event(runstate.Event{Stage: "s", Data: runstate.AttemptStart{Attempt: 1}})
	start := strings.Count(out.String(), "[1/1] s")
	for i := 1; i <= 1000; i++ { // 1000 reports in 1 s
		clock.t = clock.t.Add(time.Millisecond)
		p.event(runstate.Event{Stage: "s", Data: runstate.ProgressReport{Lines: int64(i), Bytes: int64(i), TotalBytes: 1000}})
	}
	draws := strings.Count(out.String(), "[1/1] s") - start
	assert.InDelta(t, 10, draws, 1, "about 10 redraws in 1 s")
}

// TestNoticeErasesAndStopsTheLiveBlock: the interrupt message erases the
// live block, and nothing is drawn after it; close erases it too.
func TestNoticeErasesAndStopsTheLiveBlock(t *testing.T) {
	p, out, clock := newLivePrinter(2, 120)
	p.event(runstate.Event{Stage: "a", Data: runstate.AttemptStart{Attempt: 1}})
	p.event(runstate.Event{Stage: "b", Data: runstate.AttemptStart{Attempt: 1}})
	livePrinter.Store(p)
	defer livePrinter.Store(nil)
	var msg strings.Builder
	notice(&msg, "guardrun: interrupted")
	assert.True(t, strings.HasSuffix(out.String(), "[2/2] b  running, elapsed 0s\r\x1b[K\x1b[1A\x1b[J"), "%q", out.String())
	assert.Equal(t, "guardrun: interrupted\n", msg.String())
	n := out.Len()
	clock.t = clock.t.Add(time.Second)
	p.event(runstate.Event{Stage: "a", Data: runstate.ProgressReport{Lines: 1, Bytes: 1, TotalBytes: 10}})
	p.draw(true)
	assert.Equal(t, n, out.Len(), "nothing drawn after the interrupt")
}

func TestShortDurationsAndBars(t *testing.T) {
	for d, want := range map[time.Duration]string{0: "0s", 1500 * time.Millisecond: "2s", 65 * time.Second: "1m05s", 2*time.Hour + 3*time.Minute: "2h03m"} {
		assert.Equal(t, want, shortDur(d))
	}
	for frac, want := range map[float64]string{0: "[>                   ]", 0.5: "[==========>         ]", 1: "[====================]", 2: "[====================]"} {
		assert.Equal(t, want, bar(frac))
	}
}
