#!/usr/bin/env bash
# Runs the demo pipeline twice: the first run executes every stage, the
# second skips them because nothing changed. Then it shows the fan-out
# stage upper_each (one job per data/input/*.txt): a file added runs only
# its item, and deleting it removes only its output; the fan-in stage count
# reruns both times. Needs only Go (see README).
set -euo pipefail
cd "$(dirname "$0")"
command -v go >/dev/null || { echo "run_demo.sh: Go is required (https://go.dev/dl)" >&2; exit 2; }
mkdir -p bin
# guardrun, and next to it guardrun-guard, which it starts only when a policy
# or netlint verdict is not cached (README, "Guards"). Static (no cgo): a
# binary that loads no C library starts faster (docs/BENCHMARKS.md).
CGO_ENABLED=0 go build -trimpath -o bin/ ./cmd/guardrun ./cmd/guardrun-guard
echo "== guardrun check"
./bin/guardrun check --pipeline pipeline.json
echo "== first run"
./bin/guardrun run --pipeline pipeline.json
echo "== second run (nothing changed: every stage skips)"
./bin/guardrun run --pipeline pipeline.json
# The demo's own extra input file, removed again whatever happens.
extra=data/input/delta.txt
trap 'rm -f "$extra"' EXIT
printf 'delta: added by run_demo.sh, deleted again below.\n' >"$extra"
echo "== fan-out: $extra added (plan, then run: only its item runs, and count)"
./bin/guardrun plan --pipeline pipeline.json
./bin/guardrun run --pipeline pipeline.json
rm -f "$extra"
echo "== fan-out: $extra deleted (its output data/each/delta.txt is removed, count reruns)"
./bin/guardrun run --pipeline pipeline.json
echo "== result (data/output/result.txt)"
cat data/output/result.txt
echo "== fan-in (data/output/counts.tsv: path, lines, words, bytes of each data/each file)"
cat data/output/counts.tsv
echo "== status"
./bin/guardrun status --pipeline pipeline.json
