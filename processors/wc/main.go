// Command wc is a guardrun processor that counts, like wc(1), the lines,
// words and bytes of each input file and writes one line per file,
//
//	<path>\t<lines>\t<words>\t<bytes>\n
//
// in input order into one output: the first declared output, else
// params.output, else "counts.tsv". <path> is the input's path relative to
// the working directory (guardrun runs processors in the workspace), with
// forward slashes, or the path as given when it lies outside; a path
// holding a tab, CR or LF is written Go-quoted. A line ends after '\n' or
// at the end of a file, as everywhere in the protocol; a word is a maximal
// run of bytes that are not ASCII white space.
//
// It checkpoints at file boundaries only. Every counted file is one line
// of the output, so on a resume the lines already in the output (truncated
// by the runner to the checkpoint) say how many files are done — an empty
// file moves no offset — and the offsets must match them.
package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/guardrun/guardrun/processors/sdk"
)

type params struct {
	Output string `json:"output"`
}

func main() {
	sdk.Main(run)
}

func run(e *sdk.Env) error {
	var p params
	if err := e.DecodeParams(&p); err != nil {
		return err
	}
	sizes, total, err := e.InputSizes()
	if err != nil {
		return err
	}
	name := e.OutputName(p.Output, "counts.tsv")
	out, err := e.OpenOutput(name)
	if err != nil {
		return err
	}
	defer out.Close()
	done, err := countedFiles(filepath.Join(e.OutputDir, name), out.Size())
	if err != nil {
		return err
	}
	if done > len(e.Inputs) {
		return fmt.Errorf("output %s already has %d lines for %d inputs: inputs changed since the checkpoint", name, done, len(e.Inputs))
	}
	var doneBytes int64
	for _, s := range sizes[:done] {
		doneBytes += s
	}
	if doneBytes != e.ByteOffset {
		return fmt.Errorf("%s=%d does not end the %d files already counted (%d bytes): inputs changed since the checkpoint", sdk.EnvByteOffset, e.ByteOffset, done, doneBytes)
	}
	wd, _ := os.Getwd()
	lines, pos := e.LineOffset, e.ByteOffset
	var since int64
	last := time.Now()
	checkpoint := func() error {
		if err := out.Sync(); err != nil {
			return err
		}
		since, last = 0, time.Now()
		return e.Report(sdk.Progress{LineOffset: lines, ByteOffset: pos, Outputs: map[string]int64{out.Name(): out.Size()}, TotalBytes: total})
	}
	periodic := e.HasProgress() && e.CheckpointsEnabled()
	for i := done; i < len(e.Inputs); i++ {
		in := e.Inputs[i]
		c, err := count(in)
		if err != nil {
			return err
		}
		if c.bytes != sizes[i] {
			return fmt.Errorf("reading input %s: read %d bytes, expected %d: it changed while being read", in, c.bytes, sizes[i])
		}
		row := displayPath(wd, in) + "\t" + strconv.FormatInt(c.lines, 10) + "\t" + strconv.FormatInt(c.words, 10) + "\t" + strconv.FormatInt(c.bytes, 10) + "\n"
		if _, err := out.WriteString(row); err != nil {
			return err
		}
		lines += c.lines
		pos += c.bytes
		since += c.lines
		if periodic && i < len(e.Inputs)-1 &&
			((e.CheckpointLines > 0 && since >= e.CheckpointLines) || (e.CheckpointEvery > 0 && time.Since(last) >= e.CheckpointEvery)) {
			if err := checkpoint(); err != nil {
				return err
			}
		}
	}
	if e.HasProgress() {
		if err := checkpoint(); err != nil {
			return err
		}
	}
	return out.Close()
}

// countedFiles is the number of lines in the first size bytes of the
// output at path: the files counted before a checkpoint.
func countedFiles(path string, size int64) (int, error) {
	if size == 0 {
		return 0, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("reading output: %w", err)
	}
	defer f.Close()
	n, buf := 0, make([]byte, 64<<10)
	r := io.LimitReader(f, size)
	for {
		k, err := r.Read(buf)
		n += bytes.Count(buf[:k], []byte{'\n'})
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return 0, fmt.Errorf("reading output: %w", err)
		}
	}
}

type counts struct{ lines, words, bytes int64 }

// count counts one file: lines (a last line without '\n' counts), words
// and bytes.
func count(path string) (counts, error) {
	var c counts
	f, err := os.Open(path)
	if err != nil {
		return c, fmt.Errorf("reading input: %w", err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 64<<10)
	inWord := false
	var prev byte = '\n'
	for {
		b, err := r.ReadByte()
		if err == io.EOF {
			break
		}
		if err != nil {
			return c, fmt.Errorf("reading input %s: %w", path, err)
		}
		c.bytes++
		if b == '\n' {
			c.lines++
		}
		if isSpace(b) {
			inWord = false
		} else if !inWord {
			inWord = true
			c.words++
		}
		prev = b
	}
	if prev != '\n' {
		c.lines++ // a last line without a newline still ends at the end of the file
	}
	return c, nil
}

func isSpace(b byte) bool {
	switch b {
	case ' ', '\t', '\n', '\v', '\f', '\r':
		return true
	}
	return false
}

// displayPath is path relative to wd with forward slashes when it lies
// inside wd, else path as given; Go-quoted when it holds a tab, CR or LF.
func displayPath(wd, path string) string {
	s := path
	if wd != "" {
		if rel, err := filepath.Rel(wd, path); err == nil && filepath.IsLocal(rel) {
			s = filepath.ToSlash(rel)
		}
	}
	if strings.ContainsAny(s, "\t\r\n") {
		s = strconv.Quote(s)
	}
	return s
}
