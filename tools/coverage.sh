#!/usr/bin/env bash
# tools/coverage.sh: source coverage of the shipped corpora (clang's -fprofile-instr-generate).
#
#   tools/coverage.sh [--max-uncovered N] [--target nf|kernel] [--kernel 6.1|6.12]
#
# --target kernel: the same for the kernel target (kernel/): the kernel fuzzers
# (cmake/fuzzers_kernel.txt) replay the corpus and the catalogue reproducers of
# the fuzzer each shares its source with, their own corpus/F/ and
# corpus/regress/kernel/F/, then tsan_replay_kernel the op programs; the figures
# and the uncovered lines are those of mm/mmu_notifier.c (the copy extracted into
# build/coverage/kernel-src/), the HTML report adds kernel/ and target/kernel/.
#
# 1. Builds the `coverage` preset (build/coverage/; its fuzz targets link
#    fuzzers/tools/replay_main.cc and replay files).
# 2. Replays through every fuzz target F (cmake/fuzzers.txt; tools/nflib.py
#    locates its binary in build/coverage/) its
#    corpus, corpus/F/, and its regression inputs, corpus/regress/F/ (the inputs
#    the ctest label 'replay' runs), each with LLVM_PROFILE_FILE set; then the
#    op programs of the concurrent and sequential corpora on OS threads
#    (tsan_replay, the ctest of the same name).
# 3. Merges the profiles (llvm-profdata) into build/coverage/nf.profdata and
#    writes the HTML report of core/ and fuzzers/ to build/coverage/html/index.html.
# 4. Prints line, region and branch coverage per file of core/ (llvm-cov report),
#    and the lines of core/ no input reaches, at most N of them (default 80; all of
#    them are in build/coverage/uncovered.txt).
#
# Exit: 0, or 1 when the build fails, a target has no input at all, or an input
# crashes (the report is still written from the other targets).
set -euo pipefail

# shellcheck source=tools/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
nf_tool coverage
readonly BUILD=$ROOT/build/coverage


max_uncovered=80
target=nf
kernel=6.1
while (($# > 0)); do
  case $1 in
    --target)
      [[ ${2:-} == nf || ${2:-} == kernel ]] || { echo "nf: coverage: --target must be nf or kernel (see ./nf help)" >&2; exit 2; }
      target=$2
      shift 2 ;;
    --kernel)
      [[ ${2:-} == 6.1 || ${2:-} == 6.12 ]] || { echo "nf: coverage: --kernel must be 6.1 or 6.12 (see ./nf help)" >&2; exit 2; }
      kernel=$2
      shift 2 ;;
    --max-uncovered)
      [[ ${2:-} =~ ^[0-9]+$ ]] || { echo "nf: coverage: --max-uncovered needs a number (see ./nf help)" >&2; exit 2; }
      max_uncovered=$2
      shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) printf "nf: coverage: unknown flag '%s' (see ./nf help)\n" "$1" >&2; exit 2 ;;
  esac
done

# llvm-profdata and llvm-cov of clang's version (Debian: llvm-14 / the llvm package).
tool() {
  local name=$1 v
  v=$(clang --version | sed -n 's/.*clang version \([0-9]*\).*/\1/p')
  if command -v "$name-$v" >/dev/null; then
    printf '%s\n' "$name-$v"
  elif command -v "$name" >/dev/null; then
    printf '%s\n' "$name"
  else
    die "$name not found (Debian package llvm)"
  fi
}
PROFDATA=$(tool llvm-profdata)
COV=$(tool llvm-cov)

# 1. The build.
cd "$ROOT"
# ccache's CCACHE_BASEDIR makes it compile with paths relative to that directory,
# and the coverage mapping then names core/notifier.cc instead of $ROOT/core/...:
# llvm-cov's path filters below would match nothing (0 uncovered lines, every
# file in the report). The coverage build keeps absolute paths.
unset CCACHE_BASEDIR
mkdir -p "$BUILD"
log=$BUILD/nf-coverage-build.log
say "building the coverage preset (log: ${log#"$ROOT"/})"
if ! { { [[ -f $BUILD/build.ninja && $target == nf ]] || cmake --preset coverage; } &&
  cmake --build --preset coverage; } >"$log" 2>&1; then
  tail -n 30 "$log" | sed 's/^/  /' >&2
  die "building the coverage preset failed"
fi

