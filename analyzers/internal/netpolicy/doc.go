// Package netpolicy owns what netlint considers "networking": the default
// deny and allow lists of import paths (with the reason each entry is there),
// pattern matching ("x/..." matches x and everything below it; the longest
// matching pattern wins; on a tie the later layer wins - flags over the config
// file over the defaults - and deny wins within a layer), the per-package
// exceptions of a .netlint.json file, and the command-line flags (-deny,
// -allow, -config) that extend all of it. Every netlint analyzer asks a
// *Policy; none keeps lists of its own.
package netpolicy
