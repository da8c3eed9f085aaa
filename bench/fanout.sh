#!/usr/bin/env bash
# Fan-out workloads, guardrun against make, go-task and Snakemake side by
# side in one run on the same files (docs/BENCHMARKS.md, "Fan-out"):
#
#   w2:     N small files, each through copy -> upper (the commands and files
#           of shared/bench/setup_peers.sh). guardrun runs it as two fan-out
#           stages (a chain): the same shell commands per item, the Go
#           processors per item, and the Go processors batched.
#   corpus: M text files, each normalised and word-counted by one Python
#           script (bench/corpus/norm.py): one python3 process over the whole
#           directory (the floor), make -j2 and Snakemake -c2 with a process
#           per file, guardrun per item and batched.
#
# Columns: cold run, no-op rerun (median of RUNS), and a rerun after one
# input file changed. Prints a Markdown table (also to $OUT if set) and
# checks that every tool's outputs are byte-identical to make's.
#
# Usage: bench/fanout.sh [N]   (default N=200; M=1500 corpus files)
# Env:   ROOT (default /tmp/guardrun-fanbench), BIG (/tmp/bench/big.txt),
#        RUNS (default 5), M, PY (default /usr/bin/python3), SKIP_INSTALL=1,
#        W2_ONLY=1 (the w2 rows only)
#
# A guardrun cold run keeps state/bin (the Go builds, warmed once before)
# and state/preflight.json (the policy and netlint verdict): both are
# computed once per spec, policy and processor source. The row "verdict
# computed" drops the verdict as well.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
N=${1:-200}
M=${M:-1500}
ROOT=${ROOT:-/tmp/guardrun-fanbench}
RUNS=${RUNS:-5}
PY=${PY:-/usr/bin/python3}
export BIG=${BIG:-/tmp/bench/big.txt}
SETUP=${SETUP:-$REPO/../shared/bench/setup_peers.sh}
export PATH="$(go env GOPATH)/bin:/usr/local/go/bin:$PATH"

if [ -z "${SKIP_INSTALL:-}" ]; then
  command -v make >/dev/null && command -v snakemake >/dev/null || {
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq make snakemake >/dev/null; }
  command -v task >/dev/null || go install github.com/go-task/task/v3/cmd/task@v3.45.4
fi
[ -f "$SETUP" ] || { echo "missing $SETUP" >&2; exit 2; }
[ -x "$PY" ] || { echo "no $PY (set PY to a python3 every user can run)" >&2; exit 2; }
rm -rf "$ROOT"; mkdir -p "$ROOT"
bash "$SETUP" "$ROOT/peers" "$N" >/dev/null
CGO_ENABLED=0 go build -trimpath -o "$ROOT/" ./cmd/guardrun ./cmd/guardrun-guard
GR="$ROOT/guardrun"
PYREAL=$(readlink -f "$PY")

