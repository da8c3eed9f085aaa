#!/usr/bin/env bash
# The VM stage (vmtest/doc.go, docs/SANDBOX.md "Tested on which kernels"):
# boots Debian cloud kernels in QEMU (software emulation, no KVM needed)
# with a busybox initramfs holding static guardrun, guardrun-guard, the
# hostile helper processor (sandbox/testdata/helper), the processors
# slowcopy and upper, and the test binaries of sandbox/ and vmtest/,
# on cgroup v2, and fails unless every test passes on every kernel.
#
#   vmtest/run.sh                      both kernels (6.12 from bookworm-backports, 6.1 from bookworm)
#   VMTEST_SUITES=bookworm vmtest/run.sh       one kernel
#   VMTEST_BROKEN=1 vmtest/run.sh      guardrun built without memory.max on v2: must FAIL
#
# Installs qemu-system-x86 with apt when it is missing; busybox-static and
# the kernels are downloaded with `apt-get download` into $VMTEST_CACHE and
# unpacked there (nothing is installed on the host for them). Skips, saying
# why, only where the host cannot run QEMU: not Linux/amd64, or no
# qemu-system-x86_64 and no way to install it.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"
SUITES=${VMTEST_SUITES:-bookworm-backports bookworm}
CACHE=${VMTEST_CACHE:-/var/cache/guardrun-vmtest}
TIMEOUT=${VMTEST_TIMEOUT:-200} # seconds per VM, boot to power-off
SILENCE=${VMTEST_SILENCE:-75}  # seconds without console output: the guest froze
MEM=${VMTEST_MEM:-1024}
TAGS=""
if [ "${VMTEST_BROKEN:-}" = 1 ]; then
  TAGS=guardrun_broken_v2_memory_max
  echo "VMTEST_BROKEN=1: guardrun and the sandbox tests are built with -tags $TAGS (memory.max not written on cgroup v2); this stage must FAIL"
fi
t0=$(date +%s)
say() { printf '[vmtest %3ds] %s\n' "$(($(date +%s) - t0))" "$*"; }
skip() { echo "VM stage SKIPPED: $*"; exit 0; }

[ "$(uname -s)/$(uname -m)" = Linux/x86_64 ] || skip "needs Linux on x86_64 (this is $(uname -s)/$(uname -m))"

# --- QEMU ------------------------------------------------------------------
install_qemu=""
if ! command -v qemu-system-x86_64 >/dev/null; then
  [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null ||
    skip "no qemu-system-x86_64, and no apt-get as root to install qemu-system-x86"
  install_qemu=1
fi
command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null || skip "no apt-get/dpkg-deb to download Debian's kernels"

# --- binaries (built while apt works) ------------------------------------
work=$(mktemp -d /tmp/guardrun-vmtest.XXXXXX)
build=""
trap '[ -z "$build" ] || kill "$build" 2>/dev/null; rm -rf "$work"' EXIT
trap 'exit 143' TERM INT # run_tests.sh's budget: clean up on the way out
root=$work/root
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,vm/bin}
(
  set -e
  export CGO_ENABLED=0
  gb=(-ldflags=-s\ -w ${TAGS:+-tags $TAGS})
  go build "${gb[@]}" -o "$root/vm/bin/" ./cmd/guardrun ./cmd/guardrun-guard
  go build "${gb[@]}" -o "$root/vm/bin/helper" ./sandbox/testdata/helper
  go build "${gb[@]}" -o "$root/vm/bin/" ./processors/slowcopy ./processors/upper
  go test -c "${gb[@]}" -o "$root/vm/sandbox.test" ./sandbox
  go test -c "${gb[@]}" -o "$root/vm/vmtest.test" ./vmtest
) > "$work/build.log" 2>&1 &
build=$!

if [ -n "$install_qemu" ]; then
  say "installing qemu-system-x86 (apt)"
  apt_q() { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends qemu-system-x86 >/dev/null; }
  apt_q || { apt-get update -qq && apt_q; } || skip "qemu-system-x86 could not be installed with apt"
  command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 not found after installing qemu-system-x86"
fi

# --- Debian packages: a private apt state in $CACHE ------------------------
# The host's own Debian mirror (from its apt sources), with the suites the
# kernels come from; the host's apt configuration is left alone.
mkdir -p "$CACHE/apt/lists/partial" "$CACHE/apt/cache/archives/partial" "$CACHE/deb"
. /etc/os-release
codename=${VERSION_CODENAME:-bookworm}
mirror=$(apt-get indextargets --format '$(REPO_URI) $(RELEASE)' 2>/dev/null | awk -v r="$codename" '$2 == r { print $1; exit }')
[ -n "$mirror" ] || mirror=$(apt-get indextargets --format '$(REPO_URI) $(RELEASE)' 2>/dev/null | awk '$1 ~ /\/debian\/$/ { print $1; exit }')
[ -n "$mirror" ] || { echo "FAIL: no Debian mirror in this host's apt sources (apt-get indextargets)"; exit 1; }
for s in "$codename" $SUITES; do echo "deb $mirror $s main"; done | sort -u > "$CACHE/apt/sources.list"
APT=(-o "Dir::Etc::SourceList=$CACHE/apt/sources.list" -o Dir::Etc::SourceParts=/dev/null
  -o "Dir::State::Lists=$CACHE/apt/lists" -o "Dir::Cache=$CACHE/apt/cache" -o "Dir::State::status=/dev/null"
  -o APT::Sandbox::User=root -o Debug::NoLocking=1)