# 2. Replays.
profiles=$BUILD/profiles
rm -rf "$profiles" "$BUILD/html"
mkdir -p "$profiles"
status=0
objects=()
shopt -s nullglob
# count_inputs DIR...: the files a replay runs (it skips EXPECT*, *.nfp and *.md).
count_inputs() {
  find "$@" -type f ! -name 'EXPECT*' ! -name '*.nfp' ! -name '*.md' | wc -l
}
nflib() { python3 "$ROOT/tools/nflib.py" "$@"; }
if [[ $target == kernel ]]; then
  # Another version's targets end in _<major>_<minor> (kernel/README.md).
  vs=""
  [[ $kernel == 6.1 ]] || vs=_${kernel//./_}
  kernel_c=$BUILD/kernel-src/linux-source-$kernel/mm/mmu_notifier.c
  [[ -f $kernel_c ]] || die "no kernel target for Linux $kernel in build/coverage/ (apt-get install linux-source-$kernel: see kernel/README.md)"
  fuzzer_list=$(nflib fuzzers --target kernel)
  report_paths=("$kernel_c")
  html_paths=("$kernel_c" "$ROOT/kernel" "$ROOT/target/kernel")
  what=mm/mmu_notifier.c
  threads_bin=tsan_replay_kernel$vs
else
  [[ $kernel == 6.1 ]] || { echo "nf: coverage: --kernel goes with --target kernel (see ./nf help)" >&2; exit 2; }
  vs=""
  fuzzer_list=$(nflib fuzzers)
  report_paths=("$ROOT/core")
  html_paths=("$ROOT/core" "$ROOT/fuzzers")
  what=core/
  threads_bin=tsan_replay
fi
for name in $fuzzer_list; do
  bin=$(nflib locate coverage "$name$vs") || continue
  dirs=()
  base=${name%_kernel}
  for d in "corpus/$name" "corpus/regress/$name" "corpus/$base" "corpus/regress/$base" \
           "corpus/regress/kernel/$name"; do
    [[ $target == kernel || $d == "corpus/$name" || $d == "corpus/regress/$name" ]] || continue
    [[ -d $d ]] && ! printf '%s\n' "${dirs[@]}" | grep -qx -- "$d" && dirs+=("$d")
  done
  n=0
  ((${#dirs[@]} == 0)) || n=$(count_inputs "${dirs[@]}")
  if ((n == 0)); then
    say "$name: no input in corpus/$name/ nor corpus/regress/$name/" >&2
    status=1
    continue
  fi
  objects+=("$bin")
  if LLVM_PROFILE_FILE="$profiles/$name-%p.profraw" "$bin" "${dirs[@]}" \
    >"$BUILD/replay-$name.log" 2>&1; then
    say "$name: replayed $n input(s)"
  else
    say "$name: an input crashed (log: build/coverage/replay-$name.log)" >&2
    tail -n 20 "$BUILD/replay-$name.log" | sed 's/^/  /' >&2
    status=1
  fi
done
# The same programs on OS threads (tsan_replay, as the ctest 'tsan_replay' runs
# them in CI): the real-thread flavour of the seam (sync/sync_std.h) sleeps only
# there. Which waits happen is up to the OS, so these lines may vary by a few
# between runs; the fuzz targets' replays above are deterministic.
if bin=$(nflib locate coverage "$threads_bin"); then
  dirs=()
  for d in corpus/concurrent_fuzzer corpus/sequential_fuzzer \
           corpus/regress/concurrent_fuzzer corpus/regress/sequential_fuzzer; do
    [[ -d $d ]] && dirs+=("$d")
  done
  objects+=("$bin")
  if LLVM_PROFILE_FILE="$profiles/$threads_bin-%p.profraw" "$bin" "${dirs[@]}" \
    >"$BUILD/replay-$threads_bin.log" 2>&1; then
    say "$threads_bin: replayed $(count_inputs "${dirs[@]}") input(s) on OS threads"
  else
    say "$threads_bin: an input failed (log: build/coverage/replay-$threads_bin.log)" >&2
    tail -n 20 "$BUILD/replay-$threads_bin.log" | sed 's/^/  /' >&2
    status=1
  fi
fi
raw=("$profiles"/*.profraw)
((${#raw[@]} > 0)) || die "no profile was written (no fuzz target ran)"

# 3. Merge and HTML.
"$PROFDATA" merge -sparse "${raw[@]}" -o "$BUILD/nf.profdata"
# cov ARGS...: llvm-cov, its stderr kept in llvm-cov.err. Its warning "N functions
# have mismatched data" is expected: functions of one name that differ between the
# targets (LLVMFuzzerTestOneInput, first of all) keep one profile record. It does
# not change the figures of core/, whose code is the same library in every target.
: >"$BUILD/llvm-cov.err"
cov() { "$COV" "$@" 2>>"$BUILD/llvm-cov.err"; }
cov_args=(-instr-profile="$BUILD/nf.profdata" "${objects[0]}")
for o in "${objects[@]:1}"; do cov_args+=(-object="$o"); done
cov show "${cov_args[@]}" -format=html -output-dir="$BUILD/html" \
  -show-line-counts-or-regions -show-branches=count -show-expansions \
  -project-title=nf -Xdemangler=c++filt "${html_paths[@]}"
say "HTML report: build/coverage/html/index.html"

# 4. core/ (or mm/mmu_notifier.c): per file, then what is not reached.
printf '\n%s, per file (llvm-cov report):\n' "$what"
cov report "${cov_args[@]}" "${report_paths[@]}" | sed "s|$ROOT/||"
cov show "${cov_args[@]}" -format=text -show-line-counts -show-instantiations=false "${report_paths[@]}" |
  awk -v root="$ROOT/" '
    /^\/.*:$/ { file = substr($0, 1, length($0) - 1); sub(root, "", file); next }
    match($0, /^ *[0-9]+\| *0\|/) {
      split($0, f, "|"); line = f[1]; gsub(/ /, "", line)
      code = substr($0, RLENGTH + 1)
      printf "%s:%s:%s\n", file, line, code
    }' >"$BUILD/uncovered.txt"
sed 's/\x1b\[[0-9;]*m//g' "$BUILD/llvm-cov.err" | grep -v 'functions have mismatched data' |
  sort -u | sed 's/^/llvm-cov: /' >&2 || true
total=$(wc -l <"$BUILD/uncovered.txt")
printf '\nlines of %s no input reaches: %d' "$what" "$total"
if ((total > 0)); then
  printf ' (build/coverage/uncovered.txt)\n'
  head -n "$max_uncovered" "$BUILD/uncovered.txt" | sed 's/^/  /'
  ((total <= max_uncovered)) || printf '  ... %d more\n' $((total - max_uncovered))
else
  printf '\n'
fi
exit "$status"
