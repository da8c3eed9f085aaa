package sdk

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// benchInput writes about size bytes of text lines of varied length (10 to
// 120 bytes, mean about 65) and returns the path.
func benchInput(b *testing.B, size int) string {
	b.Helper()
	p := filepath.Join(b.TempDir(), "in.txt")
	f, err := os.Create(p)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(f)
	words := []string{"lorem", "ipsum", "dolor", "sit", "amet", "consectetur", "adipiscing", "elit", "sed", "do"}
	n, i := 0, 0
	for n < size {
		k, _ := fmt.Fprintf(w, "%08d", i)
		for j := 0; j < 1+i%19; j++ {
			m, _ := fmt.Fprintf(w, " %s", words[(i+j)%len(words)])
			k += m
		}
		w.WriteByte('\n')
		n += k + 1
		i++
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	return p
}

func copyLine(line []byte, w io.Writer) error {
	_, err := w.Write(line)
	return err
}

func benchMapLines(b *testing.B, checkpoints, wait bool) {
	defer func(old bool) { waitForCheckpoints = old }(waitForCheckpoints)
	waitForCheckpoints = wait
	in := benchInput(b, 64<<20)
	fi, err := os.Stat(in)
	if err != nil {
		b.Fatal(err)
	}
	outDir := b.TempDir()
	if d := os.Getenv("GUARDRUN_BENCH_DIR"); d != "" {
		// e.g. /dev/shm: measures the processor, not the disk
		var err error
		if outDir, err = os.MkdirTemp(d, "bench-"); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { os.RemoveAll(outDir) })
	}
	var cpu time.Duration
	defer func() {
		if cpu > 0 {
			b.ReportMetric(float64(b.N)*float64(fi.Size())/cpu.Seconds()/1e6, "MB/cpu-s")
		}
	}()
	b.SetBytes(fi.Size())
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		os.Remove(filepath.Join(outDir, "out.txt"))
		e := &Env{Inputs: []string{in}, OutputDir: outDir}
		var drained chan struct{}
		if checkpoints {
			// the pipeline defaults: every 100000 lines or every second
			e.CheckpointLines, e.CheckpointEvery = 100000, time.Second
			r, w, err := os.Pipe()
			if err != nil {
				b.Fatal(err)
			}
			e.progress = w
			drained = make(chan struct{})
			go func() { io.Copy(io.Discard, r); r.Close(); close(drained) }()
		}
		o, err := e.OpenOutput("out.txt")
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		c0 := cpuTime()
		if err := MapLines(e, o, copyLine); err != nil {
			b.Fatal(err)
		}
		// the runner fsyncs every output before commit: count it in both
		if err := o.Sync(); err != nil {
			b.Fatal(err)
		}
		if err := o.Close(); err != nil {
			b.Fatal(err)
		}
		cpu += cpuTime() - c0
		b.StopTimer()
		if checkpoints {
			e.Close()
			<-drained
		}
		b.StartTimer()
	}
}

// BenchmarkMapLinesCopy measures MapLines with a copying fn, no checkpoints,
// plus the final fsync that the runner does anyway.
func BenchmarkMapLinesCopy(b *testing.B) { benchMapLines(b, false, false) }

// BenchmarkMapLinesCopyCheckpointed adds the default checkpoint cadence
// (100000 lines or 1 s, each an fsync and a report).
// Checkpoints fsync in the background, so the line loop does not wait for
// the disk.
func BenchmarkMapLinesCopyCheckpointed(b *testing.B) { benchMapLines(b, true, false) }

// BenchmarkMapLinesCopyCheckpointedSync is the same with each checkpoint
// waited for, to show what background syncing saves.
func BenchmarkMapLinesCopyCheckpointedSync(b *testing.B) { benchMapLines(b, true, true) }
