package main

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestValidRunIDIsItsRegexp(t *testing.T) {
	re := regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)
	long := strings.Repeat("a", 127)
	for _, id := range []string{"", "a", "Z", "9", ".", "_", "-", ".a", "-a", "demo1", "demo.1_x-y", "a b", "a/b", "../x",
		"é", "aé", "a\n", "a" + long, "a" + long + "b", "20261122T082802Z-4242"} {
		assert.Equal(t, re.MatchString(id), validRunID(id), "%q", id)
	}
}
