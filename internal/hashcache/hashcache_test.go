package hashcache

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// randomBytes returns n deterministic pseudo-random bytes with a newline
// roughly every 64 bytes.
func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
		if r.IntN(64) == 0 {
			b[i] = '\n'
		}
	}
	return b
}

// oldTime is comfortably older than RacyWindow.
var oldTime = time.Now().Add(-time.Hour).Truncate(time.Second)

// writeOld writes a file and backdates its mtime so its entries are trusted.
func writeOld(t testing.TB, path string, data []byte) {
	t.Helper()
	require.NoError(t, os.WriteFile(path, data, 0o644))
	require.NoError(t, os.Chtimes(path, oldTime, oldTime))
}

// countHashes makes c count how often Sum actually reads a file: Sum asks
// the clock exactly once per hashing, right before reading.
func countHashes(c *Cache) *atomic.Int32 {
	var n atomic.Int32
	c.now = func() time.Time {
		n.Add(1)
		return time.Now()
	}
	return &n
}

func TestFile(t *testing.T) {
	tests := []struct {
		name string
		data []byte
	}{
		{"empty", []byte{}},
		{"one byte", []byte("x")},
		{"small", []byte("hello\nworld\n")},
		{"exactly one buffer", randomBytes(1<<20, 1)},
		{"multi MiB, not buffer aligned", randomBytes(5<<20+123, 2)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "f")
			require.NoError(t, os.WriteFile(path, tc.data, 0o644))
			got, err := File(path)
			require.NoError(t, err)
			assert.Equal(t, sha(tc.data), got)
		})
	}
}

func TestFileErrors(t *testing.T) {
	_, err := File(filepath.Join(t.TempDir(), "missing"))
	assert.ErrorIs(t, err, fs.ErrNotExist)
	_, err = File(t.TempDir())
	require.Error(t, err, "a directory cannot be hashed")
	assert.ErrorContains(t, err, "hashing")
}

func TestStat(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	writeOld(t, path, []byte("abc"))
	id, fi, err := Stat(path)
	require.NoError(t, err)
	assert.Equal(t, int64(3), id.Size)
	assert.Equal(t, oldTime.UnixNano(), id.MtimeNs)
	assert.Equal(t, fi.ModTime().UnixNano(), id.MtimeNs)
	assert.NotZero(t, id.Ino)
	assert.NotZero(t, id.CtimeNs)
	_, _, err = Stat(filepath.Join(t.TempDir(), "missing"))
	assert.ErrorIs(t, err, fs.ErrNotExist)
}

func TestSumHashesOnceThenServesFromCache(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "in.txt")
	data := randomBytes(300_000, 3)
	writeOld(t, path, data)
	c := Open(filepath.Join(dir, "cache.json"))
	hashes := countHashes(c)

	for i := 0; i < 3; i++ {
		sum, id, err := c.Sum(path)
		require.NoError(t, err)
		assert.Equal(t, sha(data), sum)
		assert.Equal(t, int64(len(data)), id.Size)
		assert.Equal(t, int32(1), hashes.Load(), "call %d: only the first Sum reads the file", i+1)
	}
	id, _, err := Stat(path)
	require.NoError(t, err)
	sum, ok := c.Lookup(path, id)
	assert.True(t, ok)
	assert.Equal(t, sha(data), sum)
	_, ok = c.Lookup(filepath.Join(dir, "other"), id)
	assert.False(t, ok, "entries are per path")
}

func TestSumMissingFile(t *testing.T) {
	c := Open(filepath.Join(t.TempDir(), "cache.json"))
	_, _, err := c.Sum(filepath.Join(t.TempDir(), "missing"))
	assert.ErrorIs(t, err, fs.ErrNotExist)
	assert.False(t, c.dirty)
}

