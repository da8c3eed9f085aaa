package hashcache

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// parseInt reads what strconv reads, or refuses it (the cache is then
// started empty, which is always safe).
func TestParseIntAgreesWithStrconv(t *testing.T) {
	for _, s := range []string{"0", "7", "-7", "1796230459267089810", "9223372036854775807", "-9223372036854775808",
		"9223372036854775808", "-9223372036854775809", "99999999999999999999", "", "-", "+1", "1a", " 1", "0x1", "١"} {
		want, err := strconv.ParseInt(s, 10, 64)
		got, ok := parseInt(s)
		// It may refuse what encode never writes ("+1"); it never misreads.
		if ok && (err != nil || got != want) || !ok && err == nil && s[0] != '+' {
			t.Errorf("parseInt(%q) = %d, %v; strconv: %d, %v", s, got, ok, want, err)
		}
	}
}

// EvictUnused keeps what was looked up or put since Open, and Save then
// writes the smaller cache.
func TestEvictUnused(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "cache.txt")
	c := Open(path)
	id := FileID{Size: 1, MtimeNs: 1}
	for _, p := range []string{"/a", "/b", "/c"} {
		c.Put(p, id, strings.Repeat("0", 64), time.Unix(100, 0), true)
	}
	if err := c.Save(); err != nil {
		t.Fatal(err)
	}
	c = Open(path)
	if _, ok := c.Lookup("/a", id); !ok {
		t.Fatal("entry /a not found after reopening")
	}
	c.Put("/d", id, strings.Repeat("1", 64), time.Unix(100, 0), true)
	c.EvictUnused()
	if err := c.Save(); err != nil {
		t.Fatal(err)
	}
	c = Open(path)
	for p, want := range map[string]bool{"/a": true, "/b": false, "/c": false, "/d": true} {
		if _, ok := c.Lookup(p, id); ok != want {
			t.Errorf("%s kept: %v, want %v", p, ok, want)
		}
	}
}
