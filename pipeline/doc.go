// Package pipeline owns the spec model: the types of pipeline.json, strict
// loading (unknown fields, wrong types and trailing data are errors naming the
// field), validation (names, duplicates, cycles, paths that would leave the
// workspace), defaults layering (stage, then "defaults", then built-ins) and
// the stage graph (declared, data and sequential edges). It touches nothing on
// disk except reading the spec and resolving symlinks.
package pipeline
