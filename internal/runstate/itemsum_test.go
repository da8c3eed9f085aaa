package runstate

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/guardrun/guardrun/internal/hashcache"
)

func sumEntries() []SumEntry {
	id := func(n uint64) hashcache.FileID {
		return hashcache.FileID{Dev: 2049, Ino: n, Size: int64(n) * 10, MtimeNs: 1_700_000_000_123_456_789, CtimeNs: -5}
	}
	return []SumEntry{
		{Item: "a.txt", Inputs: []SumFile{{Path: "in/a.txt", Size: 10, SHA256: "aa", ID: id(1)}},
			Outputs: []SumFile{{Path: "out/a.txt", Size: 20, SHA256: "bb", ID: id(2)}}, LinesIn: 3, LinesOut: 4},
		{Item: "b/ü c.txt", Inputs: []SumFile{}, Outputs: []SumFile{{Path: "out/b", SHA256: "cc", ID: id(1 << 40)}, {Path: "out/b2", ID: id(3)}}},
		{Item: "c", Inputs: []SumFile{{Path: "x", ID: id(4)}, {Path: "y", ID: id(5)}}, Outputs: []SumFile{}, LinesIn: -1},
	}
}

func writeSum(t *testing.T, path string, h *SumHeader, es []SumEntry) {
	t.Helper()
	raw := make([]string, len(es))
	for i := range es {
		raw[i] = string(AppendEntry(nil, &es[i]))
	}
	require.NoError(t, WriteSummary(path, h, raw))
}

func TestSummaryRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "items_up.sum")
	h := &SumHeader{Stage: "up", Spec: "s1", Base: "b1", Journal: hashcache.FileID{Dev: 1, Ino: 2, Size: 3, MtimeNs: 4, CtimeNs: 5}, Complete: true}
	es := sumEntries()
	writeSum(t, path, h, es)

	s, err := ReadSummary(path)
	require.NoError(t, err)
	require.NotNil(t, s)
	assert.Equal(t, *h, s.Header)
	require.Equal(t, len(es), s.Len())
	var e SumEntry
	for i := range es {
		assert.Equal(t, es[i].Item, s.Item(i))
		require.True(t, s.Entry(i, &e), "entry %d", i)
		assert.Equal(t, es[i], e)
		assert.Equal(t, string(AppendEntry(nil, &es[i])), s.Raw(i), "Raw gives an entry's encoding back")
	}

	none, err := ReadSummary(filepath.Join(t.TempDir(), "none.sum"))
	assert.NoError(t, err)
	assert.Nil(t, none, "no summary is no error")

	writeSum(t, path, h, nil)
	s, err = ReadSummary(path)
	require.NoError(t, err)
	assert.Zero(t, s.Len())
}

func TestSummaryRejectsDamage(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "items_up.sum")
	writeSum(t, path, &SumHeader{Stage: "up"}, sumEntries())
	good, err := os.ReadFile(path)
	require.NoError(t, err)

	// reseal recomputes the checksum, so that what is tested is the
	// structure check behind it.
	reseal := func(b []byte) []byte {
		body := b[:len(b)-4]
		return binary.LittleEndian.AppendUint32(append([]byte(nil), body...), crc(body))
	}
	unsorted := func() []byte {
		es := sumEntries()
		es[0], es[1] = es[1], es[0]
		p := filepath.Join(dir, "unsorted.sum")
		writeSum(t, p, &SumHeader{Stage: "up"}, es)
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		return b
	}
	cases := map[string][]byte{
		"empty":           {},
		"truncated":       good[:len(good)-10],
		"flipped bit":     flip(good, len(good)/2),
		"bad magic":       reseal(flip(good, 0)),
		"trailing bytes":  reseal(append(append([]byte(nil), good[:len(good)-4]...), 0, 0, 0, 0, 0)),
		"cut entry":       reseal(append(append([]byte(nil), good[:len(good)-12]...), 0, 0, 0, 0)),
		"unsorted":        unsorted(),
		"duplicate items": dupFirst(t, dir),
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(dir, "bad.sum")
			require.NoError(t, os.WriteFile(p, b, 0o644))
			s, err := ReadSummary(p)
			assert.Nil(t, s)
			assert.True(t, errors.Is(err, ErrBadSummary), "got %v", err)
		})
	}

	t.Run("symlink", func(t *testing.T) {
		p := filepath.Join(dir, "link.sum")
		require.NoError(t, os.Symlink(path, p))
		s, err := ReadSummary(p)
		assert.Nil(t, s)
		assert.Error(t, err, "a symlinked summary is not followed")
	})
	t.Run("directory", func(t *testing.T) {
		p := filepath.Join(dir, "dir.sum")
		require.NoError(t, os.Mkdir(p, 0o755))
		s, err := ReadSummary(p)
		assert.Nil(t, s)
		assert.Error(t, err)
	})
}

func dupFirst(t *testing.T, dir string) []byte {
	es := sumEntries()
	es[1] = es[0]
	p := filepath.Join(dir, "dup.sum")
	writeSum(t, p, &SumHeader{Stage: "up"}, es)
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	return b
}

func crc(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

func flip(b []byte, i int) []byte {
	c := append([]byte(nil), b...)
	c[i] ^= 0x10
	return c
}

func TestJournalLenAfterClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "items_up.jsonl")
	j, err := OpenJournal(path)
	require.NoError(t, err)
	require.NoError(t, j.Append(&ItemRecord{Item: "a", Key: "k"}, &ItemRecord{Item: "b", Key: "k"}))
	require.NoError(t, j.Close())
	assert.Equal(t, 2, j.Len(), "a closed journal says how many items it held")
}
