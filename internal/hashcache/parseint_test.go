package hashcache

import (
	"strconv"
	"testing"
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
