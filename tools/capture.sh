#!/usr/bin/env bash
# tools/capture.sh: capture every output of every corpus input, so that a
# restructuring can show it changed nothing (`diff -r BEFORE AFTER` empty).
#
#   tools/capture.sh [--build DIR] [--kernel LIST] [--jobs N] [--mutants MDIR] OUT
#
# For every directory under corpus/ that holds inputs (every fuzzer's corpus,
# the seeds, the regression reproducers; input bytes and .nfp text programs
# alike; EXPECT* and *.md are not inputs), writes under OUT/<target>/<dir>/:
#   decode.txt, decode.json   nf_tool decode [--json] of each input (target nf only:
#                             decoding does not depend on the target)
#   creplay.txt, creplay.json the concurrent replay: trace and verdict
#                             (nf_tool creplay [--json])
#   replay.txt, replay.json   the sequential replay: op log and verdict
#                             (nf_tool replay [--json])
# for the targets nf (nf_tool) and each of LIST: 6.1 and 6.12, the kernel target
# on that version (nf_tool_kernel, nf_tool_kernel_6_12), contract-6.1 and
# contract-6.12, the same file under the contract's traits
# (nf_tool_kernel_contract[_6_12]), where the kernel's classified divergences
# fail, so that failure reports are captured too (on nf and the kernel target
# every corpus input passes); default LIST: 6.1,6.12,contract-6.1; "none" for nf
# only. Each
# command runs once over a directory's inputs; if it exits non-zero (a replay
# that finds a violation aborts), it runs again input by input, each with its
# exit status and stderr, so every input's output is captured either way.
# Paths in the outputs are relative to the repository (the script runs from its
# root), so captures of two checkouts compare. DIR: the build tree with the
# tools (default build/dev; build them first: cmake --build --preset dev
# --target nf_tool nf_ctrace nf_tool_kernel nf_ctrace_kernel nf_tool_kernel_6_12
# nf_ctrace_kernel_6_12). N: (target, directory) pairs in parallel (default 2). OUT must not
# exist yet. Exit 0 with the capture's size and time on stdout; a missing tool
# or an existing OUT: one line, exit 2.
#
# Failure reports of planted bugs (--mutants MDIR): every corpus input passes on
# the correct core, so with MDIR, a build tree configured with
# -DNF_BUILD_MUTANTS=ON, each mutant's reproducers, corpus/regress/<fuzzer>/<m>/
# for <fuzzer> sequential_fuzzer and concurrent_fuzzer, are also run by that
# mutant's twin, MDIR/mutants/<fuzzer>_mut_<m>, and its report (stdout and
# stderr: the failing check, the program, the schedule and the trace) and exit
# status go to OUT/mutants/<fuzzer>/<m>.txt. A reproducer whose twin is not
# built is listed as such in OUT/mutants/missing.txt, so a capture with fewer
# twins differs. The kernel target's mutants (corpus/regress/kernel/*/mut_*)
# are not covered. A tree with just the twins this needs (Debug, no tests, no
# kernel target; about 17 small links over 11 mutant cores):
#   cmake -S . -B build/capture-mutants -G Ninja -DCMAKE_BUILD_TYPE=Debug \
#     -DNF_BUILD_MUTANTS=ON -DNF_BUILD_TESTS=OFF -DNF_KERNEL_TARGET=OFF
#   tools/capture.sh --mutant-targets | xargs cmake --build build/capture-mutants -j2 --target
# (--mutant-targets prints those twins' names and exits).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=build/dev
KERNELS=6.1,6.12,contract-6.1
JOBS=2
OUT=""
MDIR=""
# The twins that run a reproducer of their mutant: <fuzzer>_mut_<m> for every
# corpus/regress/<fuzzer>/<m>/ with an EXPECT file (a mutant's reproducers;
# harness/ has none).
mutant_twins() {
  local d
  for d in "$ROOT"/corpus/regress/{sequential_fuzzer,concurrent_fuzzer}/*/; do
    [[ -f $d/EXPECT ]] || continue
    d=${d%/}
    echo "$(basename "$(dirname "$d")")_mut_$(basename "$d")"
  done
}
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build) BUILD=$2; shift 2 ;;
    --kernel) KERNELS=$2; shift 2 ;;
    --jobs) JOBS=$2; shift 2 ;;
    --mutants) MDIR=$2; shift 2 ;;
    --mutant-targets) mutant_twins; exit 0 ;;
    -*) echo "capture.sh: unknown flag $1 (usage: tools/capture.sh [--build DIR] [--kernel LIST] [--jobs N] [--mutants MDIR] OUT)" >&2; exit 2 ;;
    *) [[ -z "$OUT" ]] || { echo "capture.sh: one OUT only" >&2; exit 2; }; OUT=$1; shift ;;
  esac
done
[[ -n "$OUT" ]] || { echo "capture.sh: no OUT given (usage: tools/capture.sh [--build DIR] [--kernel LIST] [--jobs N] [--mutants MDIR] OUT)" >&2; exit 2; }
[[ ! -e "$OUT" ]] || { echo "capture.sh: $OUT exists; give a new directory" >&2; exit 2; }
OUT=$(mkdir -p "$OUT" && cd "$OUT" && pwd)
cd "$ROOT"
[[ "$BUILD" = /* ]] || BUILD="$ROOT/$BUILD"
if [[ -n "$MDIR" ]]; then
  [[ "$MDIR" = /* ]] || MDIR="$ROOT/$MDIR"
  [[ -d "$MDIR/mutants" ]] || { echo "capture.sh: $MDIR has no mutants/ (configure it with -DNF_BUILD_MUTANTS=ON)" >&2; exit 2; }
fi

# target name -> the nf_tool binary
declare -A TOOL=([nf]=nf_tool)
TARGETS=(nf)
if [[ "$KERNELS" != none ]]; then
  IFS=, read -r -a vs <<<"$KERNELS"
  for v in "${vs[@]}"; do
    case "$v" in
      6.1) TOOL[kernel-6.1]=nf_tool_kernel ;;
      6.12) TOOL[kernel-6.12]=nf_tool_kernel_6_12 ;;
      contract-6.1) TOOL[kernel-contract-6.1]=nf_tool_kernel_contract ;;
      contract-6.12) TOOL[kernel-contract-6.12]=nf_tool_kernel_contract_6_12 ;;
      *) echo "capture.sh: --kernel takes 6.1, 6.12, contract-6.1, contract-6.12 or none, not $v" >&2
         exit 2 ;;
    esac
    TARGETS+=("kernel-$v")
  done
fi
for t in "${TARGETS[@]}"; do
  bin=$(find "$BUILD" -name "${TOOL[$t]}" -type f -perm -u+x | head -1)
  ctrace=$(dirname "${bin:-/nonexistent}")/${TOOL[$t]/nf_tool/nf_ctrace}
  if [[ -z "$bin" || ! -x "$ctrace" ]]; then
    echo "capture.sh: ${TOOL[$t]} or its nf_ctrace is not built under $BUILD" >&2
    exit 2
  fi
  TOOL[$t]=$bin
done

# The directories that hold inputs, sorted.
mapfile -t DIRS < <(find corpus -type f ! -name 'EXPECT*' ! -name '*.md' -printf '%h\n' | sort -u)
[[ ${#DIRS[@]} -gt 0 ]] || { echo "capture.sh: no input under corpus/" >&2; exit 2; }

# run OUTFILE TOOL ARGS... -- FILES: the command over all files, or input by input.
run() {
  local out=$1 tool=$2; shift 2
  local args=()
  while [[ "$1" != -- ]]; do args+=("$1"); shift; done
  shift
  local rc=0
  "$tool" "${args[@]}" "$@" >"$out" 2>"$out.err" || rc=$?
  if [[ $rc -eq 0 ]]; then
    cat "$out.err" >>"$out"
  else
    : >"$out"
    echo "# the run over the directory exited $rc; input by input:" >>"$out"
    local f
    for f in "$@"; do
      rc=0
      echo "## $f" >>"$out"
      "$tool" "${args[@]}" "$f" >>"$out" 2>"$out.err" || rc=$?
      echo "## stderr" >>"$out"
      cat "$out.err" >>"$out"
      echo "## exit $rc" >>"$out"
    done
  fi
  rm -f "$out.err"
}

# One directory on one target.
capture_dir() {
  local t=$1 dir=$2 f
  local files=()
  mapfile -t files < <(find "$dir" -maxdepth 1 -type f ! -name 'EXPECT*' ! -name '*.md' | sort)
  {
    local o="$OUT/$t/$dir"
    mkdir -p "$o"
    if [[ $t == nf ]]; then
      : >"$o/decode.txt"
      : >"$o/decode.json"
      for f in "${files[@]}"; do
        echo "## $f" >>"$o/decode.txt"
        "${TOOL[$t]}" decode "$f" >>"$o/decode.txt" 2>&1 || echo "## exit $?" >>"$o/decode.txt"
        "${TOOL[$t]}" decode --json "$f" >>"$o/decode.json" 2>&1 || echo "## exit $?" >>"$o/decode.json"
      done
    fi
    run "$o/replay.txt" "${TOOL[$t]}" replay -- "${files[@]}"
    run "$o/replay.json" "${TOOL[$t]}" replay --json -- "${files[@]}"
    run "$o/creplay.txt" "${TOOL[$t]}" creplay -- "${files[@]}"
    run "$o/creplay.json" "${TOOL[$t]}" creplay --json -- "${files[@]}"
  }
}

export -f run capture_dir
export OUT
TOOLS_LIST=""
for t in "${TARGETS[@]}"; do TOOLS_LIST+="$t=${TOOL[$t]} "; done
export TOOLS_LIST

start=$(date +%s)
# Every (target, directory) pair is a job.
for t in "${TARGETS[@]}"; do
  for d in "${DIRS[@]}"; do printf '%s\0%s\0' "$t" "$d"; done
done | xargs -0 -n 2 -P "$JOBS" bash -c '
  set -euo pipefail
  declare -A TOOL
  for kv in $TOOLS_LIST; do TOOL[${kv%%=*}]=${kv#*=}; done
  capture_dir "$1" "$2"' _
# The mutants' reports, twin by twin (each reproducer at most 120 s).
if [[ -n "$MDIR" ]]; then
  mkdir -p "$OUT/mutants"
  : >"$OUT/mutants/missing.txt"
  while read -r twin; do
    fuzzer=${twin%%_mut_*} m=${twin#*_mut_}
    if [[ ! -x "$MDIR/mutants/$twin" ]]; then
      echo "$twin" >>"$OUT/mutants/missing.txt"
      continue
    fi
    mkdir -p "$OUT/mutants/$fuzzer"
    o="$OUT/mutants/$fuzzer/$m.txt"
    : >"$o"
    for f in $(find "corpus/regress/$fuzzer/$m" -maxdepth 1 -type f ! -name 'EXPECT*' ! -name '*.md' ! -name '*.nfp' | sort); do
      rc=0
      echo "## $f" >>"$o"
      ASAN_OPTIONS=detect_leaks=0:abort_on_error=0 timeout 120 "$MDIR/mutants/$twin" "$f" >>"$o" 2>&1 || rc=$?
      echo "## exit $rc" >>"$o"
    done
  done < <(mutant_twins)
fi
end=$(date +%s)
inputs=$(find corpus -type f ! -name 'EXPECT*' ! -name '*.md' | wc -l)
twins=""
[[ -z "$MDIR" ]] || twins=", $(find "$OUT/mutants" -name '*.txt' ! -name missing.txt | wc -l) mutant twins"
echo "capture.sh: ${#DIRS[@]} directories, $inputs inputs, targets ${TARGETS[*]}$twins:" \
  "$(du -sh "$OUT" | cut -f1) in $OUT, $((end - start)) s"