// TestRacilyCleanFile covers git's rule: an entry whose file was modified
// within RacyWindow of being hashed is not trusted, because a second write in
// the same timestamp tick could leave size and mtime unchanged.
func TestRacilyCleanFile(t *testing.T) {
	t.Run("same size and mtime, new content, hashed recently", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "in.txt")
		require.NoError(t, os.WriteFile(path, []byte("aaaa\n"), 0o644))
		c := Open(filepath.Join(dir, "cache.json"))
		hashes := countHashes(c)
		sum, id1, err := c.Sum(path) // mtime is "now": racily clean
		require.NoError(t, err)
		assert.Equal(t, sha([]byte("aaaa\n")), sum)

		// Rewrite in place with the same size and put the mtime back.
		mtime := time.Unix(0, id1.MtimeNs)
		require.NoError(t, os.WriteFile(path, []byte("bbbb\n"), 0o644))
		require.NoError(t, os.Chtimes(path, mtime, mtime))

		sum, id2, err := c.Sum(path)
		require.NoError(t, err)
		assert.Equal(t, id1.Size, id2.Size)
		assert.Equal(t, id1.MtimeNs, id2.MtimeNs)
		assert.Equal(t, sha([]byte("bbbb\n")), sum, "must not return the stale hash")
		assert.Equal(t, int32(2), hashes.Load())
	})

	// The next cases pin the whole identity (the kernel always moves ctime
	// on a write, which would hide the racy rule): the entry is made with
	// the file's current FileID and a hash that is NOT the content's, so
	// the test sees whether Sum trusted the entry or read the file.
	const bogus = "0000000000000000000000000000000000000000000000000000000000000000"
	tests := []struct {
		name        string
		hashedAfter time.Duration // hashing time minus mtime
		produced    bool
		trusted     bool
	}{
		{name: "hashed in the same tick", hashedAfter: 0, trusted: false},
		{name: "hashed before mtime (clock skew)", hashedAfter: -time.Second, trusted: false},
		{name: "hashed just inside the window", hashedAfter: RacyWindow - time.Nanosecond, trusted: false},
		{name: "hashed exactly RacyWindow later", hashedAfter: RacyWindow, trusted: true},
		// The accepted trade-off (git's rule): once the entry is
		// non-racy, a content change that keeps dev, inode, size, mtime
		// and ctime identical is not noticed. Only a deliberate clock
		// manipulation or filesystem corruption can produce it.
		{name: "hashed long after: identical stat is trusted", hashedAfter: time.Hour, trusted: true},
		{name: "produced output hashed in the same tick", hashedAfter: 0, produced: true, trusted: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "in.txt")
			require.NoError(t, os.WriteFile(path, []byte("real content\n"), 0o644))
			id, _, err := Stat(path)
			require.NoError(t, err)
			c := Open(filepath.Join(dir, "cache.json"))
			hashes := countHashes(c)
			c.Put(path, id, bogus, time.Unix(0, id.MtimeNs).Add(tc.hashedAfter), tc.produced)

			_, ok := c.Lookup(path, id)
			assert.Equal(t, tc.trusted, ok)
			sum, _, err := c.Sum(path)
			require.NoError(t, err)
			if tc.trusted {
				assert.Equal(t, bogus, sum, "trusted entry served without reading")
				assert.Equal(t, int32(0), hashes.Load())
			} else {
				assert.Equal(t, sha([]byte("real content\n")), sum, "racy entry re-hashed")
				assert.Equal(t, int32(1), hashes.Load())
			}
		})
	}

	t.Run("racy entry becomes trusted once re-hashed later", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "in.txt")
		writeOld(t, path, []byte("x\n"))
		c := Open(filepath.Join(dir, "cache.json"))
		var hashes atomic.Int32
		clock := oldTime.Add(time.Second) // first hash: 1s after mtime
		c.now = func() time.Time { hashes.Add(1); return clock }
		_, _, err := c.Sum(path)
		require.NoError(t, err)
		_, _, err = c.Sum(path)
		require.NoError(t, err)
		assert.Equal(t, int32(2), hashes.Load(), "racy: read again")
		clock = oldTime.Add(RacyWindow + time.Second)
		_, _, err = c.Sum(path)
		require.NoError(t, err)
		_, _, err = c.Sum(path)
		require.NoError(t, err)
		assert.Equal(t, int32(3), hashes.Load(), "the non-racy entry is then trusted")
	})
}

