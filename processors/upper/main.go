// Command upper is a guardrun processor that writes its inputs, concatenated
// in order, ASCII upper-cased into one output: the first declared output,
// else params.output, else "result.txt". Bytes outside a-z (including UTF-8
// multi-byte sequences) are copied unchanged.
package main

import (
	"io"

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