# ---- guardrun workspaces -------------------------------------------------
policy() { # policy DIR PATH...: allow programs outside the workspace
  mkdir -p "$1/policy"
  { printf 'package guardrun.config\n\n'
    for p in "${@:2}"; do printf 'allowed_outside_paths contains "%s"\n' "$p"; done; } > "$1/policy/bench.rego"
}
gospec() { # gospec DIR: the repo's Go processors in DIR
  mkdir -p "$1/processors"
  cp -r "$REPO/processors/sdk" "$REPO/processors/copy" "$REPO/processors/upper" "$1/processors/"
  rm -f "$1"/processors/*/*_test.go
  printf 'module github.com/guardrun/guardrun\n\ngo 1.26\n' > "$1/go.mod"
}
mkw2() { # mkw2 DIR shell|go|batch
  local d=$1 kind=$2
  mkdir -p "$d/input"
  cp "$ROOT/peers/make/w2/input/"*.txt "$d/input/"
  policy "$d" "$(readlink -f /bin/sh)"
  [ "$kind" = shell ] || gospec "$d"
  python3 - "$d" "$kind" <<'PY'
import json, sys
d, kind = sys.argv[1], sys.argv[2]
one = 'in=${PIPELINE_INPUTS#??}; in=${in%??}; '
def proc(op):
    if kind != "shell":
        return {"go": "./processors/" + op}
    cmd = 'cp "$in"' if op == "copy" else 'tr a-z A-Z < "$in" >'
    return {"exec": ["/bin/sh", "-c", one + cmd + ' "$PIPELINE_OUTPUT_DIR/$PIPELINE_ITEM"']}
def stage(name, foreach, op, out):
    s = {"name": name, "foreach": foreach, "processor": proc(op), "outputDir": out, "outputs": ["{item}"],
         "resources": {"cpus": 1, "memoryMB": 512}}
    if kind == "batch":
        s["batch"] = {"maxItems": 1000}
    return s
spec = {"version": 1, "name": "w2-fan-" + kind, "resources": {"cpus": 2, "ioConcurrency": 2},
        "stages": [stage("copy", {"glob": "input/*.txt"}, "copy", "work"),
                   stage("upper", {"stage": "copy"}, "upper", "output")]}
json.dump(spec, open(d + "/pipeline.json", "w"), indent=1)
PY
}
for k in shell go batch; do mkw2 "$ROOT/guardrun-$k/w2" "$k"; done

# ---- corpus ---------------------------------------------------------------
CORPUS="$ROOT/corpus-src"
python3 - "$CORPUS" "$M" <<'PY'
import os, random, sys
d, m = sys.argv[1], int(sys.argv[2])
os.makedirs(d)
random.seed(7)
words = ["".join(random.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(random.randint(2, 9))) for _ in range(20000)]
for i in range(1, m + 1):
    n = random.randint(1200, 2400)  # ~8-16 KB
    text = " ".join(random.choice(words).capitalize() if random.random() < .1 else random.choice(words) for _ in range(n))
    with open(os.path.join(d, "doc%04d.txt" % i), "w") as f:
        f.write(text.replace(" ", "\n", n // 12) + "\n")
PY
mkcorpus() { # mkcorpus DIR KIND(make|snakemake|single|item|batch)
  local d=$1 kind=$2
  mkdir -p "$d/input" "$d/output" "$d/tools"
  cp "$CORPUS"/*.txt "$d/input/"
  cp "$REPO/bench/corpus/norm.py" "$d/tools/"
  case $kind in
    make) { echo -n "all:"; for f in "$CORPUS"/*.txt; do b=$(basename "$f" .txt); echo -n " output/$b.tsv"; done; echo
            echo 'output/%.tsv: input/%.txt'; printf '\t%s tools/norm.py $< $@\n' "$PY"; } > "$d/Makefile" ;;
    snakemake) cat > "$d/Snakefile" <<S
import os
DOCS = sorted(f[:-4] for f in os.listdir("input") if f.endswith(".txt"))
rule all:
    input: expand("output/{d}.tsv", d=DOCS)
rule norm:
    input: "input/{d}.txt"
    output: "output/{d}.tsv"
    shell: "$PY tools/norm.py {input} {output}"
S
    ;;
    item|batch)
      policy "$d" "$PYREAL"
      python3 - "$d" "$kind" "$PY" <<'PY'
import json, sys
d, kind, py = sys.argv[1:4]
s = {"name": "norm", "foreach": {"glob": "input/*.txt"}, "processor": {"exec": [py, "tools/norm.py"]},
     "outputDir": "output", "outputs": ["{stem}.tsv"], "resources": {"cpus": 1, "memoryMB": 512}}
if kind == "batch":
    s["batch"] = {"maxItems": 1000}
json.dump({"version": 1, "name": "corpus-" + kind, "resources": {"cpus": 2, "ioConcurrency": 2}, "stages": [s]},
          open(d + "/pipeline.json", "w"), indent=1)
PY
      ;;
  esac
}
for k in make snakemake single item batch; do mkcorpus "$ROOT/corpus-$k" "$k"; done

# ---- timing ------------------------------------------------------------
. "$REPO/bench/lib.sh"
clean() { # clean DIR TOOL: remove outputs and state so the next run is cold
  local d=$1 tool=$2
  find "$d" -mindepth 1 -maxdepth 1 \( -name work -o -name output \) -exec sh -c 'find "$1" -mindepth 1 -delete' _ {} \;
  case $tool in
    task) rm -rf "$d/.task" ;;
    snakemake) rm -rf "$d/.snakemake" ;;
    # A cold run keeps what guardrun computes once per spec and processor
    # source, as make keeps nothing but needs nothing: the Go builds
    # (state/bin) and the preflight verdict (state/preflight.json: policy
    # and netlint). guardrun-fresh drops the verdict too, the first run
    # after the spec, the policy or a processor's code changed.
    guardrun) find "$d/state" -mindepth 1 -maxdepth 1 ! -name bin ! -name preflight.json -exec rm -rf {} + 2>/dev/null || true; rm -rf "$d/locks" ;;
    guardrun-fresh) find "$d/state" -mindepth 1 -maxdepth 1 ! -name bin -exec rm -rf {} + 2>/dev/null || true; rm -rf "$d/locks" ;;
  esac
}
measure() { # measure LABEL TOOL DIR FILE -> "| label | cold | noop | one changed |"
  local label=$1 tool=$2 d=$3 file=$4 cold noop one
  sync; clean "$d" "$tool"
  cold=$(ms run_tool "$tool" "$d")
  noop=—
  # One process over the directory has no notion of up to date: its
  # "one changed" is a whole rerun.
  [ "$tool" = single ] || noop=$(for i in $(seq "$RUNS"); do ms run_tool "$tool" "$d"; done | median)
  echo "one more line" >> "$d/$file"
  one=$(ms run_tool "$tool" "$d")
  printf '| %s | %s | %s | %s |\n' "$label" "$cold" "$noop" "$one"
}
# Warm the Go processor builds and the verdicts once (one-time costs, not
# part of a cold run; the "verdict computed" row pays the verdict again).
for k in shell go batch; do (cd "$ROOT/guardrun-$k/w2" && "$GR" run --quiet --policy policy --jobs 2 >/dev/null 2>&1 || true); done
cp -a "$ROOT/guardrun-batch" "$ROOT/guardrun-batchfresh" # its own input files for its own "one changed"

table=$( {
  echo "| workload / tool | cold run (ms) | no-op rerun (ms, median of $RUNS) | one input changed (ms) |"
  echo "|---|---:|---:|---:|"
  measure "w2 make -j2" make "$ROOT/peers/make/w2" input/f1.txt
  measure "w2 go-task (checksum)" task "$ROOT/peers/task/w2" input/f1.txt
  measure "w2 Snakemake -c2" snakemake "$ROOT/peers/snakemake/w2" input/f1.txt
  measure "w2 guardrun, fan-out, same shell commands" guardrun "$ROOT/guardrun-shell/w2" input/f1.txt
  measure "w2 guardrun, fan-out, Go processors" guardrun "$ROOT/guardrun-go/w2" input/f1.txt
  measure "w2 guardrun, fan-out, Go processors batched" guardrun "$ROOT/guardrun-batch/w2" input/f1.txt
  measure "w2 guardrun, Go processors batched, verdict computed (first run after a spec or code change)" guardrun-fresh "$ROOT/guardrun-batchfresh/w2" input/f1.txt
  [ -n "${W2_ONLY:-}" ] && exit 0
  measure "corpus one python3 over the directory" single "$ROOT/corpus-single" input/doc0001.txt
  measure "corpus make -j2 (python3 per file)" make "$ROOT/corpus-make" input/doc0001.txt
  measure "corpus Snakemake -c2 (python3 per file)" snakemake "$ROOT/corpus-snakemake" input/doc0001.txt
  measure "corpus guardrun per item" guardrun "$ROOT/corpus-item" input/doc0001.txt
  measure "corpus guardrun batched (maxItems 1000)" guardrun "$ROOT/corpus-batch" input/doc0001.txt
} )
# Every tool wrote the same bytes.
for k in shell go batch batchfresh; do diff -r "$ROOT/peers/make/w2/output" "$ROOT/guardrun-$k/w2/output" >/dev/null || { echo "w2 $k differs from make" >&2; exit 1; }; done
[ -n "${W2_ONLY:-}" ] || for k in single snakemake item batch; do
  diff -r "$ROOT/corpus-make/output" "$ROOT/corpus-$k/output" -x '.*' >/dev/null || { echo "corpus $k differs from make" >&2; exit 1; }
done
echo "$table"
[ -n "${OUT:-}" ] && echo "$table" > "$OUT"
echo "w2 = $N files x 2 jobs; corpus = $M files of 8-16 KB, $(du -sh "$CORPUS" | cut -f1)" >&2