func TestPutProducedTrustedEvenIfRecent(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.txt")
	data := []byte("produced\n")
	require.NoError(t, os.WriteFile(path, data, 0o644)) // mtime: now
	id, _, err := Stat(path)
	require.NoError(t, err)
	c := Open(filepath.Join(dir, "cache.json"))
	hashes := countHashes(c)
	c.Put(path, id, sha(data), time.Now(), true)

	sum, _, err := c.Sum(path)
	require.NoError(t, err)
	assert.Equal(t, sha(data), sum)
	assert.Equal(t, int32(0), hashes.Load(), "a produced entry is trusted at once")

	// The same recent entry without produced is not.
	c.Put(path, id, sha(data), time.Now(), false)
	_, _, err = c.Sum(path)
	require.NoError(t, err)
	assert.Equal(t, int32(1), hashes.Load())

	// Produced does not excuse an identity change.
	c.Put(path, id, sha(data), time.Now(), true)
	require.NoError(t, os.WriteFile(path, []byte("changed!\n"), 0o644))
	sum, _, err = c.Sum(path)
	require.NoError(t, err)
	assert.Equal(t, sha([]byte("changed!\n")), sum)
}

func TestIdentityChangeMisses(t *testing.T) {
	orig := []byte("original content\n")
	tests := []struct {
		name    string
		change  func(t *testing.T, path string)
		content []byte // expected content afterwards
		differs func(a, b FileID) bool
	}{
		{
			name: "size",
			change: func(t *testing.T, path string) {
				writeOld(t, path, []byte("original content\nmore\n"))
			},
			content: []byte("original content\nmore\n"),
			differs: func(a, b FileID) bool { return a.Size != b.Size },
		},
		{
			name: "mtime only",
			change: func(t *testing.T, path string) {
				other := oldTime.Add(-time.Minute)
				require.NoError(t, os.Chtimes(path, other, other))
			},
			content: orig,
			differs: func(a, b FileID) bool { return a.MtimeNs != b.MtimeNs },
		},
		{
			name: "same size and mtime, new content",
			change: func(t *testing.T, path string) {
				writeOld(t, path, []byte("ORIGINAL CONTENT\n"))
			},
			content: []byte("ORIGINAL CONTENT\n"),
			differs: func(a, b FileID) bool { return a.CtimeNs != b.CtimeNs },
		},
		{
			name: "inode, by rename over with same size and mtime",
			change: func(t *testing.T, path string) {
				tmp := path + ".new"
				writeOld(t, tmp, []byte("replaced content\n"))
				require.NoError(t, os.Rename(tmp, path))
			},
			content: []byte("replaced content\n"),
			differs: func(a, b FileID) bool { return a.Ino != b.Ino },
		},
		{
			name: "ctime only, by chmod",
			change: func(t *testing.T, path string) {
				// chmod until the ctime moves: its clock ticks coarsely on
				// some kernels (HZ=100: 10 ms), so wait for the event.
				before, _, err := Stat(path)
				require.NoError(t, err)
				mode := os.FileMode(0o600)
				for i := 0; ; i++ {
					require.NoError(t, os.Chmod(path, mode))
					now, _, err := Stat(path)
					require.NoError(t, err)
					if now.CtimeNs != before.CtimeNs {
						break
					}
					require.Less(t, i, 100000, "ctime never moved")
					mode ^= 0o040
				}
			},
			content: orig,
			differs: func(a, b FileID) bool { return a.CtimeNs != b.CtimeNs },
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "in.txt")
			writeOld(t, path, orig)
			c := Open(filepath.Join(dir, "cache.json"))
			hashes := countHashes(c)
			_, id1, err := c.Sum(path)
			require.NoError(t, err)

			tc.change(t, path)
			sum, id2, err := c.Sum(path)
			require.NoError(t, err)
			assert.True(t, tc.differs(id1, id2), "the change must show in the identity: %+v vs %+v", id1, id2)
			assert.Equal(t, sha(tc.content), sum)
			assert.Equal(t, int32(2), hashes.Load(), "identity changed: must re-read")
			_, ok := c.Lookup(path, id1)
			assert.False(t, ok, "the old identity no longer matches the entry")
		})
	}
}

