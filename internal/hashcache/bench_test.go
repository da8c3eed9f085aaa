package hashcache

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkFile hashes a 64 MiB file (from the page cache after the first
// iteration): the cost of a cache miss.
func BenchmarkFile(b *testing.B) {
	const size = 64 << 20
	path := filepath.Join(b.TempDir(), "big")
	require := func(err error) {
		if err != nil {
			b.Fatal(err)
		}
	}
	require(os.WriteFile(path, randomBytes(size, 42), 0o644))
	b.SetBytes(size)
	for b.Loop() {
		_, err := File(path)
		require(err)
	}
}

// BenchmarkSumCached is a cache hit: one stat and a map lookup, the no-op
// path of a re-run whose inputs did not change.
func BenchmarkSumCached(b *testing.B) {
	dir := b.TempDir()
	path := filepath.Join(dir, "in")
	writeOld(b, path, randomBytes(64<<20, 43))
	c := Open(filepath.Join(dir, "cache.json"))
	if _, _, err := c.Sum(path); err != nil {
		b.Fatal(err)
	}
	hashes := countHashes(c)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := c.Sum(path); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if n := hashes.Load(); n != 0 {
		b.Fatalf("cache missed %d times", n)
	}
}

// BenchmarkDecode reads a cache file of 20,000 entries (a 10,000-item
// fan-out stage's inputs and outputs), as every run does first.
func BenchmarkDecode(b *testing.B) {
	entries := map[string]Entry{}
	for i := range 20000 {
		entries[fmt.Sprintf("/tmp/workspace/data/input/f%05d.txt", i)] = Entry{
			ID:     FileID{Dev: 65024, Ino: uint64(10117181 + i), Size: int64(i), MtimeNs: 1796230459267089810 + int64(i), CtimeNs: 1796236051601222363},
			SHA256: fmt.Sprintf("%064x", i), HashedAtNs: 1796236051601222363, Produced: i%2 == 0,
		}
	}
	raw := encode(entries)
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if got, ok := decode(raw); !ok || len(got) != len(entries) {
			b.Fatal("decode failed")
		}
	}
}
