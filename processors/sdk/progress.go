package sdk

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
)

// Progress is one checkpoint report. LineOffset and ByteOffset are the
// position in the concatenated input stream that is fully processed;
// Outputs maps each output (name relative to the output directory) to the
// size it has when it holds exactly the output for that input prefix.
type Progress struct {
	LineOffset int64            `json:"lineOffset"`
	ByteOffset int64            `json:"byteOffset"`
	Outputs    map[string]int64 `json:"outputs"`
	// TotalBytes is the size of all inputs together, for progress bars; 0 = unknown.
	TotalBytes int64 `json:"totalBytes,omitempty"`
	// Message is free text for humans.
	Message string `json:"message,omitempty"`
}

// Report writes p as one JSON line to the progress pipe; it is a no-op when
// no pipe is connected. The caller must have flushed and synced (Output.Sync)
// every output named in p before calling Report: the runner trusts a report
// to describe durable output. A failed write (typically the runner went away)
// is returned as a transient error.
func (e *Env) Report(p Progress) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.progress == nil {
		return nil
	}
	if p.LineOffset < 0 || p.ByteOffset < 0 {
		return fmt.Errorf("reporting progress: negative offset")
	}
	b := appendProgress(e.scratch[:0], &p)
	e.scratch = b
	// One write per report: lines shorter than PIPE_BUF reach the reader whole.
	if _, err := e.progress.Write(b); err != nil {
		return Transient(fmt.Errorf("writing progress report: %w", err))
	}
	return nil
}

// appendProgress encodes p as a JSON line without reflection; output names
// are sorted so that reports are reproducible.
func appendProgress(b []byte, p *Progress) []byte {
	b = append(b, `{"lineOffset":`...)
	b = strconv.AppendInt(b, p.LineOffset, 10)
	b = append(b, `,"byteOffset":`...)
	b = strconv.AppendInt(b, p.ByteOffset, 10)
	b = append(b, `,"outputs":{`...)
	names := make([]string, 0, len(p.Outputs))
	for name := range p.Outputs {
		names = append(names, name)
	}
	sort.Strings(names)
	for i, name := range names {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, name)
		b = append(b, ':')
		b = strconv.AppendInt(b, p.Outputs[name], 10)
	}
	b = append(b, '}')
	if p.TotalBytes > 0 {
		b = append(b, `,"totalBytes":`...)
		b = strconv.AppendInt(b, p.TotalBytes, 10)
	}
	if p.Message != "" {
		b = append(b, `,"message":`...)
		b = appendJSONString(b, p.Message)
	}
	return append(b, '}', '\n')
}

func appendJSONString(b []byte, s string) []byte {
	q, err := json.Marshal(s) // never fails for a string
	if err != nil {
		return append(b, `""`...)
	}
	return append(b, q...)
}