func TestSumFileChangedWhileRead(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "in.txt")
	writeOld(t, path, []byte("before\n"))
	c := Open(filepath.Join(dir, "cache.json"))
	// The clock is read between the first stat and the read: change the
	// file right there, as a concurrent writer would.
	c.now = func() time.Time {
		require.NoError(t, os.WriteFile(path, []byte("after, longer\n"), 0o644))
		return time.Now()
	}
	_, _, err := c.Sum(path)
	require.Error(t, err)
	assert.ErrorContains(t, err, "file changed while being read")
	assert.Empty(t, c.entries, "nothing cached")
	assert.False(t, c.dirty)
}

// cacheFileState is what a no-op Save must leave untouched.
func cacheFileState(t *testing.T, path string) (FileID, []byte) {
	t.Helper()
	id, _, err := Stat(path)
	require.NoError(t, err)
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return id, b
}

func TestSaveAndOpen(t *testing.T) {
	dir := t.TempDir()
	cachePath := filepath.Join(dir, "state", "hashcache.json")
	require.NoError(t, os.Mkdir(filepath.Dir(cachePath), 0o755))
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	writeOld(t, a, []byte("aaa"))
	writeOld(t, b, randomBytes(10_000, 4))

	c := Open(cachePath)
	require.NoError(t, c.Save())
	_, err := os.Stat(cachePath)
	assert.ErrorIs(t, err, fs.ErrNotExist, "a clean cache writes nothing")

	sumA, _, err := c.Sum(a)
	require.NoError(t, err)
	sumB, _, err := c.Sum(b)
	require.NoError(t, err)
	require.NoError(t, c.Save())

	raw, err := os.ReadFile(cachePath)
	require.NoError(t, err)
	ents, ok := decode(raw)
	require.True(t, ok)
	assert.True(t, strings.HasPrefix(string(raw), fileHeader+"\n"))
	assert.Len(t, ents, 2)
	assert.Equal(t, sumA, ents[a].SHA256)

	// No change since the last Save: nothing is written.
	id0, raw0 := cacheFileState(t, cachePath)
	require.NoError(t, c.Save())
	idAfter, rawAfter := cacheFileState(t, cachePath)
	assert.Equal(t, id0, idAfter, "no-change Save must not rewrite the file")
	assert.Equal(t, raw0, rawAfter)

	// A reopened cache serves both entries without reading the files, and
	// cache hits and identical Puts do not make it dirty.
	c2 := Open(cachePath)
	hashes := countHashes(c2)
	got, _, err := c2.Sum(a)
	require.NoError(t, err)
	assert.Equal(t, sumA, got)
	got, idB, err := c2.Sum(b)
	require.NoError(t, err)
	assert.Equal(t, sumB, got)
	assert.Equal(t, int32(0), hashes.Load())
	e := c2.entries[b]
	c2.Put(b, idB, e.SHA256, time.Unix(0, e.HashedAtNs), e.Produced)
	require.NoError(t, c2.Save())
	idAfter, rawAfter = cacheFileState(t, cachePath)
	assert.Equal(t, id0, idAfter, "a reopened, unchanged cache must not rewrite the file")
	assert.Equal(t, raw0, rawAfter)

	// A change is written atomically (a new inode) and survives a reopen.
	writeOld(t, a, []byte("AAAA"))
	_, _, err = c2.Sum(a)
	require.NoError(t, err)
	require.NoError(t, c2.Save())
	idNew, _ := cacheFileState(t, cachePath)
	assert.NotEqual(t, id0.Ino, idNew.Ino, "saved by rename")
	c3 := Open(cachePath)
	hashes = countHashes(c3)
	got, _, err = c3.Sum(a)
	require.NoError(t, err)
	assert.Equal(t, sha([]byte("AAAA")), got)
	assert.Equal(t, int32(0), hashes.Load())
	entries, err := os.ReadDir(filepath.Dir(cachePath))
	require.NoError(t, err)
	assert.Len(t, entries, 1, "no temp files next to the cache")
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	in := map[string]Entry{
		"/plain":              {ID: FileID{Dev: 2049, Ino: 1 << 40, Size: 12, MtimeNs: 1700000000123456789, CtimeNs: -5}, SHA256: strings.Repeat("0f", 32), HashedAtNs: 42},
		"/with space/a b.txt": {ID: FileID{Size: 0}, SHA256: strings.Repeat("ff", 32), Produced: true},
		"C:\\windows\\path":   {SHA256: strings.Repeat("12", 32)},
	}
	out, ok := decode(encode(in))
	require.True(t, ok)
	assert.Equal(t, in, out)
	// A path with a newline cannot be represented: it is not cached.
	out, ok = decode(encode(map[string]Entry{"/a\nb": {SHA256: strings.Repeat("00", 32)}}))
	require.True(t, ok)
	assert.Empty(t, out)
}

