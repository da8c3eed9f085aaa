#!/usr/bin/env bash
# Fan-out at scale (docs/BENCHMARKS.md, "Fan-out: 10,000 and 100,000 items"):
# N one-line files, a batched fan-out stage `upper` (the repo's Go processor,
# one output per item) and a fan-in `merge` (processors/copy over the upper
# directory). Times, side by side in one run, guardrun at HEAD, guardrun at
# BASE (if set) and make (pattern rule + one merged target, its outputs made
# up to date without running it cold):
#
#   cold       guardrun's cold run (once per build)
#   no-op      a rerun with nothing changed (median of RUNS)
#   plan       `guardrun plan` with nothing changed (median of RUNS)
#   one        a rerun after one input file changed (median of RUNS, each
#              run changes the file again); a second row subtracts the
#              fan-in's attempt (its process reading N files) from each
#              run's wall time: guardrun's own share plus the changed item's
#              job
#
# Every guardrun row reports wall ms, CPU ms (user+sys) and max RSS, from
# /usr/bin/time. Builds run on separate copies of the same workspace.
#
# Usage: bench/scale.sh [N]          (default 10000)
# Env:   BASE (a git revision to compare with), RUNS (default 5),
#        ROOT (default /tmp/guardrun-scale), BATCH (maxItems, default N/2),
#        KEEP=1 keeps ROOT, OUT=FILE also writes the table there.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
N=${1:-10000}
RUNS=${RUNS:-5}
ROOT=${ROOT:-/tmp/guardrun-scale}
BATCH=${BATCH:-$((N / 2))}
export PATH="/usr/local/go/bin:$PATH"
[ -x /usr/bin/time ] || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null; }
command -v make >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq make >/dev/null; }
rm -rf "$ROOT"; mkdir -p "$ROOT"
[ -n "${KEEP:-}" ] || trap 'rm -rf "$ROOT"' EXIT

build() { # build NAME DIR
  (cd "$2" && CGO_ENABLED=0 go build -trimpath -o "$ROOT/$1/" ./cmd/guardrun ./cmd/guardrun-guard)
}
builds=(head)
build head "$REPO"
if [ -n "${BASE:-}" ]; then
  git worktree add -q --detach "$ROOT/base-src" "$BASE"
  trap 'git -C "$REPO" worktree remove --force "$ROOT/base-src" 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$ROOT"' EXIT
  build base "$ROOT/base-src"
  builds+=(base)
fi

# ---- the workspace ---------------------------------------------------------
W0=$ROOT/ws0
mkdir -p "$W0/input" "$W0/processors"
python3 - "$W0" "$N" "$BATCH" <<'PY'
import json, os, sys
d, n, batch = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
os.makedirs(os.path.join(d, "make", "upper"))
for i in range(n):
    line = "line %d of the quick brown fox\n" % i
    with open(os.path.join(d, "input", "f%06d.txt" % i), "w") as f:
        f.write(line)
    with open(os.path.join(d, "make", "upper", "f%06d.txt" % i), "w") as f:
        f.write(line.upper())  # what make's rule (tr a-z A-Z) writes
spec = {"version": 1, "name": "scale", "resources": {"cpus": 2, "ioConcurrency": 2}, "stages": [
    {"name": "upper", "foreach": {"glob": "input/*.txt"}, "processor": {"go": "./processors/upper"},
     "outputDir": "work/upper", "outputs": ["{item}"], "batch": {"maxItems": batch},
     "resources": {"cpus": 1, "memoryMB": 512}},
    {"name": "merge", "processor": {"go": "./processors/copy"}, "inputs": ["work/upper"],
     "outputDir": "output", "resources": {"cpus": 1, "memoryMB": 512}},
]}
json.dump(spec, open(os.path.join(d, "pipeline.json"), "w"), indent=1)
# make: the same work as pattern rules; its outputs are written above so
# that make's no-op is measured without a cold run of N processes.
with open(os.path.join(d, "make", "Makefile"), "w") as f:
    f.write("IN := $(wildcard ../input/*.txt)\nUP := $(patsubst ../input/%,upper/%,$(IN))\n"
            "all: merged.txt\nmerged.txt: $(UP)\n\tcat $^ > $@\n"
            "upper/%.txt: ../input/%.txt\n\ttr a-z A-Z < $< > $@\n")
