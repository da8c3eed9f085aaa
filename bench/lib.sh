# Shared helpers of the bench/ scripts (sourced, not run).

# ms CMD... -> wall milliseconds of one run (output discarded)
ms() {
  local s e; s=$(date +%s%N); "$@" >/dev/null 2>&1 || { echo "FAILED: $*" >&2; return 1; }; e=$(date +%s%N)
  echo $(( (e - s) / 1000000 ))
}
# median of the numbers on stdin, one per line
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# run_tool TOOL DIR: one run of a tool in its workspace, as the benchmarks time it
run_tool() {
  case $1 in
    make) (cd "$2" && make -s -j2) ;;
    task) (cd "$2" && task --silent --concurrency 2) ;;
    snakemake) (cd "$2" && snakemake -q -c2) ;;
    guardrun|guardrun-fresh) (cd "$2" && "$GR" run --quiet --policy policy --jobs 2) ;;
    single) (cd "$2" && "$PY" tools/norm.py --dir input output) ;;
  esac
}