func TestOpenUnusableStartsEmpty(t *testing.T) {
	valid := encode(map[string]Entry{"/x": {SHA256: strings.Repeat("ab", 32), ID: FileID{Size: 1}}})
	good := string(valid)
	tests := []struct {
		name    string
		content *string // nil: missing
	}{
		{name: "missing"},
		{name: "empty", content: ptr("")},
		{name: "garbage", content: ptr("\x00not json")},
		{name: "truncated", content: ptr(good[:len(good)/2])},
		{name: "no final newline", content: ptr(strings.TrimSuffix(good, "\n"))},
		{name: "wrong version", content: ptr(strings.Replace(good, "hashcache 2", "hashcache 1", 1))},
		{name: "no header", content: ptr(good[strings.IndexByte(good, '\n')+1:])},
		{name: "short hash", content: ptr(strings.Replace(good, strings.Repeat("ab", 32), "ab", 1))},
		{name: "bad number", content: ptr(strings.Replace(good, " 1 ", " x ", 1))},
		{name: "bad produced flag", content: ptr(strings.Replace(good, " 0 /x", " 2 /x", 1))},
		{name: "missing path", content: ptr(strings.Replace(good, " 0 /x", " 0 ", 1))},
		{name: "old json format", content: ptr(`{"version":1,"entries":{"x":{"sha256":"ab"}}}`)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			cachePath := filepath.Join(dir, "cache.json")
			if tc.content != nil {
				require.NoError(t, os.WriteFile(cachePath, []byte(*tc.content), 0o644))
			}
			c := Open(cachePath)
			assert.Empty(t, c.entries)
			assert.False(t, c.dirty)
			// Usable: it hashes and saves over the bad file.
			path := filepath.Join(dir, "f")
			writeOld(t, path, []byte("f"))
			_, _, err := c.Sum(path)
			require.NoError(t, err)
			require.NoError(t, c.Save())
			assert.Len(t, Open(cachePath).entries, 1)
		})
	}
	// Control: the valid file does load, so the cases above can fail.
	p := filepath.Join(t.TempDir(), "cache.json")
	require.NoError(t, os.WriteFile(p, valid, 0o644))
	assert.Len(t, Open(p).entries, 1)
}

func TestSaveFailureKeepsChanges(t *testing.T) {
	dir := t.TempDir()
	cachePath := filepath.Join(dir, "state", "hashcache.json") // state/ missing
	path := filepath.Join(dir, "f")
	writeOld(t, path, []byte("f"))
	c := Open(cachePath)
	_, _, err := c.Sum(path)
	require.NoError(t, err)
	require.Error(t, c.Save())

	require.NoError(t, os.Mkdir(filepath.Dir(cachePath), 0o755))
	require.NoError(t, c.Save(), "retry")
	assert.Len(t, Open(cachePath).entries, 1, "a failed Save must not lose the changes")
}

func TestConcurrentSum(t *testing.T) {
	dir := t.TempDir()
	const files = 16
	paths := make([]string, files)
	want := make([]string, files)
	for i := range paths {
		paths[i] = filepath.Join(dir, fmt.Sprintf("f%02d", i))
		data := randomBytes(50_000+i*1000, uint64(i))
		if i%2 == 0 {
			writeOld(t, paths[i], data) // cacheable
		} else {
			require.NoError(t, os.WriteFile(paths[i], data, 0o644)) // racy: re-read each time
		}
		want[i] = sha(data)
	}
	c := Open(filepath.Join(dir, "cache.json"))
	var wg sync.WaitGroup
	for g := 0; g < 32; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for round := 0; round < 4; round++ {
				for k := range paths {
					i := (k + g) % files
					sum, _, err := c.Sum(paths[i])
					if !assert.NoError(t, err) {
						return
					}
					assert.Equal(t, want[i], sum, "file %d", i)
				}
				if g%8 == 0 {
					assert.NoError(t, c.Save())
				}
			}
		}(g)
	}
	wg.Wait()
	require.NoError(t, c.Save())
	assert.Len(t, Open(filepath.Join(dir, "cache.json")).entries, files)
}

