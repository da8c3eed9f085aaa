#!/usr/bin/env bash
# The test command (README). Installs what the tests need, then: gofmt, go vet
# (linux, windows, darwin), netlint on this repository, go test -race with
# coverage (unit + end-to-end through the real binary), cross-compiles, the
# VM stage (vmtest/run.sh: the sandbox on cgroup v2 kernels in QEMU), and
# checks that the tree is left exactly as it was found.
set -euo pipefail
cd "$(dirname "$0")"
MIN_COVERAGE=${MIN_COVERAGE:-70}
export GOFLAGS=${GOFLAGS:--mod=readonly}
export PATH="/usr/local/go/bin:$PATH"

step() { printf '\n== %s\n' "$*"; }
before=$(git status --porcelain --untracked-files=all 2>/dev/null || true)

step "prerequisites"
command -v go >/dev/null || { echo "Go is required" >&2; exit 2; }
go version
# The HTML report is checked in headless Chromium (Debian's package); the
# test skips with a reason where it cannot be installed.
if ! command -v chromium >/dev/null && ! command -v chromium-browser >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) || echo "chromium could not be installed: the report's browser test will skip"
fi
go mod download
go mod verify >/dev/null

step "gofmt"
bad=$(gofmt -l $(git ls-files '*.go') 2>/dev/null || true)
if [ -n "$bad" ]; then echo "gofmt needed on:"; echo "$bad"; exit 1; fi

step "go vet (linux, windows, darwin)"
go vet ./...
GOOS=windows go vet ./...
GOOS=darwin go vet ./...

step "netlint on this repository (direct and transitive, linux and windows)"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o "$work/netlint" ./cmd/netlint
"$work/netlint" ./...
"$work/netlint" -transitive ./...
GOOS=windows "$work/netlint" ./...
GOOS=windows "$work/netlint" -transitive ./...

step "cross-compile (windows/amd64, darwin/arm64)"
for target in windows/amd64 darwin/arm64; do
  GOOS=${target%/*} GOARCH=${target#*/} go build -o /dev/null ./cmd/guardrun
  GOOS=${target%/*} GOARCH=${target#*/} go build -o /dev/null ./cmd/guardrun-guard
  GOOS=${target%/*} GOARCH=${target#*/} go build -o /dev/null ./cmd/netlint
  echo "ok $target"
done

step "guardrun links neither OPA nor go/analysis (they are guardrun-guard's; start-up)"
for goos in linux windows darwin; do
  heavy=$(GOOS=$goos go list -deps ./cmd/guardrun | grep -E 'open-policy-agent|golang.org/x/tools' || true)
  if [ -n "$heavy" ]; then
    echo "cmd/guardrun ($goos) links packages that belong in cmd/guardrun-guard:"; echo "$heavy"; exit 1
  fi
done
echo "ok"

step "go test -race with coverage (unit + end-to-end)"
covdir=$work/cover
mkdir -p "$covdir/e2e"
# End-to-end tests build the real binary with -cover and write its coverage
# here, so the binary's code counts too.
export GUARDRUN_E2E_COVERDIR="$covdir/e2e"
go test -count=1 -race -covermode=atomic -coverpkg=./... -coverprofile="$covdir/unit.out" -timeout 20m ./... 2>&1 | tee "$covdir/test.log"
status=${PIPESTATUS[0]}
if [ "$status" -ne 0 ]; then echo "tests failed"; exit "$status"; fi

profile="$covdir/unit.out"
if [ -n "$(ls -A "$covdir/e2e" 2>/dev/null)" ]; then
  go tool covdata textfmt -i="$covdir/e2e" -o "$covdir/e2e.out"
  { cat "$covdir/unit.out"; tail -n +2 "$covdir/e2e.out"; } > "$covdir/all.out"
  profile="$covdir/all.out"
fi
# Coverage counts the product's own code, not test helpers or demo processors
# used only as fixtures.
grep -v -E '/(processors/(flaky|slowcopy)|internal/testutil)/' "$profile" > "$covdir/product.out" || true
total=$(go tool cover -func="$covdir/product.out" | awk '/^total:/ {sub("%","",$3); print $3}')
echo "total coverage: ${total}%"
awk -v t="$total" -v m="$MIN_COVERAGE" 'BEGIN { exit !(t+0 >= m+0) }' || { echo "coverage ${total}% is under ${MIN_COVERAGE}%"; exit 1; }

budget=${VMTEST_BUDGET:-300}
step "VM stage: the sandbox on cgroup v2 and an older kernel (vmtest/run.sh, QEMU; budget ${budget} s, stopped at $((2 * budget)) s)"
# Debian's cloud kernels 6.12 and 6.1 in QEMU (software emulation), the
# sandbox and vmtest tests inside; about 2-3 minutes on an idle 2-core host.
# It skips, saying why, only where QEMU cannot be had. Over its budget it
# says so; a stage still running at twice the budget is stopped and fails
# (TCG is CPU-bound: a host busy with other builds slows it down).
vm_start=$(date +%s)
set +e
timeout --kill-after=10 "$((2 * budget))" ./vmtest/run.sh
vm=$?
set -e
vm_secs=$(($(date +%s) - vm_start))
if [ "$vm_secs" -gt "$budget" ]; then
  echo "VM stage: ${vm_secs} s, OVER its budget of ${budget} s (load: $(cut -d' ' -f1-3 /proc/loadavg))"
else
  echo "VM stage: ${vm_secs} s (budget ${budget} s)"
fi
if [ "$vm" = 124 ] || [ "$vm" = 137 ]; then echo "the VM stage was stopped at $((2 * budget)) s"; exit 1; fi
if [ "$vm" -ne 0 ]; then echo "VM stage failed"; exit "$vm"; fi

step "the tree is as it was"
after=$(git status --porcelain --untracked-files=all 2>/dev/null || true)
if [ "$before" != "$after" ]; then
  echo "the tests changed the working tree:"; diff <(echo "$before") <(echo "$after") || true; exit 1
fi
echo "all checks passed"
