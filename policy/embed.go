package policy

import (
	"embed"
	"io/fs"
	"strings"
)

// builtinFS holds guardrun's built-in policy. Test modules (*_test.rego) stay
// out of the binary; TestEmbeddedModulesComplete keeps this list honest.
//
//go:embed config.rego lib.rego paths.rego network.rego limits.rego advice.rego conftest.rego
var builtinFS embed.FS

// inputSchema is the JSON schema of the input document (Input): the engine
// type-checks every module, built-in and --policy, against it, so that a
// rule naming a path the document does not have is an error at load time
// instead of a rule that never fires.
//
//go:embed schema/input.json
var inputSchema []byte

// InputSchemaFile names the schema in messages, as it is named in the
// repository (`opa check --strict -s policy/schema/input.json ...`).
const InputSchemaFile = "policy/schema/input.json"

// InputSchema returns the JSON schema (draft 7) of the policy's input
// document, the document Input builds and `guardrun check --policy-input`
// prints.
func InputSchema() []byte { return append([]byte(nil), inputSchema...) }

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