PY
cp -r "$REPO/processors/sdk" "$REPO/processors/copy" "$REPO/processors/upper" "$W0/processors/"
rm -f "$W0"/processors/*/*_test.go
printf 'module github.com/guardrun/guardrun\n\ngo 1.26\n' > "$W0/go.mod"
sleep 1.1 # make compares mtimes at one-second granularity on some filesystems
(cd "$W0/make" && find upper -name "*.txt" -exec touch {} + && find upper -name "*.txt" | sort | xargs cat > merged.txt)

# ---- timing ----------------------------------------------------------------
# t DIR CMD... -> "wall_ms cpu_ms maxrss_mb" of one run, failing loudly
t() {
  local d=$1 o; shift
  o=$( cd "$d" && /usr/bin/time -f '%e %U %S %M' "$@" 2>&1 >/dev/null ) || { echo "FAILED in $d: $* :: $o" >&2; return 1; }
  echo "$o" | tail -1 | awk '{printf "%d %d %d\n", $1 * 1000, ($2 + $3) * 1000, $4 / 1024}'
}
# med: median of each column of "a b c" lines
med() {
  local f c; f=$(cat)
  for c in 1 2 3; do echo "$f" | awk -v c=$c '{print $c}' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; done | paste -sd' '
}
# attempt_ms WS STAGE -> the duration of the stage's last attempt, in ms
attempt_ms() {
  python3 - "$1/state/stage_$2.json" <<'PY'
import datetime, json, sys
a = json.load(open(sys.argv[1]))["attempts"][-1]
d = lambda s: datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))
print(int((d(a["endedAt"]) - d(a["startedAt"])).total_seconds() * 1000))
PY
}
row() { # row LABEL "wall cpu rss"
  set -- "$1" $2
  printf '| %s | %s | %s | %s |\n' "$1" "$2" "$3" "$4"
}

declare -A cold
for b in "${builds[@]}"; do
  cp -a "$W0" "$ROOT/ws-$b"
  cold[$b]=$(t "$ROOT/ws-$b" "$ROOT/$b/guardrun" run --quiet)
done
{
  echo "| $N items + fan-in | wall ms | CPU ms (user+sys) | max RSS MB |"
  echo "|---|---:|---:|---:|"
  for b in "${builds[@]}"; do row "$b: cold, batched" "${cold[$b]}"; done
  row "make -r: no-op (mtimes only)" "$(for i in $(seq "$RUNS"); do t "$W0/make" make -s -r; done | med)"
  for b in "${builds[@]}"; do
    row "$b: no-op" "$(for i in $(seq "$RUNS"); do t "$ROOT/ws-$b" "$ROOT/$b/guardrun" run --quiet; done | med)"
  done
  for b in "${builds[@]}"; do
    row "$b: plan" "$(for i in $(seq "$RUNS"); do t "$ROOT/ws-$b" "$ROOT/$b/guardrun" plan; done | med)"
  done
  for b in "${builds[@]}"; do
    rows=$(for i in $(seq "$RUNS"); do
      echo "change $i" >> "$ROOT/ws-$b/input/f000007.txt"
      echo "$(t "$ROOT/ws-$b" "$ROOT/$b/guardrun" run --quiet) $(attempt_ms "$ROOT/ws-$b" merge)"
    done)
    row "$b: one input changed" "$(echo "$rows" | cut -d' ' -f1-3 | med)"
    # What is guardrun's own: the wall time less the fan-in's attempt (its
    # process copying N files); the changed item's job stays counted.
    printf '| %s | %s | | |\n' "$b: one input changed, less the fan-in's attempt" \
      "$(echo "$rows" | awk '{print $1 - $4, 0, 0}' | med | cut -d' ' -f1)"
  done
} | tee "${OUT:-/dev/null}"
# Every build wrote the same outputs.
for b in "${builds[@]}"; do
  [ "$(ls "$ROOT/ws-$b/work/upper" | wc -l)" = "$N" ] || { echo "$b: expected $N outputs" >&2; exit 1; }
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