func TestIncremental(t *testing.T) {
	data := randomBytes(3<<20+777, 5)
	path := filepath.Join(t.TempDir(), "out")
	require.NoError(t, os.WriteFile(path, data, 0o644))
	size := int64(len(data))
	tests := []struct {
		name  string
		steps []int64
	}{
		{name: "finish only"},
		{name: "one byte then rest", steps: []int64{1}},
		{name: "many uneven steps", steps: []int64{0, 7, 4096, 1 << 20, 1<<20 + 1, 2<<20 + 3, size - 1, size}},
		{name: "repeated and smaller sizes are no-ops", steps: []int64{100, 100, 50, 200}},
		{name: "whole file", steps: []int64{size}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := NewIncremental(path)
			for _, s := range tc.steps {
				before := in.Offset()
				require.NoError(t, in.Advance(s))
				assert.Equal(t, max(before, s), in.Offset())
				assert.Equal(t, int64(bytes.Count(data[:in.Offset()], []byte{'\n'})), in.Lines())
			}
			sum, err := in.Finish(size)
			require.NoError(t, err)
			assert.Equal(t, sha(data), sum)
			assert.Equal(t, size, in.Offset())
			assert.Equal(t, int64(bytes.Count(data, []byte{'\n'})), in.Lines())
			assert.Positive(t, in.Lines())
		})
	}
}

func TestIncrementalEmptyAndPrefix(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out")
	require.NoError(t, os.WriteFile(path, []byte("a\nb\nc"), 0o644))
	sum, err := NewIncremental(path).Finish(0)
	require.NoError(t, err)
	assert.Equal(t, sha(nil), sum)

	in := NewIncremental(path)
	sum, err = in.Finish(4) // a prefix: what the runner saw at a checkpoint
	require.NoError(t, err)
	assert.Equal(t, sha([]byte("a\nb\n")), sum)
	assert.Equal(t, int64(2), in.Lines())
}

// TestIncrementalGrowingFile follows a file that is appended to between
// Advance calls, as a processor's output is.
func TestIncrementalGrowingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	require.NoError(t, err)
	defer f.Close()
	in := NewIncremental(path)
	var all []byte
	for i := 0; i < 50; i++ {
		chunk := randomBytes(1+i*997, uint64(100+i))
		_, err := f.Write(chunk)
		require.NoError(t, err)
		all = append(all, chunk...)
		require.NoError(t, in.Advance(int64(len(all))))
	}
	sum, err := in.Finish(int64(len(all)))
	require.NoError(t, err)
	assert.Equal(t, sha(all), sum)
	assert.Equal(t, int64(bytes.Count(all, []byte{'\n'})), in.Lines())
}

func TestIncrementalErrors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out")
	require.NoError(t, os.WriteFile(path, []byte("0123456789"), 0o644))

	t.Run("finish below offset", func(t *testing.T) {
		in := NewIncremental(path)
		require.NoError(t, in.Advance(8))
		_, err := in.Finish(5)
		require.Error(t, err)
		assert.ErrorContains(t, err, "shrank")
	})
	t.Run("advance past EOF", func(t *testing.T) {
		in := NewIncremental(path)
		err := in.Advance(11)
		require.Error(t, err)
		assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
		assert.Equal(t, int64(10), in.Offset(), "the bytes that exist were hashed")
		// The file grows to the announced size: hashing resumes correctly.
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
		require.NoError(t, err)
		_, err = f.WriteString("A")
		require.NoError(t, err)
		require.NoError(t, f.Close())
		sum, err := in.Finish(11)
		require.NoError(t, err)
		assert.Equal(t, sha([]byte("0123456789A")), sum)
	})
	t.Run("finish past EOF", func(t *testing.T) {
		_, err := NewIncremental(path).Finish(1 << 20)
		assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
	})
	t.Run("missing file", func(t *testing.T) {
		err := NewIncremental(filepath.Join(t.TempDir(), "missing")).Advance(1)
		assert.ErrorIs(t, err, fs.ErrNotExist)
	})
}

func ptr(s string) *string { return &s }
