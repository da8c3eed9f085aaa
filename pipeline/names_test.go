package pipeline

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestNamePatternsAreTheirRegexps(t *testing.T) {
	long := strings.Repeat("a", 63)
	inputs := []string{"", "a", "A", "0", "_", "-", ".", "a0", "a_b", "a-b", "a.b", "A_b", "0a", "_a", "-a", ".a",
		"ab c", "a/b", "aé", "é", "a\x00", "a\n", "Ab", "aB", "a" + long, "a" + long + "a", "A" + long, "A" + long + "9",
		"_" + long + long, "stage_upper", "stage-1", "HTTP_PROXY", "LC_ALL", "9lives", "demo.v2", "x:y"}
	for _, p := range []namePattern{pipelineNameRE, stageNameRE, envKeyRE} {
		re := regexp.MustCompile(p.String())
		for _, s := range inputs {
			assert.Equal(t, re.MatchString(s), p.MatchString(s), "%s on %q", p, s)
		}
	}
}
