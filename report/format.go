package report

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// fmtTime is a UTC timestamp with milliseconds, "—" when not recorded.
func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05.000") + " UTC"
}

// fmtDur is a duration for people: 0.4 ms, 125 ms, 1.25 s, 2 min 05 s,
// 1 h 02 min.
func fmtDur(d time.Duration) string {
	switch {
	case d < 0:
		return "−" + fmtDur(-d)
	case d < time.Millisecond:
		return strconv.FormatFloat(float64(d)/1e6, 'f', 1, 64) + " ms"
	case d < time.Second:
		return strconv.FormatInt(d.Round(time.Millisecond).Milliseconds(), 10) + " ms"
	case d < 10*time.Second:
		return strconv.FormatFloat(d.Seconds(), 'f', 2, 64) + " s"
	case d < time.Minute:
		return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + " s"
	case d < time.Hour:
		d = d.Round(time.Second)
		return fmt.Sprintf("%d min %02d s", int(d.Minutes()), int(d.Seconds())%60)
	}
	d = d.Round(time.Minute)
	return fmt.Sprintf("%d h %02d min", int(d.Hours()), int(d.Minutes())%60)
}

func fmtSeconds(s float64) string {
	return fmtDur(time.Duration(s * float64(time.Second)))
}

// fmtMs is a retry delay given in milliseconds.
func fmtMs(ms int64) string { return fmtDur(time.Duration(ms) * time.Millisecond) }

// fmtBytes uses IEC units: 0 B, 512 B, 1.5 KiB, 12.0 MiB.
func fmtBytes(n int64) string {
	if n < 1024 {
		return strconv.FormatInt(n, 10) + " B"
	}
	units := []string{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	v := float64(n)
	i := -1
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	prec := 1
	if v >= 100 {
		prec = 0
	}
	return strconv.FormatFloat(v, 'f', prec, 64) + " " + units[i]
}

// fmtCount groups digits: 1,234,567.
func fmtCount(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// fmtAxis labels an axis tick at d from the run start.
func fmtAxis(d, step time.Duration) string {
	if d == 0 {
		return "0"
	}
	switch {
	case step < time.Millisecond:
		return strconv.FormatFloat(float64(d)/1e6, 'f', -1, 64) + " ms"
	case step < time.Second:
		if d < time.Second {
			return strconv.FormatInt(d.Milliseconds(), 10) + " ms"
		}
		return strings.TrimSuffix(strings.TrimRight(strconv.FormatFloat(d.Seconds(), 'f', 3, 64), "0"), ".") + " s"
	case step < time.Minute:
		return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + " s"
	case step < time.Hour:
		return strconv.FormatFloat(d.Minutes(), 'f', -1, 64) + " min"
	}
	return strconv.FormatFloat(d.Hours(), 'f', -1, 64) + " h"
}

// tickStep picks 1, 2 or 5 times a power of ten (of milliseconds, and
// minute/hour multiples for long runs) so that span has at most maxTicks
// intervals.
func tickStep(span time.Duration, maxTicks int) time.Duration {
	if span <= 0 {
		return time.Millisecond
	}
	raw := float64(span) / float64(maxTicks)
	steps := []time.Duration{}
	for p := 100 * time.Microsecond; p <= 10*time.Second; p *= 10 {
		for _, m := range []time.Duration{1, 2, 5} {
			steps = append(steps, p*m)
		}
	}
	steps = append(steps[:len(steps)-1], 30*time.Second, time.Minute, 2*time.Minute, 5*time.Minute, 10*time.Minute, 15*time.Minute,
		30*time.Minute, time.Hour, 2*time.Hour, 6*time.Hour, 12*time.Hour, 24*time.Hour)
	for _, s := range steps {
		if s > 0 && float64(s) >= raw {
			return s
		}
	}
	return time.Duration(math.Ceil(raw/float64(24*time.Hour))) * 24 * time.Hour
}

// statusClass maps a run, stage or attempt status to a colour class.
func statusClass(s string) string {
	switch s {
	case "succeeded":
		return "ok"
	case "failed", "start_failed", "timeout", "oom_kill":
		return "bad"
	case "transient", "interrupted":
		return "warn"
	case "running":
		return "info"
	case "blocked":
		return "blocked"
	}
	return "muted"
}
