package audit

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkOpen shows Open's cost does not depend on the log's size: it
// reads only the last record. Compare the ns/op of the sizes.
func BenchmarkOpen(b *testing.B) {
	for _, n := range []int{1_000, 100_000} {
		b.Run(fmt.Sprintf("records=%d", n), func(b *testing.B) {
			p := writeLog(b, b.TempDir(), key1, n)
			fi, err := os.Stat(p)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(fi.Size())/(1<<20), "log-MiB")
			b.ResetTimer()
			for b.Loop() {
				l, err := Open(p, key1)
				if err != nil {
					b.Fatal(err)
				}
				if err := l.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkVerify is linear in the log's size by nature.
func BenchmarkVerify(b *testing.B) {
	p := writeLog(b, b.TempDir(), key1, 100_000)
	b.ResetTimer()
	for b.Loop() {
		if _, err := Verify(p, key1); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppend(b *testing.B) {
	ev := Event{Type: "stage.end", RunID: "run1", Stage: "stage_upper", Data: map[string]any{"exitCode": 0, "attempt": 1}}
	for _, sync := range []bool{true, false} {
		b.Run(fmt.Sprintf("sync=%v", sync), func(b *testing.B) {
			l, err := Open(filepath.Join(b.TempDir(), "audit.jsonl"), key1)
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			for b.Loop() {
				if sync {
					_, err = l.Append(ev)
				} else {
					_, err = l.AppendNoSync(ev)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
