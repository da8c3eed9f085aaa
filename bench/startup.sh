#!/usr/bin/env bash
# Start-up and no-op rerun end to end, before and after guardrun stopped
# linking OPA and go/analysis (they moved to guardrun-guard, issue 15):
#   hello    a hello-world Go program: the floor of any Go binary here
#   version  `guardrun version`: process start and package initialisation
#   noop     `guardrun run` of the demo pipeline (Go processors copy -> upper)
#            over a 1 GiB input, every stage up to date (after one cold run)
# "before" is built from BASE (default fc793f0, the last commit before the
# split), "after" from the working tree; both as run_demo.sh builds them.
# Also prints the package-initialisation time GODEBUG=inittrace=1 reports.
# Writes Markdown to stdout.
#
# Usage: bench/startup.sh
# Env:   BASE (commit), RUNS (hyperfine runs, default 50), BIG (default
#        /tmp/bench/big.txt, generated at 1 GiB if missing), W (work dir,
#        default /tmp/guardrun-startup), SKIP_INSTALL=1
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
BASE=${BASE:-fc793f0}
RUNS=${RUNS:-50}
W=${W:-/tmp/guardrun-startup}
export BIG=${BIG:-/tmp/bench/big.txt}
export PATH="/usr/local/go/bin:$PATH"

if [ -z "${SKIP_INSTALL:-}" ] && ! command -v hyperfine >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq hyperfine >/dev/null
fi
command -v hyperfine >/dev/null || { echo "hyperfine is required (apt-get install hyperfine)" >&2; exit 2; }
if [ ! -f "$BIG" ]; then # the 1 GiB text of shared/bench/setup_peers.sh
  mkdir -p "$(dirname "$BIG")"
  python3 - "$BIG" <<'PY'
import random, sys
random.seed(1)
w = ["".join(random.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(random.randint(2, 10))) for _ in range(5000)]
blob = "".join(" ".join(random.choice(w) for _ in range(12)) + "\n" for _ in range(20000)).encode()
with open(sys.argv[1], "wb") as f:
    n = 0
    while n < (1 << 30):
        f.write(blob); n += len(blob)
PY
fi

rm -rf "$W"; mkdir -p "$W/hello" "$W/base-src" "$W/before" "$W/after"
printf 'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("x") }\n' > "$W/hello/main.go"
(cd "$W/hello" && go mod init hello >/dev/null 2>&1 && go build -trimpath -o "$W/hello-world" .)
# before: the commit's own build command (guardrun alone: OPA linked in)
git archive "$BASE" | tar -x -C "$W/base-src"
(cd "$W/base-src" && go build -trimpath -o "$W/before/" ./cmd/guardrun)
# after: guardrun and, next to it, guardrun-guard, static as run_demo.sh
# builds them; and guardrun as a plain `go build` makes it (cgo, dynamically
# linked against the C library, because a dependency imports net)
CGO_ENABLED=0 go build -trimpath -o "$W/after/" ./cmd/guardrun ./cmd/guardrun-guard
mkdir -p "$W/after-cgo"
CGO_ENABLED=1 go build -trimpath -o "$W/after-cgo/" ./cmd/guardrun

# Where the rest of the start-up goes: a program that links only the
# containerd/cgroups packages the sandbox uses (static, as guardrun is built).
mkdir -p "$W/cg/src"
sed 's#^module .*#module cgonly#' go.mod > "$W/cg/src/go.mod"; cp go.sum "$W/cg/src/"
cat > "$W/cg/src/main.go" <<'GO'
package main

import (
	"fmt"

	"github.com/containerd/cgroups/v3/cgroup1"
	"github.com/containerd/cgroups/v3/cgroup2"
)

var _, _ = cgroup1.Default, cgroup2.NewManager

func main() { fmt.Println("x") }
GO
(cd "$W/cg/src" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -o "$W/cgroups-only" .)

