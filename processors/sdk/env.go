package sdk

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Names of the environment variables of the processor protocol.
const (
	EnvStageName         = "PIPELINE_STAGE_NAME"
	EnvRunID             = "PIPELINE_RUN_ID"
	EnvAttempt           = "PIPELINE_ATTEMPT"
	EnvInputs            = "PIPELINE_INPUTS"
	EnvInputsFile        = "PIPELINE_INPUTS_FILE"
	EnvItem              = "PIPELINE_ITEM"
	EnvOutputDir         = "PIPELINE_OUTPUT_DIR"
	EnvOutputs           = "PIPELINE_OUTPUTS"
	EnvParams            = "PIPELINE_PARAMS"
	EnvLineOffset        = "PIPELINE_LINE_OFFSET"
	EnvByteOffset        = "PIPELINE_BYTE_OFFSET"
	EnvProgressFD        = "PIPELINE_PROGRESS_FD"
	EnvCheckpointLines   = "PIPELINE_CHECKPOINT_LINES"
	EnvCheckpointSeconds = "PIPELINE_CHECKPOINT_SECONDS"
)

// Env is what the runner tells a processor through its environment.
type Env struct {
	Stage   string
	RunID   string
	Attempt int // 1-based
	// Inputs are absolute paths of input files, in stream order.
	Inputs []string
	// Item is the item id of a fan-out stage's job ("" in a plain stage).
	Item string
	// OutputDir is the absolute staging directory outputs are written to.
	OutputDir string
	// Outputs are the declared output names, relative to OutputDir; may be empty.
	Outputs []string
	// Params is the stage's params JSON object ("{}" when unset).
	Params json.RawMessage
	// LineOffset and ByteOffset are how much of the concatenated input
	// stream is already processed and reflected in the outputs.
	LineOffset, ByteOffset int64
	// CheckpointLines and CheckpointEvery say how often the runner wants a
	// progress report; both zero means checkpoints are disabled.
	CheckpointLines int64
	CheckpointEvery time.Duration

	batch []Item // the batch list; nil without PIPELINE_BATCH_FILE

	mu       sync.Mutex
	progress *os.File // nil: no progress pipe
	scratch  []byte   // reused report buffer, guarded by mu
}

// FromEnv reads the processor protocol's environment. Variables that are
// absent take their zero meaning (attempt 1, no inputs, "{}" params, offsets
// 0, no progress pipe, checkpoints disabled), except PIPELINE_OUTPUT_DIR,
// which is required. A malformed variable is an error that names it.
func FromEnv() (*Env, error) {
	e := &Env{
		Stage:   os.Getenv(EnvStageName),
		RunID:   os.Getenv(EnvRunID),
		Attempt: 1,
		Params:  json.RawMessage("{}"),
	}
	var err error
	if v, ok := lookup(EnvAttempt); ok {
		n, perr := strconv.Atoi(v)
		if perr != nil || n < 1 {
			return nil, fmt.Errorf("%s: %q is not a positive integer", EnvAttempt, v)
		}
		e.Attempt = n
	}
	if e.Inputs, err = inputList(); err != nil {
		return nil, err
	}
	e.Item, _ = lookup(EnvItem)
	if e.batch, err = readBatch(); err != nil {
		return nil, err
	}
	src := EnvInputs
	if _, ok := lookup(EnvInputsFile); ok {
		src = EnvInputsFile
	}
	for i, in := range e.Inputs {
		if !filepath.IsAbs(in) {
			return nil, fmt.Errorf("%s: element %d (%q) is not an absolute path", src, i, in)
		}
	}
	dir, ok := lookup(EnvOutputDir)
	if !ok {
		return nil, fmt.Errorf("%s: not set", EnvOutputDir)
	}
	if !filepath.IsAbs(dir) {
		return nil, fmt.Errorf("%s: %q is not an absolute path", EnvOutputDir, dir)
	}
	e.OutputDir = filepath.Clean(dir)
	if e.Outputs, err = stringList(EnvOutputs); err != nil {
		return nil, err
	}
	for i, o := range e.Outputs {
		if !filepath.IsLocal(o) {
			return nil, fmt.Errorf("%s: element %d (%q) is not a path inside the output directory", EnvOutputs, i, o)
		}
	}
	if v, ok := lookup(EnvParams); ok {
		raw := bytes.TrimSpace([]byte(v))
		if len(raw) == 0 || raw[0] != '{' || !json.Valid(raw) {
			return nil, fmt.Errorf("%s: not a JSON object", EnvParams)
		}
		e.Params = json.RawMessage(raw)
	}
	if e.LineOffset, err = nonNegative(EnvLineOffset); err != nil {
		return nil, err
	}
	if e.ByteOffset, err = nonNegative(EnvByteOffset); err != nil {
		return nil, err
	}
	if e.CheckpointLines, err = nonNegative(EnvCheckpointLines); err != nil {
		return nil, err
	}
	if v, ok := lookup(EnvCheckpointSeconds); ok {
		s, perr := strconv.ParseFloat(v, 64)
		if perr != nil || s < 0 || math.IsNaN(s) || math.IsInf(s, 0) || s > 1e9 {
			return nil, fmt.Errorf("%s: %q is not a non-negative number of seconds", EnvCheckpointSeconds, v)
		}
		e.CheckpointEvery = time.Duration(s * float64(time.Second))
	}
	if v, ok := lookup(EnvProgressFD); ok {
		fd, perr := strconv.ParseUint(v, 10, 63)
		if perr != nil {
			return nil, fmt.Errorf("%s: %q is not a file descriptor number", EnvProgressFD, v)
		}
		f := os.NewFile(uintptr(fd), "progress")
		if f == nil {
			return nil, fmt.Errorf("%s: %d is not a valid file descriptor", EnvProgressFD, fd)
		}
		if _, serr := f.Stat(); serr != nil {
			f.Close() // drop the finalizer before the number can be reused
			return nil, fmt.Errorf("%s: descriptor %d is not open: %w", EnvProgressFD, fd, serr)
		}
		e.progress = f
	}
	return e, nil
}

