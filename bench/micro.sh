#!/usr/bin/env bash
# The measurements of docs/BENCHMARKS.md that are not peer comparisons:
#   - Go benchmarks: no-op reruns in-process, hashing, guardrun's allocations
#   - hashing throughput of guardrun vs sha256sum on the same file
#   - checkpoint overhead: the Go upper processor over BIG with and without
#     checkpoints (guardrun end to end)
#   - guardrun's own peak RSS for a small and a large input (flat = streaming)
# Usage: bench/micro.sh    Env: BIG (default /tmp/bench/big.txt, made by
# shared/bench/setup_peers.sh or bench/peers.sh), RUNS (default 3).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
BIG=${BIG:-/tmp/bench/big.txt}
RUNS=${RUNS:-3}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
[ -f "$BIG" ] || { echo "no $BIG: run bench/peers.sh first (it creates it)" >&2; exit 2; }
CGO_ENABLED=0 go build -trimpath -o "$W/" ./cmd/guardrun ./cmd/guardrun-guard

echo "## Go benchmarks"
GUARDRUN_BENCH_BIG=$BIG go test -run '^$' -bench 'NoopRun|ColdRunMemory' -benchtime 20x ./runner | grep -E '^Benchmark'
go test -run '^$' -bench 'BenchmarkFile|BenchmarkSumCached' -benchtime 2s ./internal/hashcache | grep -E '^Benchmark'

echo "## hashing $(du -h "$BIG" | cut -f1) (page cache warm)"
cat "$BIG" > /dev/null
t0=$(date +%s%N); sha256sum "$BIG" >/dev/null; t1=$(date +%s%N)
echo "sha256sum: $(( (t1 - t0) / 1000000 )) ms"

# A one-stage workspace over BIG with the Go upper processor.
mk() { # mk DIR CHECKPOINT(true|false)
  mkdir -p "$1/input" "$1/processors"
  ln "$BIG" "$1/input/big.txt" 2>/dev/null || cp "$BIG" "$1/input/big.txt"
  cp -r "$REPO/processors/sdk" "$REPO/processors/upper" "$1/processors/"
  rm -f "$1"/processors/*/*_test.go
  printf 'module github.com/guardrun/guardrun\n\ngo 1.26\n' > "$1/go.mod"
  cat > "$1/pipeline.json" <<J
{"version": 1, "name": "ck", "stages": [{"name": "upper", "processor": {"go": "./processors/upper"},
 "inputs": ["input/big.txt"], "outputDir": "out", "outputs": ["result.txt"],
 "resources": {"memoryMB": 512}, "checkpoint": {"enabled": $2}}]}
J
}
ms() { local s e; s=$(date +%s%N); "$@" >/dev/null 2>&1; e=$(date +%s%N); echo $(( (e - s) / 1000000 )); }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "## checkpoint overhead (upper over BIG, cold run, median of $RUNS)"
for ck in false true; do
  mk "$W/ck-$ck" "$ck"
  (cd "$W/ck-$ck" && "$W/guardrun" run --quiet >/dev/null 2>&1) # build the processor once
  t=$(for i in $(seq "$RUNS"); do rm -rf "$W/ck-$ck/out"; (cd "$W/ck-$ck" && ms "$W/guardrun" run --quiet --force upper); done | median)
  echo "checkpoints=$ck: $t ms"
done

echo "## guardrun's own peak RSS (the processor runs in its own process)"
mkdir -p "$W/small/input"; head -c 1048576 "$BIG" > "$W/small/input/big.txt"
mk "$W/rss-big" true
cp -r "$W/rss-big/processors" "$W/rss-big/go.mod" "$W/rss-big/pipeline.json" "$W/small/"
for d in small rss-big; do
  (cd "$W/$d" && "$W/guardrun" run --quiet >/dev/null 2>&1 || true; rm -rf out state/hashcache.txt state/preflight.json)
  rss=$(cd "$W/$d" && /usr/bin/time -f %M "$W/guardrun" run --quiet --force upper 2>&1 >/dev/null | tail -1)
  echo "$d input ($(du -h "$W/$d/input/big.txt" | cut -f1)): guardrun max RSS ${rss} KiB"
done
