#!/bin/bash
# cost.sh PHASE...: the cold and warm costs of netlint, go vet and
# golangci-lint (depguard only) on a Go module, as measured for
# docs/NETLINT.md ("Measured on restic"). One line per run is appended to
# $LOG: wall, user and sys seconds, exit status, the load average when the
# run started, and the end of its stderr (netlint's -timing phases).
#
# Environment:
#   MODULE           the module's checkout (a git repository; its index is
#                    used by the hook phase and restored afterwards)
#   NETLINT          the netlint binary
#   EDIT_FILE        the file of the one-file edit (relative to MODULE)
#   EDIT_SED         a sed expression with @N@ for a number that changes at
#                    each run, editing one function body of EDIT_FILE
#   HOOK             hooks/pre-commit of this repository (phase hook)
#   GOLANGCI_LINT    golangci-lint binary; GOLANGCI_CONFIG: its config
#   CACHES           where the GOCACHEs of each tool go (default
#                    ${TMPDIR:-/tmp}/netlint-cost); the cold phases empty them
#   LOG              results (default cost.log)
# Phases: nl-cold nl-warm nl-edit hook deps vet-cold vet-warm gcl-cold gcl-warm
#
# restic (docs/NETLINT.md):
#   MODULE=/tmp/restic NETLINT=/tmp/netlint HOOK=$PWD/hooks/pre-commit \
#   EDIT_FILE=internal/repository/repository.go \
#   EDIT_SED='s/errors.New("invalid compression mode[^"]*")/errors.New("invalid compression mode @N@")/' \
#   GOLANGCI_CONFIG=/tmp/depguard.yml analyzers/scripts/cost.sh nl-cold nl-warm nl-edit hook vet-cold vet-warm gcl-cold gcl-warm
set -u
: "${MODULE:?} ${NETLINT:?} ${EDIT_FILE:?} ${EDIT_SED:?}"
LOG=$(cd "$(dirname "${LOG:-cost.log}")" && pwd)/$(basename "${LOG:-cost.log}")
CACHES=${CACHES:-${TMPDIR:-/tmp}/netlint-cost}
GCL=${GOLANGCI_LINT:-golangci-lint}
mkdir -p "$CACHES"
export GOFLAGS=${GOFLAGS:--buildvcs=false} GOTOOLCHAIN=${GOTOOLCHAIN:-local}
n=0
edit() {
	n=$((n + 1))
	sed -i "${EDIT_SED//@N@/e$RANDOM$n}" "$MODULE/$EDIT_FILE"
}
t() { # label command...
	local label=$1
	shift
	local la
	la=$(cut -d' ' -f1-3 /proc/loadavg)
	/usr/bin/time -o "$CACHES/time.txt" -f '%e %U %S %x' "$@" >"$CACHES/out" 2>"$CACHES/err"
	echo "$(date -u +%FT%TZ) | $label | wall/user/sys/exit $(tail -1 "$CACHES/time.txt") | load $la |" \
		"$(wc -l <"$CACHES/out") stdout lines | $(tail -c 300 "$CACHES/err" | tr '\n' ' ')" >>"$LOG"
}
cd "$MODULE" || exit 1
for phase in "$@"; do
	case $phase in
	nl-cold)
		rm -rf "$CACHES/nl"
		GOCACHE=$CACHES/nl t "netlint ./... cold (empty GOCACHE)" "$NETLINT" -timing ./...
		;;
	nl-warm)
		for i in 1 2 3; do GOCACHE=$CACHES/nl t "netlint ./... warm" "$NETLINT" -timing ./...; done
		for i in 1 2 3; do GOCACHE=$CACHES/nl t "netlint -transitive ./... warm" "$NETLINT" -timing -transitive ./...; done
		;;
	nl-edit)
		for i in 1 2 3; do edit && GOCACHE=$CACHES/nl t "netlint ./... warm, one-file edit" "$NETLINT" -timing ./...; done
		for i in 1 2 3; do edit && GOCACHE=$CACHES/nl t "netlint -transitive ./... warm, one-file edit" "$NETLINT" -timing -transitive ./...; done
		git checkout -q -- "$EDIT_FILE"
		;;
	hook)
		# the hook as git runs it before a commit of a staged one-file edit
		for i in 1 2 3; do
			edit && git add "$EDIT_FILE" && NETLINT=$NETLINT GOCACHE=$CACHES/nl t "hooks/pre-commit, staged one-file edit" sh "${HOOK:?}"
		done
		git reset -q HEAD -- "$EDIT_FILE" && git checkout -q -- "$EDIT_FILE"
		;;
	deps)
		for i in 1 2; do GOCACHE=$CACHES/nl t "netlint -deps ./... warm" "$NETLINT" -timing -deps ./...; done
		;;
	vet-cold)
		rm -rf "$CACHES/vet"
		GOCACHE=$CACHES/vet t "go vet ./... cold (empty GOCACHE)" go vet ./...
		;;
	vet-warm)
		for i in 1 2 3; do GOCACHE=$CACHES/vet t "go vet ./... warm" go vet ./...; done
		for i in 1 2 3; do edit && GOCACHE=$CACHES/vet t "go vet ./... warm, one-file edit" go vet ./...; done
		git checkout -q -- "$EDIT_FILE"
		;;
	gcl-cold)
		rm -rf "$CACHES/gcl" "$CACHES/gcl-own"
		GOCACHE=$CACHES/gcl GOLANGCI_LINT_CACHE=$CACHES/gcl-own t "golangci-lint run (depguard only) cold" "$GCL" run -c "${GOLANGCI_CONFIG:?}" ./...
		;;
	gcl-warm)
		for i in 1 2 3; do
			GOCACHE=$CACHES/gcl GOLANGCI_LINT_CACHE=$CACHES/gcl-own t "golangci-lint run (depguard only) warm" "$GCL" run -c "$GOLANGCI_CONFIG" ./...
		done
		for i in 1 2 3; do
			edit && GOCACHE=$CACHES/gcl GOLANGCI_LINT_CACHE=$CACHES/gcl-own t "golangci-lint run (depguard only) warm, one-file edit" "$GCL" run -c "$GOLANGCI_CONFIG" ./...
		done
		git checkout -q -- "$EDIT_FILE"
		;;
	*)
		echo "cost.sh: unknown phase $phase" >&2
		exit 2
		;;
	esac
done
