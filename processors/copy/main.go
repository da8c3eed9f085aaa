// Command copy is a guardrun processor that concatenates its inputs, in
// order, into one output: the first declared output, else params.output,
// else "copy.txt". The bytes are copied unchanged (like cat), line by line,
// with checkpoints and resume from the SDK.
package main

import (
	"io"

	"github.com/guardrun/guardrun/processors/sdk"
)

type params struct {
	Output string `json:"output"`
}

func main() {
	sdk.Main(func(e *sdk.Env) error {
		var p params
		if err := e.DecodeParams(&p); err != nil {
			return err
		}
		out, err := e.OpenOutput(e.OutputName(p.Output, "copy.txt"))
		if err != nil {
			return err
		}
		defer out.Close()
		if err := sdk.MapLines(e, out, func(line []byte, w io.Writer) error {
			_, err := w.Write(line)
			return err
		}); err != nil {
			return err
		}
		return out.Close()
	})
}
