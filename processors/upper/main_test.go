package main

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/guardrun/guardrun/processors/sdk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func refUpper(b []byte) []byte {
	out := make([]byte, len(b))
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		}
		out[i] = c
	}
	return out
}

func TestUpperASCII(t *testing.T) {
	var all []byte
	for c := range 256 {
		all = append(all, byte(c))
	}
	tests := []struct{ name, in string }{
		{"empty", ""},
		{"short", "abc"},
		{"mixed", "Hello, World! zZaA{}`@[]\r\n"},
		{"utf8 untouched", "straße café ÿ ﬀ"},
		{"every byte", string(all)},
		{"every byte shifted", string(all[3:]) + string(all[:3])},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := []byte(tc.in)
			upperASCII(b)
			assert.Equal(t, refUpper([]byte(tc.in)), b)
		})
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		b := make([]byte, r.IntN(70))
		for i := range b {
			b[i] = byte(r.UintN(256))
		}
		want := refUpper(b)
		upperASCII(b)
		require.Equal(t, want, b)
	}
}

func TestRunDefaultsAndParams(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.txt")
	require.NoError(t, os.WriteFile(in, []byte("abc\nDef\r\nghi"), 0o644))
	tests := []struct {
		name    string
		outputs []string
		params  string
		want    string
	}{
		{"default name", nil, `{}`, "result.txt"},
		{"params.output", nil, `{"output":"p.txt"}`, "p.txt"},
		{"declared output wins", []string{"d.txt"}, `{"output":"p.txt"}`, "d.txt"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := t.TempDir()
			e := &sdk.Env{Inputs: []string{in}, OutputDir: out, Outputs: tc.outputs, Params: []byte(tc.params)}
			require.NoError(t, run(e))
			got, err := os.ReadFile(filepath.Join(out, tc.want))
			require.NoError(t, err)
			assert.Equal(t, "ABC\nDEF\r\nGHI", string(got))
		})
	}
	e := &sdk.Env{Inputs: []string{in}, OutputDir: t.TempDir(), Params: []byte(`{"outptu":"x"}`)}
	assert.Error(t, run(e), "misspelt params are rejected")
}

func BenchmarkUpperASCII(b *testing.B) {
	buf := bytes.Repeat([]byte("The quick brown fox jumps over the lazy dog 0123456789.\n"), 1<<14)
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		upperASCII(buf)
	}
}

// BenchmarkMapLinesUpper is the upper processor's whole pipeline: MapLines
// over a 64 MiB file of ~65-byte lines, upper-casing into an output file,
// checkpoints disabled. "pagecache" stops when the output is handed to the
// kernel (the processor's own speed); "fsync" adds the final fsync the runner
// does before commit (bound by the disk).
func BenchmarkMapLinesUpper(b *testing.B) {
	b.Run("pagecache", func(b *testing.B) { benchUpper(b, false) })
	b.Run("fsync", func(b *testing.B) { benchUpper(b, true) })
}

func benchUpper(b *testing.B, fsync bool) {
	dir := b.TempDir()
	in := filepath.Join(dir, "in.txt")
	f, err := os.Create(in)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(f)
	var size int64
	for i := 0; size < 64<<20; i++ {
		n, _ := fmt.Fprintf(w, "%08d lorem ipsum dolor sit amet %s\n", i, bytes.Repeat([]byte("x"), i%60))
		size += int64(n)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	f.Close()
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
			b.ReportMetric(float64(b.N)*float64(size)/cpu.Seconds()/1e6, "MB/cpu-s")
		}
	}()
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		os.Remove(filepath.Join(outDir, "result.txt"))
		e := &sdk.Env{Inputs: []string{in}, OutputDir: outDir}
		out, err := e.OpenOutput("result.txt")
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		c0 := cpuTime()
		err = sdk.MapLines(e, out, upperLine(out))
		if err != nil {
			b.Fatal(err)
		}
		if fsync {
			if err := out.Sync(); err != nil {
				b.Fatal(err)
			}
		}
		if err := out.Close(); err != nil {
			b.Fatal(err)
		}
		cpu += cpuTime() - c0
	}
}
