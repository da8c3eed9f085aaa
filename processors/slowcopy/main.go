// Command slowcopy is a test processor: copy, slowed down by
// params.delayMicrosPerLine microseconds per line, so that tests can kill it
// in the middle of a stage. It checkpoints through sdk.MapLines.
//
// Params: {"delayMicrosPerLine": 50, "output": "copy.txt"} (both optional).
package main

import (
	"fmt"
	"io"
	"time"

	"github.com/guardrun/guardrun/processors/sdk"
)

type params struct {
	DelayMicrosPerLine int64  `json:"delayMicrosPerLine"`
	Output             string `json:"output"`
}

// minSleep batches the per-line delay: sleeping for a few microseconds at a
// time would cost far more than asked.
const minSleep = time.Millisecond

func main() {
	sdk.Main(run)
}

func run(e *sdk.Env) error {
	var p params
	if err := e.DecodeParams(&p); err != nil {
		return err
	}
	if p.DelayMicrosPerLine < 0 {
		return fmt.Errorf("params.delayMicrosPerLine: %d is negative", p.DelayMicrosPerLine)
	}
	delay := time.Duration(p.DelayMicrosPerLine) * time.Microsecond
	out, err := e.OpenOutput(e.OutputName(p.Output, "copy.txt"))
	if err != nil {
		return err
	}
	defer out.Close()
	var owed time.Duration
	if err := sdk.MapLines(e, out, func(line []byte, w io.Writer) error {
		if _, err := w.Write(line); err != nil {
			return err
		}
		if owed += delay; owed >= minSleep {
			time.Sleep(owed)
			owed = 0
		}
		return nil
	}); err != nil {
		return err
	}
	return out.Close()
}
