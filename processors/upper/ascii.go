package main

import "encoding/binary"

const (
	lo7  = 0x7f7f7f7f7f7f7f7f
	hi   = 0x8080808080808080
	ones = 0x0101010101010101
)

// upperASCII upper-cases the ASCII letters a-z of b in place, eight bytes at
// a time (SWAR); bytes >= 0x80 are never changed, so UTF-8 stays valid.
func upperASCII(b []byte) {
	for len(b) >= 8 {
		x := binary.LittleEndian.Uint64(b)
		h := x & lo7
		geA := h + (0x80-'a')*ones   // high bit set where byte&0x7f >= 'a'
		gtZ := h + (0x80-'z'-1)*ones // high bit set where byte&0x7f > 'z'
		mask := geA &^ gtZ &^ x & hi // a-z and the original byte is ASCII
		binary.LittleEndian.PutUint64(b, x^(mask>>2))
		b = b[8:]
	}
	for i, c := range b {
		if c-'a' < 26 {
			b[i] = c - 32
		}
	}
}
