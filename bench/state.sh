#!/usr/bin/env bash
# State growth of no-op runs (docs/BENCHMARKS.md, "State size"): a generated
# pipeline of N independent tiny stages (processors/copy over N files of
# 4 KiB), run cold once, then RUNS no-op runs. Prints the bytes each no-op run
# adds to stateDir, per file kind, and the size of stateDir after every run.
#
# Usage: bench/state.sh [N] [RUNS]     (default N=4500, RUNS=30)
# Env:   ROOT (default: a temp dir, removed at the end), KEEP=1 keeps it,
#        RETAIN (the spec's retention.runs; default: unset, i.e. 50).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
N=${1:-4500}
RUNS=${2:-30}
export PATH="/usr/local/go/bin:$PATH"
ROOT=${ROOT:-$(mktemp -d)}
[ -n "${KEEP:-}" ] || trap 'rm -rf "$ROOT"' EXIT
W=$ROOT/ws
rm -rf "$W"
mkdir -p "$W/bin" "$W/input"
go build -trimpath -o "$ROOT/" ./cmd/guardrun ./cmd/guardrun-guard
go build -trimpath -o "$W/bin/copy" ./processors/copy
GR=$ROOT/guardrun

python3 - "$W" "$N" "${RETAIN:-}" <<'PY'
import json, sys
d, n, retain = sys.argv[1], int(sys.argv[2]), sys.argv[3]
line = "the quick brown fox jumps over the lazy dog 0123456789 abcdefghij\n"
stages = []
for i in range(1, n + 1):
    with open(f"{d}/input/f{i:05d}.txt", "w") as f:
        f.write(line * 64)  # 4.3 KB
    stages.append({"name": f"copy_f{i:05d}", "processor": {"exec": ["bin/copy"]},
                   "inputs": [f"input/f{i:05d}.txt"], "outputDir": "work",
                   "outputs": [f"f{i:05d}.txt"], "dependsOn": []})
spec = {"version": 1, "name": "many", "stages": stages}
if retain:
    spec["retention"] = {"runs": int(retain)}
json.dump(spec, open(f"{d}/pipeline.json", "w"), indent=1)
PY

size() { du -sb "$W/state" | cut -f1; }
# kinds: run records, metrics (json + prom), reports, the audit chain, the log, the rest
kinds() {
  local s=$W/state
  local run met aud log all
  run=$(cat "$s"/run_*.json 2>/dev/null | wc -c)
  met=$(cat "$s"/metrics_*.json "$s"/metrics_*.prom 2>/dev/null | wc -c)
  aud=$(wc -c < "$s/audit.jsonl")
  log=$(wc -c < "$s/guardrun.log")
  all=$(size)
  echo "$run $met $aud $log $all"
}

cd "$W"
t0=$(date +%s%N)
"$GR" run --quiet --run-id cold >/dev/null
t1=$(date +%s%N)
echo "cold run of $N stages: $(( (t1 - t0) / 1000000 )) ms, state/ $(size) bytes"
read -r r0 m0 a0 l0 s0 < <(kinds)
first=""
: > "$ROOT/ms"
for i in $(seq 1 "$RUNS"); do
  read -r rb mb ab lb sb < <(kinds)
  t0=$(date +%s%N)
  "$GR" run --quiet --run-id "noop$i" >/dev/null 2>"$ROOT/err" || { cat "$ROOT/err"; exit 1; }
  t1=$(date +%s%N)
  echo $(( (t1 - t0) / 1000000 )) >> "$ROOT/ms"
  read -r ra ma aa la sa < <(kinds)
  if [ -z "$first" ]; then
    first=1
    echo "first no-op run adds: run_ $((ra - rb)), metrics_ $((ma - mb)), audit.jsonl $((aa - ab)), guardrun.log $((la - lb)), state/ total $((sa - sb)) bytes"
    echo "  its summary line: $(cat "$ROOT/err")"
  fi
  if [ $((i % 10)) -eq 0 ]; then
    echo "after $i no-op runs: state/ $sa bytes, $(ls "$W"/state/run_*.json | wc -l) run records"
  fi
done
echo "no-op run wall time: median $(sort -n "$ROOT/ms" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}') ms"
read -r r1 m1 a1 l1 s1 < <(kinds)
echo "after $RUNS no-op runs: state/ $s1 bytes (grew $((s1 - s0)) bytes, $(( (s1 - s0) / RUNS )) per run)"
echo "  run_ files $r1, metrics_ files $m1, audit.jsonl $a1, guardrun.log $l1 bytes"
echo "  per no-op run on average: audit.jsonl $(( (a1 - a0) / RUNS )), guardrun.log $(( (l1 - l0) / RUNS )) bytes"
echo "  run records kept: $(ls "$W"/state/run_*.json | wc -l)"
"$GR" verify >/dev/null && echo "guardrun verify: ok"
