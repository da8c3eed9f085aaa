package pipeline

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
)

// LoadOptions describe the host the spec is loaded for. Zero values are
// detected from the running host.
type LoadOptions struct {
	// HostCPUs is the default run budget for cpus (0 = runtime.NumCPU()).
	HostCPUs float64
	// HostMemoryMB is the host's total memory; the default run budget is half
	// of it (0 = detect: /proc/meminfo on Linux, fallbackHostMemoryMB elsewhere).
	HostMemoryMB int64
}

// fallbackHostMemoryMB is assumed when the host's memory cannot be read.
const fallbackHostMemoryMB = 4096

func (o LoadOptions) withHost() LoadOptions {
	if o.HostCPUs <= 0 {
		o.HostCPUs = float64(runtime.NumCPU())
	}
	if o.HostMemoryMB <= 0 {
		o.HostMemoryMB = hostMemoryMB()
		if o.HostMemoryMB <= 0 {
			o.HostMemoryMB = fallbackHostMemoryMB
		}
	}
	return o
}

// Load reads, validates and resolves the spec at path. Every problem is a
// *SpecError (or several, as SpecErrors), exit code 2. Load only reads: it
// creates nothing on disk.
func Load(path string, opts LoadOptions) (*Pipeline, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &SpecError{File: filepath.Base(path), Msg: fmt.Sprintf("reading spec: %v", err), Err: err}
	}
	return Parse(data, path, opts)
}

// Parse validates and resolves spec bytes as if they were read from
// specPath, whose directory is the workspace. specPath need not exist.
func Parse(data []byte, specPath string, opts LoadOptions) (*Pipeline, error) {
	probs := newProblems(specPath)
	f := decodeFile(data, probs)
	if f == nil {
		return nil, probs.err()
	}
	sum := sha256.Sum256(data)
	p := resolveFile(f, specPath, opts.withHost(), probs)
	if !probs.empty() {
		return nil, probs.err()
	}
	p.SpecHash = hex.EncodeToString(sum[:])
	return p, nil
}