// DecodeParams decodes the params object into v. Unknown fields are an
// error, so that a misspelt parameter does not pass unnoticed.
func (e *Env) DecodeParams(v any) error {
	raw := e.Params
	if len(raw) == 0 {
		raw = json.RawMessage("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("decoding %s: %w", EnvParams, err)
	}
	return nil
}

// OutputName picks the name of a single-output processor's output: the first
// declared output, else param (typically params.output), else def.
func (e *Env) OutputName(param, def string) string {
	if len(e.Outputs) > 0 {
		return e.Outputs[0]
	}
	if param != "" {
		return param
	}
	return def
}

// Close releases the progress pipe. Main calls it; a processor that builds
// its own Env may call it when done.
func (e *Env) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.progress == nil {
		return nil
	}
	err := e.progress.Close()
	e.progress = nil
	return err
}

// HasProgress reports whether a progress pipe is connected.
func (e *Env) HasProgress() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.progress != nil
}

// CheckpointsEnabled reports whether the runner asked for periodic reports.
func (e *Env) CheckpointsEnabled() bool {
	return e.CheckpointLines > 0 || e.CheckpointEvery > 0
}

func lookup(name string) (string, bool) {
	v, ok := os.LookupEnv(name)
	if !ok {
		return "", false
	}
	v = strings.TrimSpace(v)
	return v, v != ""
}

// inputList reads the inputs from PIPELINE_INPUTS, or from the file
// PIPELINE_INPUTS_FILE names when the list is too long for the environment.
func inputList() ([]string, error) {
	f, ok := lookup(EnvInputsFile)
	if !ok {
		return stringList(EnvInputs)
	}
	b, err := os.ReadFile(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", EnvInputsFile, err)
	}
	return parseStringList(EnvInputsFile, string(b))
}

func stringList(name string) ([]string, error) {
	v, ok := lookup(name)
	if !ok {
		return nil, nil
	}
	return parseStringList(name, v)
}

func parseStringList(name, v string) ([]string, error) {
	var list []string
	if err := json.Unmarshal([]byte(v), &list); err != nil {
		return nil, fmt.Errorf("%s: not a JSON array of strings: %w", name, err)
	}
	for i, s := range list {
		if s == "" {
			return nil, fmt.Errorf("%s: element %d is empty", name, i)
		}
	}
	return list, nil
}

func nonNegative(name string) (int64, error) {
	v, ok := lookup(name)
	if !ok {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%s: %q is not a non-negative integer", name, v)
	}
	return n, nil
}