mkws() { # mkws DIR: the demo pipeline with BIG as its input
  local d=$1
  mkdir -p "$d/data/input" "$d/processors"
  ln "$BIG" "$d/data/input/sample.txt" 2>/dev/null || cp "$BIG" "$d/data/input/sample.txt"
  cp -r "$REPO/processors/sdk" "$REPO/processors/copy" "$REPO/processors/upper" "$d/processors/"
  rm -f "$d"/processors/*/*_test.go
  printf 'module github.com/guardrun/guardrun\n\ngo 1.26\n' > "$d/go.mod"
  # the demo's two stages as they were at BASE (the demo has grown a
  # fan-out example since, which BASE cannot load)
  git -C "$REPO" show "$BASE:pipeline.json" > "$d/pipeline.json"
}
inittrace() { # inittrace BIN: median over 20 starts of the summed init ms
  for _ in $(seq 20); do
    GODEBUG=inittrace=1 "$1" version 2>&1 >/dev/null | awk '/^init / {t += $5} END {printf "%.1f\n", t}'
  done | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}
stats() { # stats JSON: hyperfine's mean, standard deviation and median, in ms
  python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"][0]; print("%.1f %.1f %.1f" % (r["mean"]*1e3, r["stddev"]*1e3, r["median"]*1e3))' "$1"
}

for v in before after; do
  mkws "$W/ws-$v"
  # the cold run: builds and runs both stages over 1 GiB (and, after the
  # split, starts guardrun-guard once to compute the verdicts it caches)
  (cd "$W/ws-$v" && "$W/$v/guardrun" run --quiet >/dev/null)
done
cmp "$W/ws-before/data/output/result.txt" "$W/ws-after/data/output/result.txt"

hf() { # hf NAME DIR CMD...
  local name=$1 dir=$2; shift 2
  (cd "$dir" && hyperfine -N --warmup 5 -r "$RUNS" --export-json "$W/$name.json" "$*" >/dev/null 2>&1)
}
hf hello "$W" "$W/hello-world"
hf cgroups "$W" "$W/cgroups-only"
hf version-before "$W" "$W/before/guardrun version"
hf version-after "$W" "$W/after/guardrun version"
hf version-after-cgo "$W" "$W/after-cgo/guardrun version"
hf noop-before "$W/ws-before" "$W/before/guardrun run"
# The no-op after the split runs a guardrun with no guardrun-guard anywhere:
# it must not need one (every verdict is cached), or hyperfine fails.
mkdir -p "$W/alone"; cp "$W/after/guardrun" "$W/alone/guardrun"
GUARDRUN_GUARD= hf noop-after "$W/ws-after" "$W/alone/guardrun run"

cell() { # cell JSON: "mean ± sd (median m)", or nothing
  local m sd med
  [ -n "$1" ] || return 0
  read -r m sd med <<<"$(stats "$1")"
  echo "$m ± $sd (median $med)"
}
row() { # row LABEL BEFORE.json AFTER.json (either may be "")
  echo "| $1 | $(cell "$2") | $(cell "$3") |"
}
echo "| ms, mean ± sd | before ($BASE) | after |"
echo "|---|---:|---:|"
row "hello-world Go binary (the floor)" "" "$W/hello.json"
row "a Go binary linking only containerd/cgroups (cgroup1, cgroup2)" "" "$W/cgroups.json"
row "\`guardrun version\`" "$W/version-before.json" "$W/version-after.json"
row "\`guardrun version\`, after, built with cgo" "" "$W/version-after-cgo.json"
row "no-op \`guardrun run\`, 1 GiB x 2 stages" "$W/noop-before.json" "$W/noop-after.json"
echo "| package initialisation (inittrace sum, median of 20 starts) | $(inittrace "$W/before/guardrun") | $(inittrace "$W/after/guardrun") |"
echo "| binary size (MB) | $(du -m "$W/before/guardrun" | cut -f1) | $(du -m "$W/after/guardrun" | cut -f1) (guardrun-guard $(du -m "$W/after/guardrun-guard" | cut -f1)) |"
echo
echo "hyperfine -N --warmup 5 -r $RUNS; $(nproc) cpus, $(uname -r), $(go version | cut -d' ' -f3), load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%FT%TZ)"
