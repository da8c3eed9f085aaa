package pipeline

import (
	"bufio"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestParseMeminfo(t *testing.T) {
	tests := []struct {
		in   string
		want int64
	}{
		{"MemTotal:       16318508 kB\nMemFree: 1 kB\n", 15936},
		{"MemFree: 1 kB\n", 0},
		{"MemTotal:\n", 0},
		{"MemTotal: lots kB\n", 0},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, parseMeminfo(bufio.NewScanner(strings.NewReader(tt.in))), tt.in)
	}
}
