package runstate

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/guardrun/guardrun/internal/atomicfile"
)

// MaxInlineOutputsBytes bounds the JSON encoding of the outputs a stage.end
// record carries inline. A stage with more is recorded by digest: the
// audit chain holds the count and SHA-256, audit.d/ the list. The bound
// keeps every stage.end record far below the audit log's line limit
// (audit.MaxLineBytes), however many outputs a processor leaves.
const MaxInlineOutputsBytes = 64 << 10

// SpillOutputs returns d as the audit chain records it: unchanged when its
// outputs encode in at most MaxInlineOutputsBytes, else with the outputs
// written to Layout.OutputsFile (atomically, before the record that names
// them is appended) and replaced by their count, digest and file.
func (l Layout) SpillOutputs(d StageEnd) (StageEnd, error) {
	if len(d.Outputs) == 0 {
		return d, nil
	}
	b, err := json.Marshal(d.Outputs)
	if err != nil {
		return d, fmt.Errorf("encoding the outputs of stage.end: %w", err)
	}
	if len(b) <= MaxInlineOutputsBytes {
		return d, nil
	}
	sum := sha256.Sum256(b)
	h := hex.EncodeToString(sum[:])
	if err := os.MkdirAll(l.AuditDir(), 0o755); err != nil {
		return d, fmt.Errorf("storing outputs by digest: %w", err)
	}
	// Content-addressed: an existing file of that name already holds these
	// bytes, unless it was tampered with, which verify reports.
	if err := atomicfile.WriteFile(l.OutputsFile(h), b, 0o644); err != nil {
		return d, fmt.Errorf("storing outputs by digest: %w", err)
	}
	d.OutputsCount, d.OutputsSHA256, d.OutputsFile = len(d.Outputs), h, OutputsFileRel(h)
	d.Outputs = nil
	return d, nil
}

// CheckOutputsFile checks a stage.end record's outputs stored by digest:
// the file it names is where its digest says, exists, has that SHA-256 and
// holds outputsCount outputs. A record with its outputs inline passes.
func (l Layout) CheckOutputsFile(d StageEnd) error {
	if d.OutputsSHA256 == "" && d.OutputsFile == "" {
		return nil
	}
	if want := OutputsFileRel(d.OutputsSHA256); d.OutputsFile != want || !isHex64(d.OutputsSHA256) {
		return fmt.Errorf("stage.end names outputs file %q, want %q for its outputsSha256", d.OutputsFile, want)
	}
	path := l.OutputsFile(d.OutputsSHA256)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("outputs stored by digest: %s is missing", filepath.ToSlash(d.OutputsFile))
	}
	if err != nil {
		return fmt.Errorf("outputs stored by digest: %w", err)
	}
	sum := sha256.Sum256(b)
	if hex.EncodeToString(sum[:]) != d.OutputsSHA256 {
		return fmt.Errorf("outputs stored by digest: %s does not have the SHA-256 its stage.end record names (edited)", d.OutputsFile)
	}
	var outs []OutputRecord
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&outs); err != nil {
		return fmt.Errorf("outputs stored by digest: parsing %s: %w", d.OutputsFile, err)
	}
	if len(outs) != d.OutputsCount {
		return fmt.Errorf("outputs stored by digest: %s holds %d outputs, its stage.end record says %d", d.OutputsFile, len(outs), d.OutputsCount)
	}
	return nil
}

// ReadOutputs returns a stage.end record's outputs: inline, or read from
// the file they were stored in by digest (checked).
func (l Layout) ReadOutputs(d StageEnd) ([]OutputRecord, error) {
	if d.OutputsSHA256 == "" {
		return d.Outputs, nil
	}
	if err := l.CheckOutputsFile(d); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(l.OutputsFile(d.OutputsSHA256))
	if err != nil {
		return nil, err
	}
	var outs []OutputRecord
	return outs, json.Unmarshal(b, &outs)
}

func isHex64(s string) bool {
	if len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil && s == hexLower(s)
}

func hexLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'F' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
