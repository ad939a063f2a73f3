#!/usr/bin/env bash
# tools/afl_fuzz.sh: fuzz one fuzz target with AFL++ (Debian's afl++ package).
#
#   tools/afl_fuzz.sh [--fuzzer NAME] [--minutes N | --seconds S]
#                     [--sanitizer address|undefined|none]
#                     [--mutant M] [--empty] [--seed N] [--until-crash]
#
# --mutant M: on mutant M of the bug catalogue (docs/bugs.md; a tree of its own,
# build/afl/<sanitizer>-mut-M/, with the core nf_core_mut_M); --empty: from one
# placeholder input instead of the corpus (detection from scratch); --seed N:
# afl-fuzz -s N; --until-crash: stop at the first crash (AFL_BENCH_UNTIL_CRASH).
# The summary gives the first crash's time and executions (its file name).
#
# Defaults: sequential_fuzzer, 10 minutes, address. Steps:
#   1. installs afl++ if it is missing (apt-get; root or sudo);
#   2. builds the fuzz targets into build/afl/<sanitizer>/ with afl-clang-fast++ and
#      AFL++'s libFuzzer-compatible driver (libAFLDriver.a, the main() that calls
#      LLVMFuzzerTestOneInput in AFL's persistent mode), through the CMake option
#      NF_LIB_FUZZING_ENGINE, and the sanitizer through NF_SANITIZER;
#      For the program fuzzers (sequential, concurrent) it also builds the
#      structure-aware mutator as AFL++ custom-mutator libraries
#      (fuzzers/program/afl_mutator.cc) into build/afl/mutator/, with clang and no
#      AFL++ instrumentation (they run inside afl-fuzz);
#   3. runs `afl-fuzz -V SECONDS` on the target, one instance, without the UI,
#      input corpus/NAME/ plus corpus/regress/NAME/ (staged in build/afl/in/NAME/;
#      one placeholder input when both are empty), dictionary fuzzers/NAME.dict
#      when it exists, the fuzzer's max_len (NAME.options) as -G, the custom
#      mutator through AFL_CUSTOM_MUTATOR_LIBRARY (NF_MUTATOR=0: without it, for
#      the ablation; AFL++'s own havoc stays on beside it), output
#      build/afl/out/NAME/ (the previous run's output is kept as
#      build/afl/out/NAME.prev/);
#   4. prints a summary from fuzzer_stats: run time, execs, execs/s, corpus count,
#      coverage, crashes and hangs, and how to reproduce each crash.
#
# Exit: 0 no crash, 1 a crash (or the build failed), 2 bad usage.
# Non-interactive: AFL_NO_UI, AFL_SKIP_CPUFREQ, AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES
# (core_pattern may pipe to a handler here), AFL_TRY_AFFINITY (no free core to bind
# to is not an error on a shared machine).
# The queue is not merged into corpus/NAME/: `./nf fuzz` (libFuzzer -merge=1) does that.
set -euo pipefail

# shellcheck source=tools/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
nf_tool afl
readonly BASE=$ROOT/build/afl

usage_error() {  # one line, as ./nf's
  printf 'nf: fuzz --engine afl: %s (see ./nf help)\n' "$*" >&2
  exit 2
}

