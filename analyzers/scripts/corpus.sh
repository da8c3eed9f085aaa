#!/bin/sh
# corpus.sh NETLINT: counts what a netlint binary catches of the evasion
# corpora (every line of analyzers/*/testdata/src/{evasion,rawevasion} with a
# "// want `...`" diagnostic is one trick) and how many findings it reports on
# the false-positive corpora (which must stay quiet). The corpora are GOPATH
# trees, linted with GO111MODULE=off. Used for the numbers in docs/NETLINT.md.
set -eu
netlint=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/netlint-corpus.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

# lint GOPATH_DIR FLAGS PATTERNS...: findings as "file:line" on stdout
lint() {
	gopath=$1
	flags=$2
	shift 2
	# shellcheck disable=SC2086 # flags are words
	(cd "$gopath/src" && GO111MODULE=off GOPATH=$gopath GOFLAGS= "$netlint" -config none $flags "$@" 2>/dev/null || true) |
		sed -n 's/^\([^:]*:[0-9]*\):[0-9]*: .*/\1/p' | sort -u
}

# tricks GOPATH_DIR PACKAGE_DIR: the "file:line" of every diagnostic want
tricks() {
	(cd "$1/src" && grep -rn '// want `' "$2" | sed -n 's/^\([^:]*:[0-9]*\):.*/\1/p' | sort -u)
}

count() {
	name=$1
	gopath=$2
	dir=$3
	tricks "$gopath" "$dir" >"$tmp/want"
	lint "$gopath" "" "./$dir/..." >"$tmp/got"
	total=$(wc -l <"$tmp/want")
	caught=$(comm -12 "$tmp/want" "$tmp/got" | wc -l)
	echo "$name: caught $caught/$total"
}

quiet() {
	name=$1
	gopath=$2
	flags=$3
	shift 3
	n=$(lint "$gopath" "$flags" "$@" | wc -l)
	echo "$name: $n finding(s) (0 expected)"
}

count "exec evasion (netexec/testdata/src/evasion)" "$root/netexec/testdata" evasion
count "raw-socket evasion (rawsocket/testdata/src/rawevasion)" "$root/rawsocket/testdata" rawevasion
quiet "exec false positives (netexec/testdata/src/execfp)" "$root/netexec/testdata" "" ./execfp
quiet "raw-socket false positives (rawsocket/testdata/src/rawfp)" "$root/rawsocket/testdata" "" ./rawfp
quiet "import false positives (netimport/testdata/src/datafp)" "$root/netimport/testdata" "" ./datafp
quiet "transitive false positives (nettransitive/testdata/src/example.com/{flagish,usesflagish})" "$root/nettransitive/testdata" -transitive ./example.com/flagish ./example.com/usesflagish
