// Command copy is a guardrun processor that concatenates its inputs, in
// order, into one output: the first declared output, else params.output,
// else "copy.txt". The bytes are copied unchanged (like cat), line by line,
// with checkpoints and resume from the SDK. In a batched fan-out stage it
// does the same for each item of its batch and reports each item done.
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
	sdk.Main(func(e *sdk.Env) error {
		var p params
		if err := e.DecodeParams(&p); err != nil {
			return err
		}
		if e.Batched() {
			return sdk.EachItem(e, copyItem)
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

// copyItem concatenates one item's inputs into its first output.
func copyItem(e *sdk.Env, it sdk.Item) error {
	if len(it.Outputs) == 0 {
		return fmt.Errorf("no output declared")
	}
	out, err := e.OpenOutput(it.Outputs[0])
	if err != nil {
		return err
	}
	defer out.Close()
	for _, in := range it.Inputs {
		f, err := os.Open(in)
		if err != nil {
			return fmt.Errorf("reading input: %w", err)
		}
		_, err = io.Copy(out, f)
		f.Close()
		if err != nil {
			return fmt.Errorf("copying %s: %w", in, err)
		}
	}
	return out.Close()
}
