#!/usr/bin/env bash
# Runs the demo pipeline twice: the first run executes both stages, the second
# skips them because nothing changed. Needs only Go (see README).
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
./bin/guardrun run --pipeline pipeline.json --run-id demo1
echo "== second run (nothing changed: both stages skip)"
./bin/guardrun run --pipeline pipeline.json --run-id demo2
echo "== result (data/output/result.txt)"
cat data/output/result.txt
echo "== status"
./bin/guardrun status --pipeline pipeline.json
