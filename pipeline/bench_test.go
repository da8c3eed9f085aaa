package pipeline

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// BenchmarkLoad400 loads a 400-stage chain (each stage reading the previous
// one's output), the size the no-op rerun target is stated for.
func BenchmarkLoad400(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(`{"version":1,"name":"big","stages":[`)
	for i := range 400 {
		if i > 0 {
			sb.WriteString(",")
		}
		fmt.Fprintf(&sb, `{"name":"s%d","processor":{"go":"./processors/copy"},"inputs":["data/s%d/out.txt"],"outputDir":"data/s%d","outputs":["out.txt"],"env":{"LC_ALL":"C"},"retry":{"maxAttempts":2}}`, i, i-1, i)
	}
	sb.WriteString("]}")
	data := []byte(sb.String())
	work := b.TempDir()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(data, filepath.Join(work, "pipeline.json"), testOpts); err != nil {
			b.Fatal(err)
		}
	}
}
