package hashcache

import (
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
