package policy

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strconv"

	"github.com/open-policy-agent/opa/v1/version"

	"github.com/guardrun/guardrun/pipeline"
)

// Fingerprint identifies a verdict without compiling anything: the SHA-256
// of the OPA version, the built-in and user modules (names and contents),
// opts.Strict and the input document Evaluate would build. Equal
// fingerprints get equal verdicts, so a caller that recorded the fingerprint
// of a passing verdict may skip New and Evaluate when it is unchanged (the
// no-op rerun path). It costs a read of the user modules and the same
// stat/readlink calls as Evaluate.
func Fingerprint(opts Options, p *pipeline.Pipeline, host Host) (string, error) {
	h := sha256.New()
	field := func(s string) {
		fmt.Fprintf(h, "%d:%s;", len(s), s)
	}
	field("guardrun-policy-fingerprint-v1")
	field(version.Version)
	field(strconv.FormatBool(opts.Strict))
	builtin := BuiltinModules()
	for _, name := range sortedKeys(builtin) {
		field(name)
		field(builtin[name])
	}
	for _, dir := range opts.Dirs {
		files, err := regoFiles(dir, false)
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
	if p == nil {
		return "", &Error{Err: fmt.Errorf("fingerprinting policy input: no pipeline")}
	}
	in, err := json.Marshal(Input(p, host))
	if err != nil {
		return "", &Error{Err: fmt.Errorf("fingerprinting policy input: %w", err)}
	}
	field(string(in))
	return hex.EncodeToString(h.Sum(nil)), nil
}
