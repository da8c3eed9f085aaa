package policy

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"

	"github.com/guardrun/guardrun/pipeline"
)

// OPAVersion is the version of OPA that policy/engine links (go.mod). It is
// part of every fingerprint, so that a verdict cached by one OPA is not
// trusted by another; this package does not link OPA, so the version is a
// constant that engine's TestOPAVersion keeps equal to OPA's own.
const OPAVersion = "1.22.2"

// Fingerprint identifies a verdict without compiling anything: the SHA-256
// of the OPA version, the input schema (InputSchema), the built-in and user
// modules (names and contents), opts.Strict and the input document Evaluate
// would build. Equal
// fingerprints get equal verdicts, so a caller that recorded the fingerprint
// of a passing verdict may skip the engine when it is unchanged (the no-op
// rerun path). It costs a read of the user modules and the same
// stat/readlink calls as Evaluate.
func Fingerprint(opts Options, p *pipeline.Pipeline, host Host) (string, error) {
	if p == nil {
		return "", &Error{Err: fmt.Errorf("fingerprinting policy input: no pipeline")}
	}
	in, err := InputJSON(p, host)
	if err != nil {
		return "", err
	}
	return FingerprintInput(opts, in)
}

// FingerprintInput is Fingerprint of an input document already encoded by
// InputJSON: guardrun-guard checks with it that it judges exactly what
// guardrun fingerprinted.
func FingerprintInput(opts Options, input []byte) (string, error) {
	h := sha256.New()
	field := func(s string) {
		fmt.Fprintf(h, "%d:%s;", len(s), s)
	}
	field("guardrun-policy-fingerprint-v1")
	field(OPAVersion)
	// The schema decides whether a module type-checks: a verdict cached
	// under one schema says nothing about a module under another.
	field(string(inputSchema))
	field(strconv.FormatBool(opts.Strict))
	builtin := BuiltinModules()
	for _, name := range slices.Sorted(maps.Keys(builtin)) {
		field(name)
		field(builtin[name])
	}
	for _, dir := range opts.Dirs {
		files, err := ModuleFiles(dir, false)
		if err != nil {
			return "", err
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				return "", &Error{File: f, Err: fmt.Errorf("reading policy module: %w", err)}
			}
			field(f)
			field(string(b))
		}
	}
	field(string(input))
	return hex.EncodeToString(h.Sum(nil)), nil
}
