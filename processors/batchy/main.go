// Command batchy is a test processor for batched fan-out stages. For each
// item of its batch (or its one item) it copies the item's inputs into
// its first output, printing "doing <item>" to stderr first, and reports
// the item done; what an input says changes that:
//
//   - "fail": the item fails (reported failed; alone, exit 3);
//   - "softfail": the item is reported failed and the process goes on and
//     exits 0, alone too (what a processor that reports a bad item and
//     carries on does);
//   - "crash": in a batch of more than one item, the process exits 2 at
//     once, reporting nothing more (alone it copies as usual);
//   - "wait": it first waits for the file "release" in the working dir;
//   - "tamper": in a batch of more than one item, it keeps the output
//     open, reports the item done, waits
//     until the runner has taken the output from the staging dir, then
//     appends "tampered\n" through the descriptor it kept.
package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/guardrun/guardrun/processors/sdk"
)

func main() {
	sdk.Main(func(e *sdk.Env) error {
		var first error
		items := e.Items()
		for _, it := range items {
			err := do(e, it, len(items) > 1)
			if err == nil {
				continue
			}
			if errors.Is(err, errSoft) && e.Batched() {
				if rerr := e.Failed(it.ID, err); rerr != nil {
					return rerr
				}
				continue
			}
			if first == nil {
				first = err
			}
			if !e.Batched() {
				return err
			}
			if rerr := e.Failed(it.ID, err); rerr != nil {
				return rerr
			}
		}
		if first != nil {
			return &sdk.ExitError{Code: 3, Err: first}
		}
		return nil
	})
}

var errSoft = errors.New("this input says softfail")

func do(e *sdk.Env, it sdk.Item, batch bool) error {
	fmt.Fprintf(os.Stderr, "doing %s\n", it.ID)
	var data []byte
	for _, in := range it.Inputs {
		b, err := os.ReadFile(in)
		if err != nil {
			return err
		}
		data = append(data, b...)
	}
	switch {
	case bytes.Contains(data, []byte("softfail")):
		return errSoft
	case bytes.Contains(data, []byte("fail")):
		return errors.New("this input says fail")
	case bytes.Contains(data, []byte("crash")) && batch:
		os.Exit(2)
	case bytes.Contains(data, []byte("wait")):
		for {
			if _, err := os.Stat("release"); err == nil {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	path := filepath.Join(e.OutputDir, it.Outputs[0])
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.Write(data); err != nil {
		return err
	}
	if !bytes.Contains(data, []byte("tamper")) || !batch {
		if err := f.Close(); err != nil {
			return err
		}
		return e.Done(it.ID)
	}
	if err := e.Done(it.ID); err != nil {
		return err
	}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			break
		}
	}
	_, err = io.WriteString(f, "tampered\n")
	return err
}
