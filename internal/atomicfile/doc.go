// Package atomicfile owns the one way guardrun writes a state file, marker or
// cache: write a temporary file in the same directory, fsync it, close it,
// rename it over the target and fsync the directory. A reader therefore sees
// either the old complete file or the new complete file, even after kill -9
// or a power cut. Temporary files carry a recognisable suffix so that Sweep can
// remove the leftovers of a crash at the next start.
package atomicfile
