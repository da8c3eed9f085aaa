package sdk

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
)

// OutputBufferSize is the write buffer of an Output.
const OutputBufferSize = 1 << 20

// Output is a staged output file opened for appending, with a large write
// buffer. It is not safe for concurrent use.
type Output struct {
	name string // relative to the output directory
	f    *os.File
	w    *bufio.Writer
	size int64 // bytes in the file plus bytes written since (buffered or not)
}

// OpenOutput opens name (relative to OutputDir) with
// O_WRONLY|O_APPEND|O_CREATE: the runner has created it empty, or truncated it
// to its checkpointed size on a resume, and the processor only appends.
// Parent directories are created as needed.
func (e *Env) OpenOutput(name string) (*Output, error) {
	if !filepath.IsLocal(name) {
		return nil, fmt.Errorf("opening output %q: not a path inside the output directory", name)
	}
	path := filepath.Join(e.OutputDir, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("opening output %q: %w", name, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening output %q: %w", name, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("opening output %q: %w", name, err)
	}
	return &Output{
		name: filepath.ToSlash(name),
		f:    f,
		w:    bufio.NewWriterSize(f, OutputBufferSize),
		size: fi.Size(),
	}, nil
}

// Name is the output's name relative to the output directory, as used in
// progress reports.
func (o *Output) Name() string { return o.name }

// Write appends p (buffered).
func (o *Output) Write(p []byte) (int, error) {
	n, err := o.w.Write(p)
	o.size += int64(n)
	return n, err
}

// WriteString appends s (buffered).
func (o *Output) WriteString(s string) (int, error) {
	n, err := o.w.WriteString(s)
	o.size += int64(n)
	return n, err
}

// WriteByte appends c (buffered).
func (o *Output) WriteByte(c byte) error {
	if err := o.w.WriteByte(c); err != nil {
		return err
	}
	o.size++
	return nil
}

// AvailableBuffer returns an empty slice with the free capacity of the write
// buffer, to append into and pass to Write without an extra copy.
func (o *Output) AvailableBuffer() []byte { return o.w.AvailableBuffer() }

// Size is the logical size of the output: bytes in the file plus bytes still
// buffered.
func (o *Output) Size() int64 { return o.size }

// Flush hands buffered bytes to the operating system.
func (o *Output) Flush() error {
	if err := o.w.Flush(); err != nil {
		return fmt.Errorf("writing output %q: %w", o.name, err)
	}
	return nil
}

// Sync flushes and then fsyncs the file, so that Size bytes are durable and
// may be named in a progress report.
func (o *Output) Sync() error {
	if err := o.Flush(); err != nil {
		return err
	}
	return o.syncFile()
}

// syncFile fsyncs what was already flushed. Unlike the other methods it may
// run concurrently with writes (os.File is safe for that).
func (o *Output) syncFile() error {
	if err := o.f.Sync(); err != nil {
		return fmt.Errorf("syncing output %q: %w", o.name, err)
	}
	return nil
}

// Close flushes and closes the file. It does not fsync: the runner fsyncs
// staged outputs before committing them, and MapLines syncs before its final
// report.
func (o *Output) Close() error {
	ferr := o.Flush()
	cerr := o.f.Close()
	if ferr != nil {
		return ferr
	}
	if cerr != nil {
		return fmt.Errorf("closing output %q: %w", o.name, cerr)
	}
	return nil
}