fuzzer=sequential_fuzzer
seconds=600
sanitizer=address
mutant=""
empty=0
seed=""
until_crash=0
while (($# > 0)); do
  case $1 in
    --fuzzer) (($# >= 2)) || usage_error "--fuzzer needs a value"; fuzzer=$2; shift 2 ;;
    --fuzzer=*) fuzzer=${1#*=}; shift ;;
    --minutes | --seconds)
      (($# >= 2)) || usage_error "$1 needs a value"
      [[ $2 =~ ^[0-9]+(\.[0-9]+)?$ ]] || usage_error "$1 needs a number"
      if [[ $1 == --minutes ]]; then
        seconds=$(awk -v m="$2" 'BEGIN { printf "%d", m * 60 }')
      else
        seconds=${2%.*}
      fi
      shift 2 ;;
    --sanitizer) (($# >= 2)) || usage_error "--sanitizer needs a value"; sanitizer=$2; shift 2 ;;
    --sanitizer=*) sanitizer=${1#*=}; shift ;;
    --mutant) (($# >= 2)) || usage_error "--mutant needs a value"; mutant=$2; shift 2 ;;
    --mutant=*) mutant=${1#*=}; shift ;;
    --empty) empty=1; shift ;;
    --seed) (($# >= 2)) && [[ $2 =~ ^[0-9]+$ ]] || usage_error "--seed needs a number"; seed=$2; shift 2 ;;
    --until-crash) until_crash=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage_error "unknown argument '$1'" ;;
  esac
done
[[ $fuzzer == *_fuzzer ]] || fuzzer+=_fuzzer
[[ $sanitizer =~ ^(address|undefined|none)$ ]] || usage_error "--sanitizer: address, undefined or none"
((seconds >= 10)) || usage_error "fuzz for at least 10 seconds"
if [[ -n $mutant ]]; then
  grep -qw -- "$mutant" "$ROOT/core/CMakeLists.txt" || usage_error "no mutant '$mutant' (core/CMakeLists.txt NF_MUTANTS)"
fi

# 1. AFL++.
if ! command -v afl-fuzz >/dev/null || ! command -v afl-clang-fast++ >/dev/null; then
  say "installing afl++"
  as_root() { if ((EUID == 0)); then "$@"; else sudo "$@"; fi; }
  as_root apt-get update -q >/dev/null
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q afl++ >/dev/null
fi
driver=$(dpkg -L afl++ 2>/dev/null | grep -m 1 '/libAFLDriver\.a$' || true)
[[ -n $driver && -f $driver ]] || die "afl++ has no libAFLDriver.a (dpkg -L afl++)"

# 2. The build.
build=$BASE/$sanitizer${mutant:+-mut-$mutant}
nf_san=$sanitizer
mut_args=(-DNF_BUILD_MUTANTS=OFF)
[[ -z $mutant ]] || mut_args=(-DNF_BUILD_MUTANTS=ON "-DNF_FUZZ_CORE=nf_core_mut_$mutant"
                              "-DNF_FUZZ_CORE_SCHED=nf_core_sched_mut_$mutant")
[[ $nf_san != none ]] || nf_san=
mkdir -p "$BASE"
log=$BASE/build-$sanitizer${mutant:+-mut-$mutant}.log
say "building the fuzz targets with afl-clang-fast++ (${sanitizer}) into ${build#"$ROOT"/}/ (log: ${log#"$ROOT"/})"
if ! {
  cmake -S "$ROOT" -B "$build" -G Ninja \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_COMPILER=afl-clang-fast -DCMAKE_CXX_COMPILER=afl-clang-fast++ \
    -DNF_SANITIZER="$nf_san" -DNF_WERROR=OFF -DNF_BUILD_TESTS=OFF -DNF_BUILD_BENCH=OFF \
    "${mut_args[@]}" -DNF_LIB_FUZZING_ENGINE="$driver" &&
    if [[ -n $mutant ]]; then
      AFL_QUIET=1 cmake --build "$build" --target "$fuzzer"
    else
      AFL_QUIET=1 cmake --build "$build"
    fi
} >"$log" 2>&1; then
  tail -n 30 "$log" | sed 's/^/  /' >&2
  die "the AFL++ build failed (log: ${log#"$ROOT"/})"
fi
# The binary by target name (tools/nflib.py asks Ninja where it is).
nflib() { python3 "$ROOT/tools/nflib.py" "$@"; }
if ! bin=$(nflib locate "$build" "$fuzzer"); then
  have=$(for f in $(nflib fuzzers); do nflib locate "$build" "$f" >/dev/null && printf '%s ' "$f"; done)
  have=${have% }
  usage_error "no fuzz target '$fuzzer' (have: ${have:-none})"
fi

# The structure-aware mutator, for the program fuzzers.
mutator=""
case $fuzzer in sequential_fuzzer | concurrent_fuzzer) kind=${fuzzer%_fuzzer} ;; *) kind="" ;; esac
if [[ -n $kind && ${NF_MUTATOR:-1} != 0 ]]; then
  mbuild=$BASE/mutator
  mlog=$BASE/build-mutator.log
  say "building the custom mutator (nf_afl_mutator_$kind) into ${mbuild#"$ROOT"/}/"
  if ! {
    cmake -S "$ROOT" -B "$mbuild" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
      -DCMAKE_POSITION_INDEPENDENT_CODE=ON -DNF_AFL_MUTATOR=ON -DNF_SANITIZER= \
      -DNF_WERROR=OFF -DNF_BUILD_TESTS=OFF -DNF_BUILD_BENCH=OFF -DNF_BUILD_MUTANTS=OFF &&
      cmake --build "$mbuild" --target "nf_afl_mutator_$kind"
  } >"$mlog" 2>&1; then
    tail -n 30 "$mlog" | sed 's/^/  /' >&2
    die "the custom mutator's build failed (log: ${mlog#"$ROOT"/})"
  fi
  mutator=$(find "$mbuild" -name "libnf_afl_mutator_$kind.so" | head -n 1)
  [[ -n $mutator ]] || die "no libnf_afl_mutator_$kind.so in ${mbuild#"$ROOT"/}/"
fi

# 3. Inputs, then afl-fuzz.
in=$BASE/in/$fuzzer
rm -rf "$in"
if ((empty)); then
  mkdir -p "$in"
  seeds=0
else
  seeds=$(nf_copy_inputs "$in" "$ROOT/corpus/$fuzzer" "$ROOT/corpus/regress/$fuzzer")
fi
if ((seeds == 0)); then
  if ((empty)); then
    say "--empty: starting from one placeholder input"
  else
    say "corpus/$fuzzer/ is empty: starting from one placeholder input"
  fi
  printf 'nf' >"$in/placeholder"
fi
out=$BASE/out/$fuzzer
if [[ -d $out ]]; then
  rm -rf "$out.prev"
  mv "$out" "$out.prev"
fi
mkdir -p "$out"
args=(-i "$in" -o "$out" -V "$seconds" -m none)
dict=$(nflib dict "$fuzzer") && args+=(-x "$ROOT/$dict")
# The fuzzer's max_len, as libFuzzer and OSS-Fuzz run it (afl-fuzz's default is 1 MiB).
max_len=$(nflib options "$fuzzer" | sed -n 's/^-max_len=\([0-9]\+\)$/\1/p')
[[ -z $max_len ]] || args+=(-G "$max_len")
[[ -z $seed ]] || args+=(-s "$seed")
if ((until_crash)); then export AFL_BENCH_UNTIL_CRASH=1; else unset AFL_BENCH_UNTIL_CRASH; fi
if [[ -n $mutator ]]; then
  export AFL_CUSTOM_MUTATOR_LIBRARY=$mutator
else
  unset AFL_CUSTOM_MUTATOR_LIBRARY
fi
fuzz_log=$BASE/$fuzzer.log
say "fuzzing $fuzzer for $seconds s from $seeds input(s), max_len ${max_len:-none}, mutator: ${mutator:+structure-aware + }AFL++'s (log: ${fuzz_log#"$ROOT"/}, output: ${out#"$ROOT"/}/)"

export AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_TRY_AFFINITY=1
# Crashing or hanging seeds (a regress input the fix has not landed for) are
# reported by the summary instead of stopping afl-fuzz before it starts.
export AFL_SKIP_CRASHES=1
# The sanitizers abort on a report, so afl-fuzz sees the crash (afl-fuzz sets the
# rest of ASAN_OPTIONS itself).
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:abort_on_error=1:print_stacktrace=1:silence_unsigned_overflow=1}
status=0
timeout --preserve-status -s INT $((seconds + 300)) afl-fuzz "${args[@]}" -- "$bin" >"$fuzz_log" 2>&1 ||
  status=$?
stats=$out/default/fuzzer_stats
if [[ ! -f $stats ]]; then
  tail -n 30 "$fuzz_log" | sed 's/^/  /' >&2
  die "afl-fuzz did not start (exit $status; log: ${fuzz_log#"$ROOT"/})"
fi

# 4. The summary.
stat() { awk -v k="$1" '$1 == k { sub(/^[^:]*: */, ""); print; exit }' "$stats"; }
crashes=$(stat saved_crashes)
[[ -n $crashes ]] || crashes=$(stat unique_crashes)
hangs=$(stat saved_hangs)
[[ -n $hangs ]] || hangs=$(stat unique_hangs)
corpus=$(stat corpus_count)
[[ -n $corpus ]] || corpus=$(stat paths_total)
run_time=$(stat run_time)
execs=$(stat execs_done)
rate=$(awk -v e="$execs" -v t="${run_time:-0}" 'BEGIN { if (t > 0) printf "%.0f", e / t; else print "?" }')
printf '\nafl: %s (%s), %s s\n' "$fuzzer" "$sanitizer" "${run_time:-?}"
printf '  execs          %s (%s/s overall, %s/s at the end)\n' "$execs" "$rate" "$(stat execs_per_sec)"
printf '  corpus         %s inputs (%s found here, from %s seeds)\n' "$corpus" \
  "$(stat corpus_found)" "$seeds"
printf '  coverage       %s of the map, %s edges\n' "$(stat bitmap_cvg)" "$(stat edges_found)"
printf '  stability      %s\n' "$(stat stability)"
printf '  crashes        %s\n' "${crashes:-0}"
printf '  hangs          %s\n' "${hangs:-0}"
printf '  queue          %s/default/queue/\n' "${out#"$ROOT"/}"
if ((${crashes:-0} > 0)); then
  # AFL++ names a crash id:N,sig:S,src:...,time:MS,execs:E,...
  first=$(find "$out/default/crashes" -type f -name 'id:*' | sort | head -n 1)
  printf '  first crash    %s ms, %s execs\n' "$(sed -n 's/.*,time:\([0-9]*\).*/\1/p' <<<"$first")" \
    "$(sed -n 's/.*,execs:\([0-9]*\).*/\1/p' <<<"$first")"
  printf '\ncrashes (triage: ./nf triage FILE --binary %s; decode: ./nf decode FILE):\n' "${bin#"$ROOT"/}"
  find "$out/default/crashes" -type f -name 'id:*' | sort | sed "s|^$ROOT/|  |" | head -n 10
  ((crashes <= 10)) || printf '  ... and %d more in %s/default/crashes/\n' $((crashes - 10)) "${out#"$ROOT"/}"
  exit 1
fi
exit 0
