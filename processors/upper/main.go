// Command upper is a guardrun processor that writes its inputs, concatenated
// in order, ASCII upper-cased into one output: the first declared output,
// else params.output, else "result.txt". Bytes outside a-z (including UTF-8
// multi-byte sequences) are copied unchanged.
//
// In a batched fan-out stage it does the same for each item of its batch
// (its inputs into its first output) and reports each item done.
package main

import (
	"fmt"
	"io"
	"os"

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
	if e.Batched() {
		return sdk.EachItem(e, upperItem)
	}
	out, err := e.OpenOutput(e.OutputName(p.Output, "result.txt"))
	if err != nil {
		return err
	}
	defer out.Close()
	if err := sdk.MapLines(e, out, upperLine(out)); err != nil {
		return err
	}
	return out.Close()
}

// upperLine returns the per-line function: it upper-cases each line straight
// into out's free buffer space (one copy, no allocation), or into a reused
// scratch slice when the buffer has no room left for the line.
func upperLine(out *sdk.Output) func(line []byte, w io.Writer) error {
	var scratch []byte
	return func(line []byte, w io.Writer) error {
		var buf []byte
		if avail := out.AvailableBuffer(); cap(avail) >= len(line) {
			buf = append(avail, line...)
		} else {
			scratch = append(scratch[:0], line...)
			buf = scratch
		}
		upperASCII(buf)
		_, err := w.Write(buf)
		return err
	}
}

// upperItem writes one item's inputs, upper-cased, into its first output.
func upperItem(e *sdk.Env, it sdk.Item) error {
	if len(it.Outputs) == 0 {
		return fmt.Errorf("no output declared")
	}
	out, err := e.OpenOutput(it.Outputs[0])
	if err != nil {
		return err
	}
	defer out.Close()
	buf := make([]byte, 64<<10)
	for _, in := range it.Inputs {
		f, err := os.Open(in)
		if err != nil {
			return fmt.Errorf("reading input: %w", err)
		}
		for {
			n, rerr := f.Read(buf)
			upperASCII(buf[:n])
			if _, err := out.Write(buf[:n]); err != nil {
				f.Close()
				return err
			}
			if rerr == io.EOF {
				break
			}
			if rerr != nil {
				f.Close()
				return fmt.Errorf("reading input %s: %w", in, rerr)
			}
		}
		f.Close()
	}
	return out.Close()
}
