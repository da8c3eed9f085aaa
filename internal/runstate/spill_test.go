package runstate

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSpillOutputsStoresManyByDigest: a stage.end with a few outputs keeps
// them inline; one with 200k has them in audit.d/ by digest, with their
// count, and CheckOutputsFile finds a missing, edited or moved file.
func TestSpillOutputsStoresManyByDigest(t *testing.T) {
	l := Layout{StateDir: t.TempDir()}
	few := StageEnd{Status: StageSucceeded, Outputs: []OutputRecord{{Path: "o/a", Size: 1, SHA256: strings.Repeat("a", 64)}}}
	got, err := l.SpillOutputs(few)
	require.NoError(t, err)
	assert.Equal(t, few, got)
	assert.NoDirExists(t, l.AuditDir())
	require.NoError(t, l.CheckOutputsFile(got))

	many := StageEnd{Status: StageSucceeded}
	for i := 0; i < 200000; i++ {
		many.Outputs = append(many.Outputs, OutputRecord{Path: fmt.Sprintf("out/f%06d", i), Size: int64(i), SHA256: strings.Repeat("b", 64)})
	}
	got, err = l.SpillOutputs(many)
	require.NoError(t, err)
	assert.Nil(t, got.Outputs)
	assert.Equal(t, 200000, got.OutputsCount)
	assert.Len(t, got.OutputsSHA256, 64)
	assert.Equal(t, "audit.d/outputs-"+got.OutputsSHA256+".json", got.OutputsFile)
	require.NoError(t, l.CheckOutputsFile(got))
	back, err := l.ReadOutputs(got)
	require.NoError(t, err)
	assert.Equal(t, many.Outputs, back)

	path := l.OutputsFile(got.OutputsSHA256)
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, []byte(strings.Replace(string(b), "f000001", "f999999", 1)), 0o644))
	assert.ErrorContains(t, l.CheckOutputsFile(got), "does not have the SHA-256")
	require.NoError(t, os.Remove(path))
	assert.ErrorContains(t, l.CheckOutputsFile(got), "is missing")
	moved := got
	moved.OutputsFile = "../../etc/passwd"
	assert.ErrorContains(t, l.CheckOutputsFile(moved), "want \"audit.d/outputs-")
	wrongCount := got
	wrongCount.OutputsCount = 3
	require.NoError(t, os.WriteFile(path, b, 0o644))
	assert.ErrorContains(t, l.CheckOutputsFile(wrongCount), "holds 200000 outputs, its stage.end record says 3")
	assert.Equal(t, filepath.Join(l.StateDir, "audit.d"), filepath.Dir(path))
}
