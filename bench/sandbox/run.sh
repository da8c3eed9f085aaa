#!/usr/bin/env bash
# Sandbox start overhead: Start+Wait of /bin/true through guardrun's sandbox
# (plain exec, namespaces, confinement with and without the mount namespace,
# namespaces + cgroup, everything) against
# `unshare -n true` and bubblewrap. Writes the table into docs/BENCHMARKS.md
# under "## Sandbox start overhead" (only that section is replaced).
# Needs root (cgroups); installs Debian's bubblewrap when missing.
set -euo pipefail
cd "$(dirname "$0")/../.."
N="${N:-300}"

if ! command -v bwrap >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1; then
    echo "installing bubblewrap" >&2
    (apt-get install -y bubblewrap >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y bubblewrap >/dev/null; }) || echo "bubblewrap not installed; its row is skipped" >&2
  fi
fi

out="$(go test -run '^$' -bench '^BenchmarkStart$' -benchtime "${N}x" -count 1 ./sandbox/ 2>&1)" || { echo "$out" >&2; exit 1; }
echo "$out" >&2

table="$(echo "$out" | awk '
  /^BenchmarkStart\// {
    name=$1; sub(/^BenchmarkStart\//, "", name); sub(/-[0-9]+$/, "", name)
    gsub(/_/, " ", name)
    med=""; p90=""; cpu=""
    for (i=1;i<=NF;i++) { if ($i=="median-ms") med=$(i-1); if ($i=="p90-ms") p90=$(i-1); if ($i=="cpu-ms/op") cpu=$(i-1) }
    printf "| %s | %s | %s | %s |\n", name, med, p90, cpu
  }')"

host="$(uname -r), $(nproc) CPUs, load $(cut -d" " -f1-3 /proc/loadavg), $(date -u +%Y-%m-%dT%H:%M:%SZ)"
section="$(cat <<MD
## Sandbox start overhead

Start+Wait of \`/bin/true\`, ${N} runs each (\`bench/sandbox/run.sh\`; Go benchmark
\`BenchmarkStart\` in sandbox/bench_linux_test.go). Host: ${host}.
Rows: \`plain\` = fork+exec in a process group; \`netns\` = net+pid namespaces;
\`+landlock+seccomp\` = the confined thread (no_new_privs, Landlock, seccomp) and an
unprivileged uid; \`+mountns\` adds the private mount namespace (host read-only, private
/tmp, /dev, /proc); \`netns+cgroup\` = namespaces and a cgroup v1 per attempt (memory, cpu,
cpuacct, pids: created, entered, drained, read and removed) without confinement; \`full\` =
what every attempt gets (docs/SANDBOX.md): the run's one network namespace entered, and a
drained cgroup of the same limits reused from the previous attempt (\`full, netns per
attempt\` and \`full, cgroup per attempt\` are the same without that reuse: a namespace or a
cgroup created and removed per attempt, as before). \`bwrap-ro\` is bubblewrap with a comparable
view (net+pid namespaces, host read-only, private /tmp, /proc, /dev). Goal: under 5 ms
median per stage. All rows are sensitive to host load (the child of a cgroup row runs in a
fresh CPU cgroup that competes with every other runnable task); compare rows of the same
run. CPU ms is this process's and its reaped children's user+system time per start, which
load changes less than wall time (it leaves out kernel work in other threads, such as the
asynchronous teardown of a removed cgroup).

| stage | median ms | p90 ms | CPU ms |
|---|---|---|---|
${table}
MD
)"

doc=docs/BENCHMARKS.md
mkdir -p docs
[ -f "$doc" ] || printf '# Benchmarks\n' > "$doc"
SECTION="$section" python3 - "$doc" <<'PY' 2>/dev/null || SECTION="$section" perl -0pi -e 's/\n## Sandbox start overhead\n.*?(?=\n## |\z)//s; $_ .= "\n" . $ENV{SECTION} . "\n"' "$doc"
import os, re, sys
p = sys.argv[1]
s = open(p).read()
sec = os.environ["SECTION"].rstrip() + "\n"
pat = re.compile(r"^## Sandbox start overhead\n.*?(?=^## |\Z)", re.S | re.M)
if pat.search(s):
    s = pat.sub(lambda m: sec + "\n", s, count=1)
else:
    s = s.rstrip() + "\n\n" + sec
open(p + ".tmp", "w").write(s)
os.replace(p + ".tmp", p)
PY
echo "wrote $doc" >&2