if [ -z "$(find "$CACHE/apt/lists" -name '*Packages*' -mmin -720 2>/dev/null | head -1)" ] ||
  [ "$(cat "$CACHE/apt/sources.sum" 2>/dev/null)" != "$(md5sum < "$CACHE/apt/sources.list")" ]; then
  say "apt-get update (private lists: $(tr '\n' ';' < "$CACHE/apt/sources.list"))"
  apt-get "${APT[@]}" update -qq >/dev/null
  md5sum < "$CACHE/apt/sources.list" > "$CACHE/apt/sources.sum"
fi

# download PKG[/SUITE|=VERSION]: fetches the package into $CACHE/deb and
# prints the path of the .deb.
download() {
  local tmp deb v
  case $1 in *=*) # an exact version already fetched (apt writes : as %3a)
    v=${1#*=}
    deb=$(ls "$CACHE/deb/${1%%=*}_${v//:/%3a}_"*.deb 2>/dev/null | head -1)
    if [ -n "$deb" ]; then echo "$deb"; return; fi ;;
  esac
  tmp=$(mktemp -d "$CACHE/dl.XXXXXX")
  if ! (cd "$tmp" && apt-get "${APT[@]}" download -qq "$1" >/dev/null 2>"$tmp/err"); then
    cat "$tmp/err" >&2
    rm -rf "$tmp"
    return 1
  fi
  deb=$(ls "$tmp"/*.deb)
  mv -f "$deb" "$CACHE/deb/" && rm -rf "$tmp"
  echo "$CACHE/deb/$(basename "$deb")"
}
# unpack DEB DIR, once per package file.
unpack() {
  if [ ! -e "$2/.from" ] || [ "$(cat "$2/.from")" != "$1" ]; then
    rm -rf "$2" && mkdir -p "$2" && dpkg-deb -x "$1" "$2" && echo "$1" > "$2/.from"
  fi
}

deb=$(download busybox-static)
unpack "$deb" "$CACHE/busybox"
BUSYBOX=$CACHE/busybox/bin/busybox
say "busybox-static $(dpkg-deb -f "$deb" Version)"
kernels=()
for suite in $SUITES; do
  if ! meta=$(download "linux-image-cloud-amd64/$suite"); then
    echo "kernel of $suite: linux-image-cloud-amd64 could not be downloaded (above): not tested"
    continue
  fi
  img=$(dpkg-deb -f "$meta" Depends | sed -n 's/^\(linux-image-[^ ,]*\) (= \([^)]*\)).*/\1=\2/p')
  [ -n "$img" ] || { echo "FAIL: cannot read the kernel package that $meta depends on"; exit 1; }
  unpack "$(download "$img")" "$CACHE/kernel-$suite"
  vmlinuz=$(ls "$CACHE/kernel-$suite"/boot/vmlinuz-* | head -1)
  say "kernel of $suite: ${img%%=*} ${img#*=}"
  kernels+=("$suite=$vmlinuz")
done
[ ${#kernels[@]} -gt 0 ] || { echo "FAIL: no kernel could be downloaded for $SUITES"; exit 1; }

# --- initramfs -----------------------------------------------------------
wait "$build" || { build=""; echo "FAIL: building the binaries for the VM:"; cat "$work/build.log"; exit 1; }
build=""
say "binaries built${TAGS:+ (-tags $TAGS)}"
ln -s /vm/bin/guardrun "$root/bin/guardrun"
cp "$BUSYBOX" "$root/bin/busybox" && ln -s busybox "$root/bin/sh"
# bash, for the sandbox tests' /dev/tcp probe, with its libraries.
if bash=$(command -v bash) && bash=$(readlink -f "$bash"); then
  cp "$bash" "$root/bin/bash"
  for lib in $(ldd "$bash" | grep -o '/[^ ]*'); do
    mkdir -p "$root$(dirname "$lib")" && cp -L "$lib" "$root$lib"
  done
fi
install -m 0755 vmtest/init.sh "$root/init"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$root/etc/group"
chmod -R a+rX "$root"
(cd "$root" && find . | "$BUSYBOX" cpio -o -H newc 2>/dev/null) > "$work/initrd.cpio"
say "initramfs $(($(stat -c %s "$work/initrd.cpio") >> 20)) MiB, uncompressed"

# --- boot every kernel ----------------------------------------------------
# -cpu qemu64,-cx16: with CX16, Debian bookworm's QEMU 7.2 (TCG,
# multi-threaded or not) crashed the guest in the slab allocator's
# cmpxchg16b fast path (double fault in kmem_cache_alloc) in 3 of 10 boots
# of the 6.12 kernel here; without CX16 the kernel takes its other path:
# 0 of 20 boots.
# boot SUITE VMLINUZ LOG: runs one VM, streaming its console; returns
# QEMU's status when the VM powered off by itself, 124 at the timeout, 125
# when the console was silent for $SILENCE s: a frozen guest (init.sh
# prints a heartbeat every 10 s; a hung test is ended by its -test.timeout
# with a goroutine dump, a kernel stall would print a warning).
boot() {
  local suite=$1 vmlinuz=$2 log=$3 qpid tpid start last size=0 now n rc=0
  : > "$log"
  qemu-system-x86_64 -accel tcg,thread=multi -cpu qemu64,-cx16 -smp 2 -m "$MEM" \
    -nodefaults -no-user-config -display none -serial stdio -no-reboot \
    -kernel "$vmlinuz" -initrd "$work/initrd.cpio" \
    -append "console=ttyS0 panic=-1 oops=panic quiet loglevel=4" </dev/null >"$log" 2>&1 &
  qpid=$!
  tail -n +1 -f --pid="$qpid" "$log" | tr -d '\r' | sed -u "s/^/  [$suite] /" &
  tpid=$!
  start=$(date +%s) last=$start
  while kill -0 "$qpid" 2>/dev/null; do
    sleep 1
    now=$(date +%s) n=$(stat -c %s "$log")
    [ "$n" = "$size" ] || size=$n last=$now
    if [ $((now - last)) -ge "$SILENCE" ]; then rc=125; elif [ $((now - start)) -ge "$TIMEOUT" ]; then rc=124; fi
    if [ "$rc" != 0 ]; then
      kill "$qpid" 2>/dev/null
      wait "$qpid" 2>/dev/null
      wait "$tpid" 2>/dev/null
      return "$rc"
    fi
  done
  wait "$qpid" || rc=$?
  wait "$tpid" 2>/dev/null
  return "$rc"
}

# A frozen guest is booted once more (and said so); a failed test never is.
failed=0
for k in "${kernels[@]}"; do
  suite=${k%%=*} vmlinuz=${k#*=} log=$work/serial-${k%%=*}.log
  for try in 1 2; do
    say "booting $(basename "$vmlinuz") ($suite): -smp 2 -m $MEM, TCG, timeout ${TIMEOUT}s"
    s=$(date +%s)
    qemu=0
    boot "$suite" "$vmlinuz" "$log.raw" || qemu=$?
    tr -d '\r' < "$log.raw" > "$log"
    secs=$(($(date +%s) - s))
    verdicts=$(grep -E '^VMTEST RESULT ' "$log" || true)
    why=""
    if [ "$qemu" = 124 ]; then why="timed out after ${TIMEOUT}s"
    elif [ "$qemu" = 125 ]; then why="the guest froze: its console was silent for ${SILENCE}s after: $(grep -vE '^\s*$|^qemu-system' "$log" | tail -1)"
    elif grep -q 'Kernel panic' "$log"; then why="kernel panic"
    elif ! grep -q '^VMTEST DONE' "$log"; then why="the VM stopped before the tests ended (qemu exit $qemu)"
    elif [ "$(grep -c ' PASS in ' <<<"$verdicts")" != 2 ]; then why="a test binary failed"
    fi
    echo
    echo "== VM $suite: $(grep -m1 '^VMTEST KERNEL' "$log" | cut -d' ' -f3-), $(grep -m1 '^VMTEST CGROUP' "$log" | cut -d' ' -f3-), ${secs}s"
    echo "$verdicts" | sed 's/^VMTEST RESULT /  /'
    grep -E '^\s*--- (FAIL|SKIP)' "$log" | sed 's/^ */  /' || true
    echo "  $(grep -cE '^\s*--- PASS' "$log" || true) passed, $(grep -cE '^\s*--- FAIL' "$log" || true) failed, $(grep -cE '^\s*--- SKIP' "$log" || true) skipped (tests and subtests)"
    if [ "$qemu" = 125 ] && [ "$try" = 1 ]; then
      echo "VM $suite: $why; booting it once more"
      continue
    fi
    if [ -n "$why" ]; then
      echo "FAIL: VM $suite: $why"
      failed=1
    elif [ "$try" = 2 ]; then
      echo "PASS: VM $suite (on its second boot: the first froze)"
    else
      echo "PASS: VM $suite"
    fi
    break
  done
done
say "VM stage done"
exit $failed
