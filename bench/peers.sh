#!/usr/bin/env bash
# Cold and no-op rerun times of guardrun against make, go-task (checksum) and
# Snakemake on the workloads of shared/bench/setup_peers.sh:
#   w1: one 1 GiB text file through copy -> upper (2 stages)
#   w2: N small files, each through copy -> upper (2N stages)
# guardrun runs each workload twice: with the very shell commands make runs
# (exec processors), and with the demo's own Go processors (processors/copy,
# processors/upper). Writes a Markdown table to stdout (and $OUT if set).
#
# Usage: bench/peers.sh [N]     (default N=200, i.e. 400 stages for w2)
# Env:   ROOT (default /tmp/guardrun-bench), BIG (default /tmp/bench/big.txt),
#        RUNS (no-op repetitions, default 10), SKIP_INSTALL=1
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
N=${1:-200}
ROOT=${ROOT:-/tmp/guardrun-bench}
RUNS=${RUNS:-10}
export BIG=${BIG:-/tmp/bench/big.txt}
SETUP=${SETUP:-$REPO/../shared/bench/setup_peers.sh}
export PATH="$(go env GOPATH)/bin:/usr/local/go/bin:$PATH"

if [ -z "${SKIP_INSTALL:-}" ]; then
  command -v make >/dev/null && command -v snakemake >/dev/null || {
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq make snakemake >/dev/null; }
  command -v task >/dev/null || go install github.com/go-task/task/v3/cmd/task@v3.45.4
fi
[ -f "$SETUP" ] || { echo "missing $SETUP" >&2; exit 2; }
bash "$SETUP" "$ROOT" "$N" >/dev/null
CGO_ENABLED=0 go build -trimpath -o "$ROOT/" ./cmd/guardrun ./cmd/guardrun-guard
GR="$ROOT/guardrun"

# ---- guardrun workspaces -------------------------------------------------
mkgr() { # mkgr DIR KIND(shell|go) WORKLOAD(w1|w2)
  local d=$1 kind=$2 w=$3
  mkdir -p "$d/input" "$d/work" "$d/output" "$d/policy"
  if [ "$w" = w1 ]; then
    ln "$BIG" "$d/input/big.txt" 2>/dev/null || cp "$BIG" "$d/input/big.txt"
  else
    cp "$ROOT/make/w2/input/"*.txt "$d/input/"
  fi
  if [ "$kind" = go ]; then
    mkdir -p "$d/processors"
    cp -r "$REPO/processors/sdk" "$REPO/processors/copy" "$REPO/processors/upper" "$d/processors/"
    rm -f "$d"/processors/*/*_test.go
    printf 'module github.com/guardrun/guardrun\n\ngo 1.26\n' > "$d/go.mod"
  fi
  # The shell lives outside the workspace: allow it explicitly, as a user
  # would (the policy resolves symlinks, e.g. /bin/sh -> /usr/bin/dash).
  printf 'package guardrun.config\n\nallowed_outside_paths contains "%s"\n' "$(readlink -f /bin/sh)" > "$d/policy/bench.rego"
  python3 - "$d" "$kind" "$w" "$N" <<'PY'
import json, sys
d, kind, w, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
def stage(name, src, dst, outdir, op, indep):
    if kind == "go":
        proc = {"go": "./processors/" + ("copy" if op == "copy" else "upper")}
    elif op == "copy":
        proc = {"exec": ["/bin/sh", "-c", 'cp "$0" "$PIPELINE_OUTPUT_DIR/$1"', src, dst]}
    else:
        proc = {"exec": ["/bin/sh", "-c", 'tr a-z A-Z < "$0" > "$PIPELINE_OUTPUT_DIR/$1"', src, dst]}
    s = {"name": name, "processor": proc, "inputs": [src], "outputDir": outdir, "outputs": [dst],
         "resources": {"cpus": 1, "memoryMB": 512}}
    if indep:
        s["dependsOn"] = []
    return s
stages = []
if w == "w1":
    stages = [stage("copy", "input/big.txt", "copy.txt", "work", "copy", False),
              stage("upper", "work/copy.txt", "result.txt", "output", "upper", False)]
else:
    for i in range(1, n + 1):
        stages.append(stage(f"copy{i}", f"input/f{i}.txt", f"f{i}.txt", "work", "copy", True))
        stages.append(stage(f"upper{i}", f"work/f{i}.txt", f"f{i}.txt", "output", "upper", True))
spec = {"version": 1, "name": f"bench-{w}-{kind}", "resources": {"cpus": 2, "ioConcurrency": 2},
        "defaults": {"checkpoint": {"enabled": kind == "go"}}, "stages": stages}
json.dump(spec, open(d + "/pipeline.json", "w"), indent=1)
PY
}
for kind in shell go; do for w in w1 w2; do mkgr "$ROOT/guardrun-$kind/$w" "$kind" "$w"; done; done

# ---- timing ------------------------------------------------------------
. "$REPO/bench/lib.sh"
clean() { # clean DIR TOOL: remove outputs so the next run is cold
  local d=$1 tool=$2
  find "$d/work" "$d/output" -mindepth 1 -delete
  case $tool in
    task) rm -rf "$d/.task" ;;
    snakemake) rm -rf "$d/.snakemake" ;;
    guardrun) find "$d/state" -mindepth 1 -maxdepth 1 ! -name bin -exec rm -rf {} + 2>/dev/null || true; rm -rf "$d/locks" ;;
  esac
}
measure() { # measure LABEL TOOL DIR -> "label | cold | noop"
  local label=$1 tool=$2 d=$3 cold noop
  sync; clean "$d" "$tool"
  cold=$(ms run_tool "$tool" "$d")
  noop=$(for i in $(seq "$RUNS"); do ms run_tool "$tool" "$d"; done | median)
  printf '| %s | %s | %s |\n' "$label" "$cold" "$noop"
}
# Warm the Go processor build cache once (a one-time cost, not part of a cold run).
for w in w1 w2; do (cd "$ROOT/guardrun-go/$w" && "$GR" run --quiet --policy policy --jobs 2 >/dev/null 2>&1 || true); done

table=$( {
  echo "| workload / tool | cold run (ms) | no-op rerun (ms, median of $RUNS) |"
  echo "|---|---:|---:|"
  for w in w1 w2; do
    measure "$w make" make "$ROOT/make/$w"
    measure "$w go-task (checksum)" task "$ROOT/task/$w"
    measure "$w Snakemake" snakemake "$ROOT/snakemake/$w"
    measure "$w guardrun (same shell commands)" guardrun "$ROOT/guardrun-shell/$w"
    measure "$w guardrun (Go processors)" guardrun "$ROOT/guardrun-go/$w"
  done
} )
# Outputs must agree: guardrun's result equals make's.
cmp "$ROOT/make/w1/output/result.txt" "$ROOT/guardrun-shell/w1/output/result.txt"
cmp "$ROOT/make/w1/output/result.txt" "$ROOT/guardrun-go/w1/output/result.txt"
echo "$table"
[ -n "${OUT:-}" ] && echo "$table" > "$OUT"
echo "w1 = one $(du -h "$BIG" | cut -f1) file, 2 stages; w2 = $N files x 2 stages = $((2 * N)) stages" >&2
