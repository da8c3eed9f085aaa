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
	var scratch []byte // reused: no allocation per line
	if err := sdk.MapLines(e, out, func(line []byte, w io.Writer) error {
		scratch = append(scratch[:0], line...)
		upperASCII(scratch)
		_, err := w.Write(scratch)
		return err
	}); err != nil {
		return err
	}
	return out.Close()
}
