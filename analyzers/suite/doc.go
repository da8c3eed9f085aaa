// Package suite owns the set of netlint analyzers and the in-process way to
// run them: Analyzers lists them (for cmd/netlint and go vet), Run loads
// packages with golang.org/x/tools/go/packages and runs the analyzers with
// golang.org/x/tools/go/analysis/checker, and VetPackage is what guardrun
// calls on a go processor's directory before building it.
//
// Run is fast in -transitive mode because nettransitive only needs the import
// graph of the dependencies: the packages being linted are type-checked from
// source (their dependencies' types come from compiler export data, shared
// with the build cache), while every dependency is given to the checker as a
// light package carrying only its import list (and, inside the main module,
// its import declarations, so that directives there are seen). The whole
// dependency graph is never type-checked from source.
package suite
