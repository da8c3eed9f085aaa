package policy

import (
	"embed"
	"io/fs"
	"strings"
)

// builtinFS holds guardrun's built-in policy. Test modules (*_test.rego) stay
// out of the binary; TestEmbeddedModulesComplete keeps this list honest.
//
//go:embed config.rego lib.rego paths.rego network.rego limits.rego advice.rego
var builtinFS embed.FS

// BuiltinPrefix names embedded modules in messages and coverage reports as
// they are named in the repository.
const BuiltinPrefix = "policy/"

// BuiltinModules returns the built-in Rego modules by file name
// ("policy/lib.rego", ...), for display and for `opa`-style tooling.
func BuiltinModules() map[string]string {
	out := map[string]string{}
	entries, _ := fs.ReadDir(builtinFS, ".")
	for _, e := range entries {
		b, err := fs.ReadFile(builtinFS, e.Name())
		if err != nil || !strings.HasSuffix(e.Name(), ".rego") {
			continue
		}
		out[BuiltinPrefix+e.Name()] = string(b)
	}
	return out
}
