#!/usr/bin/env bash
# nf: the one entry point of the project, for users and CI alike.
#
#   ./nf setup      install the Debian packages the project needs (only those missing)
#   ./nf fuzz       build the fuzz targets and fuzz on all cores for N minutes
#   ./nf test       build dev, asan, ubsan and tsan, run ctest in each, then the
#                   OSS-Fuzz build check (tools/oss_fuzz_check.sh)
#   ./nf help       everything else
#
# Every subcommand but help first runs ensure_deps (one dpkg-query call when all
# is installed). Builds go to build/<preset>/ (CMakePresets.json); logs too.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly ROOT

# The Debian 12 packages: cmake + ninja; clang-14 with its sanitizer and libFuzzer
# runtimes (libclang-rt-14-dev owns libclang_rt.fuzzer-x86_64.a); llvm for
# llvm-cov, llvm-profdata and llvm-symbolizer; g++ for the dev preset; the libraries.
readonly PACKAGES=(cmake ninja-build clang llvm libclang-rt-14-dev g++ libabsl-dev
                   libgtest-dev libbenchmark-dev python3 linux-source-6.1)
readonly TEST_PRESETS=(dev asan ubsan tsan)
# What ./nf test runs: the presets, then the OSS-Fuzz emulation (not a CMake preset).
readonly TEST_STAGES=("${TEST_PRESETS[@]}" oss-fuzz)

usage() {
  cat <<'EOF'
usage: ./nf <command> [options]

  setup                       install the missing Debian packages (apt-get; root or sudo)
  fuzz [--minutes N] [--fuzzer NAME] [--jobs J] [--engine libfuzzer|afl]
                              build the fuzz preset and fuzz every target (or NAME) for
                              about N minutes (default 10, after the build) on J cores
                              (default: all); merge new inputs into corpus/<fuzzer>/;
                              a crash prints its file and decoded program, exit 1;
                              --engine afl: AFL++ on one target (tools/afl_fuzz.sh)
  test [--preset P]... [--label L] [--timeout S] [--verbose]
                              build and ctest the presets dev, asan, ubsan, tsan, then
                              run oss-fuzz-check (stage oss-fuzz: one test per target
                              and sanitizer); or only the P given (repeat or
                              comma-separate); L: ctest -L regex, presets only (label
                              tsan runs in the tsan and asan presets only);
                              S: per-test timeout (default 300); logs in
                              build/<stage>/nf-test.log; last line "N passed, N failed"
  decode FILE                 print any input file as a text program (nf_tool)
  encode FILE.nfp [OUT]       write the bytes of a text program (nf_tool)
  replay [--sequential] FILE_OR_DIR...
                              run each input (every file under a directory) under the
                              concurrent fuzzer's checks and print its program, full
                              interleaving trace and verdict (nf_tool
                              creplay); --sequential: the sequential checks and op log
  help                        this text

  coverage                    build the coverage preset, replay every corpus, write
                              build/coverage/html/ and print core/ line and branch coverage
  bench                       run the core benchmarks (bench preset) and print the ratio
                              table, then each fuzzer 60 s on one core (exec/s)
  oss-fuzz-check              emulate OSS-Fuzz's build (libc++, Abseil from source) for
                              address and undefined, and repeat its build checks
  mutants [--budget S] [--seeds N] [--mutants a,b] [--ways w,...] [--jobs J]
          [--no-control]      the detection matrix: every mutant of the bug catalogue,
                              searched from an empty corpus by each fuzzer, the TSan
                              suite and a naive baseline, plus a control row on the
                              correct core; J runs side by side (tools/mutants.py)
  triage CRASH [--fuzzer NAME] [--out DIR]
                              replay a crash from any engine, name what failed, minimize
                              it, write its text and an HTML timeline (tools/triage.py)

Exit status: 0 success, 1 failure (build, test, crash), 2 bad usage, 130 interrupted.
EOF
}

say() { printf 'nf: %s\n' "$*"; }
warn() { printf 'nf: %s\n' "$*" >&2; }
die() {
  warn "$@"
  exit 1
}
usage_error() {
  warn "$@"
  printf '\n' >&2
  usage >&2
  exit 2
}
# need_value FLAG ARGS...: FLAG must be followed by a value.
need_value() {
  (($# >= 2)) || usage_error "$1 needs a value"
}
is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }

# show_tail LOG [LINES [FROM]]: the end of a log (from line FROM on), indented,
# on stderr.
show_tail() {
  local log=$1 lines=${2:-40} from=${3:-1}
  printf -- '---- last %d lines of %s ----\n' "$lines" "${log#"$ROOT"/}" >&2
  tail -n "+$from" "$log" | tail -n "$lines" | sed 's/^/  /' >&2
  printf -- '----\n' >&2
}

# show_build_failure LOG: a failed build's first error (from ninja's first
# "FAILED:" or CMake's first "CMake Error", 40 lines), else the log's end.
show_build_failure() {
  local log=$1 first
  first=$(grep -anE -m 1 '^FAILED: |^CMake Error' "$log" | cut -d: -f1) || true
  if [[ -z $first ]]; then
    show_tail "$log"
    return 0
  fi
  printf -- '---- first error in %s ----\n' "${log#"$ROOT"/}" >&2
  tail -n "+$first" "$log" | head -n 40 | sed 's/^/  /' >&2
  printf -- '----\n' >&2
}

# ---------------------------------------------------------------------------
# Dependencies

# The packages of PACKAGES that are not installed, one a line (one dpkg-query).
missing_packages() {
  local -A installed=()
  local pkg status
  while read -r pkg status; do
    [[ $status == 'install ok installed' ]] && installed[$pkg]=1
  done < <(dpkg-query -W -f='${Package} ${Status}\n' "${PACKAGES[@]}" 2>/dev/null || true)
  for pkg in "${PACKAGES[@]}"; do
    [[ -n ${installed[$pkg]:-} ]] || printf '%s\n' "$pkg"
  done
}

# ensure_deps [--verbose]: installs whatever of PACKAGES is missing, and only that.
ensure_deps() {
  local verbose=${1:-}
  if ! command -v dpkg-query >/dev/null; then
    warn "not a Debian system: cannot check packages; make sure these are installed:"
    warn "  ${PACKAGES[*]}"
    return 0
  fi
  local -a missing
  mapfile -t missing < <(missing_packages)
  if ((${#missing[@]} == 0)); then
    [[ -z $verbose ]] || say "all ${#PACKAGES[@]} packages are installed: ${PACKAGES[*]}"
    return 0
  fi
  local -a sudo=()
  if ((EUID != 0)); then
    if command -v sudo >/dev/null; then
      sudo=(sudo)
    else
      warn "missing packages: ${missing[*]}"
      warn "run as root:"
      warn "  apt-get update && apt-get install -y --no-install-recommends ${missing[*]}"
      exit 1
    fi
  fi
  warn "installing missing packages: ${missing[*]}"
  # apt's output goes to stderr, so that e.g. './nf decode FILE > out' stays clean.
  "${sudo[@]}" apt-get update >&2 || die "apt-get update failed"
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y --no-install-recommends "${missing[@]}" >&2 ||
    die "apt-get install failed: ${missing[*]}"
  mapfile -t missing < <(missing_packages)
  ((${#missing[@]} == 0)) || die "still missing after apt-get install: ${missing[*]}"
}

# ---------------------------------------------------------------------------
# Building. These print the tools' output on stdout; callers redirect it.

# configure PRESET: cmake --preset, which is incremental on a configured tree.
configure() {
  (cd "$ROOT" && cmake --preset "$1")
}

# compile PRESET [TARGET...]: builds a configured tree (all targets by default).
compile() {
  local preset=$1
  shift
  local -a targets=()
  (($# == 0)) || targets=(--target "$@")
  (cd "$ROOT" && cmake --build --preset "$preset" -j "$(nproc)" "${targets[@]}")
}

# build PRESET [TARGET...]: configure, then compile.
build() {
  configure "$1" && compile "$@"
}

# has_target PRESET TARGET: the configured tree defines TARGET (the presets use Ninja).
has_target() {
  ninja -C "$ROOT/build/$1" -t query "$2" >/dev/null 2>&1
}

# tool_path PRESET: the nf_tool executable of a built tree, or nothing.
tool_path() {
  local dir=$ROOT/build/$1 t
  for t in "$dir/fuzzers/nf_tool" "$dir/tools/nf_tool"; do
    [[ -f $t && -x $t ]] && { printf '%s\n' "$t"; return 0; }
  done
  [[ -d $dir ]] || return 0
  find "$dir" -maxdepth 3 -name nf_tool -type f -perm -u+x -print -quit
}

# ---------------------------------------------------------------------------
# ./nf setup

cmd_setup() {
  (($# == 0)) || usage_error "setup takes no arguments"
  ensure_deps --verbose
}

# ---------------------------------------------------------------------------
# ./nf test

# run_logged LOG CMD...: runs CMD with its output appended to LOG (and shown too
# when VERBOSE=1); returns CMD's status.
VERBOSE=0
run_logged() {
  local log=$1
  shift
  if ((VERBOSE)); then
    "$@" 2>&1 | tee -a "$log"
    return "${PIPESTATUS[0]}"
  fi
  "$@" >>"$log" 2>&1
}

# junit_counts XML: prints "TESTS FAILURES SKIPPED" from ctest's JUnit file, or
# fails if it is missing or unreadable.
junit_counts() {
  local xml=$1 text head
  [[ -s $xml ]] || return 1
  text=$(<"$xml")
  [[ $text == *'<testsuite'* ]] || return 1
  head=${text#*<testsuite}
  head=${head%%>*}
  local -A attr=()
  local key
  for key in tests failures disabled skipped; do
    [[ $head =~ [[:space:]]$key=\"([0-9]+)\" ]] || return 1
    attr[$key]=${BASH_REMATCH[1]}
  done
  printf '%d %d %d\n' "${attr[tests]}" "${attr[failures]}" $((attr[disabled] + attr[skipped]))
}

# log_counts LOG: the same from ctest's "N% tests passed, F tests failed out of M".
log_counts() {
  local line
  line=$(grep -aE 'tests passed, [0-9]+ tests? failed out of [0-9]+' "$1" | tail -n 1) || return 1
  [[ $line =~ ([0-9]+)\ tests?\ failed\ out\ of\ ([0-9]+) ]] || return 1
  printf '%d %d 0\n' "${BASH_REMATCH[2]}" "${BASH_REMATCH[1]}"
}

# test_preset PRESET TIMEOUT LABEL: builds and tests one preset, prints its summary
# line, and adds to the totals PASSED FAILED SKIPPED. Returns 1 on any failure.
PASSED=0 FAILED=0 SKIPPED=0
test_preset() {
  local preset=$1 timeout=$2 label=$3
  local dir=$ROOT/build/$preset
  local log=$dir/nf-test.log xml=$dir/ctest.xml start=$SECONDS
  mkdir -p "$dir"
  : >"$log"
  rm -f "$xml"
  say "$preset: configure, build, test (log: build/$preset/nf-test.log)"
  if ! run_logged "$log" build "$preset"; then
    FAILED=$((FAILED + 1))
    printf '%s: build failed, counted as 1 failed (%d s)\n' "$preset" $((SECONDS - start))
    show_build_failure "$log"
    return 1
  fi
  local -a ctest_args=(--preset "$preset" --output-on-failure --timeout "$timeout"
                       --output-junit "$xml")
  [[ -z $label ]] || ctest_args+=(-L "$label")
  # The real-thread stress tests and the TSan replay (label tsan) are for the
  # sanitizers that see races and lifetimes: they run in tsan and asan only.
  case $preset in dev | ubsan) ctest_args+=(-LE '^tsan$') ;; esac
  local rc=0 ctest_from
  ctest_from=$(($(wc -l <"$log") + 1))
  (cd "$ROOT" && run_logged "$log" ctest "${ctest_args[@]}") || rc=$?

  local counts tests failed skipped passed note=""
  counts=$(junit_counts "$xml") || counts=$(log_counts "$log") || counts=""
  if [[ -z $counts ]]; then
    counts="1 1 0"
    note="; ctest reported no results, counted as 1 failed"
  fi
  read -r tests failed skipped <<<"$counts"
  passed=$((tests - failed - skipped))
  if ((rc != 0 && failed == 0)); then
    failed=1
    note+="; ctest exited with status $rc, counted as 1 failed"
  fi
  ((tests > 0)) || note+="; no tests${label:+ labelled $label}"
  PASSED=$((PASSED + passed))
  FAILED=$((FAILED + failed))
  SKIPPED=$((SKIPPED + skipped))
  local line="$preset: $passed passed, $failed failed"
  ((skipped == 0)) || line+=", $skipped skipped"
  printf '%s (%d s%s)\n' "$line" $((SECONDS - start)) "$note"
  if ((failed > 0)); then
    show_tail "$log" 60 "$ctest_from"
    return 1
  fi
}

# test_oss_fuzz: tools/oss_fuzz_check.sh as a test stage; each row of its table
# (a target under a sanitizer, or a failed build) counts as one test.
test_oss_fuzz() {
  local dir=$ROOT/build/oss-fuzz start=$SECONDS rc=0 passed failed note=""
  local log=$dir/nf-test.log
  mkdir -p "$dir"
  say "oss-fuzz: OSS-Fuzz build emulation and build check (log: build/oss-fuzz/nf-test.log)"
  "$ROOT/tools/oss_fuzz_check.sh" >"$log" 2>&1 || rc=$?
  passed=$(grep -cE '^[A-Za-z_(][^ ]* +(address|undefined) .* PASS$' "$log" || true)
  failed=$(grep -cE '^[A-Za-z_(][^ ]* +(address|undefined) .* FAIL$' "$log" || true)
  if ((rc != 0 && failed == 0)); then
    failed=1
    note="; oss_fuzz_check.sh exited with status $rc, counted as 1 failed"
  fi
  PASSED=$((PASSED + passed))
  FAILED=$((FAILED + failed))
  printf 'oss-fuzz: %d passed, %d failed (%d s%s)\n' "$passed" "$failed" $((SECONDS - start)) "$note"
  if ((failed > 0)); then
    show_tail "$log" 40 1
    return 1
  fi
}

cmd_test() {
  local -a presets=()
  local label="" timeout=300 p
  while (($#)); do
    case $1 in
      --preset) need_value "$@"; IFS=, read -ra p <<<"$2"; presets+=("${p[@]}"); shift 2 ;;
      --preset=*) IFS=, read -ra p <<<"${1#*=}"; presets+=("${p[@]}"); shift ;;
      --label) need_value "$@"; label=$2; shift 2 ;;
      --label=*) label=${1#*=}; shift ;;
      --timeout) need_value "$@"; timeout=$2; shift 2 ;;
      --timeout=*) timeout=${1#*=}; shift ;;
      -v | --verbose) VERBOSE=1; shift ;;
      -h | --help) usage; exit 0 ;;
      *) usage_error "test: unknown argument '$1'" ;;
    esac
  done
  if ! is_uint "$timeout" || ((10#$timeout == 0)); then
    usage_error "test: --timeout needs a number of seconds"
  fi
  if ((${#presets[@]} == 0)); then
    presets=("${TEST_PRESETS[@]}")
    [[ -n $label ]] || presets+=(oss-fuzz)  # a label selects ctest tests only
  fi
  for p in "${presets[@]}"; do
    [[ " ${TEST_STAGES[*]} " == *" $p "* ]] ||
      usage_error "test: no test preset '$p' (have: ${TEST_STAGES[*]})"
  done
  ensure_deps

  local failed_presets=()
  for p in "${presets[@]}"; do
    if [[ $p == oss-fuzz ]]; then
      test_oss_fuzz || failed_presets+=("$p")
    else
      test_preset "$p" "$timeout" "$label" || failed_presets+=("$p")
    fi
  done
  ((${#failed_presets[@]} == 0)) || say "failing: ${failed_presets[*]}"
  printf '%d passed, %d failed\n' "$PASSED" "$FAILED"
  ((${#failed_presets[@]} == 0))
}

# ---------------------------------------------------------------------------
# ./nf fuzz
#
# Scheduling: J slots, F fuzzers, a budget of T seconds of fuzzing.
#   F <= J: one wave of T seconds; each fuzzer runs J/F instances (the first J%F
#           one more), sharing its scratch dir, so no core is idle.
#   F >  J: the fuzzers in a ring, J at a time, in F/gcd(F,J) waves: every fuzzer
#           gets the same J*T/F seconds and every wave uses every core.
# New inputs go to build/fuzz/new/<f>/ (libFuzzer writes into the first corpus
# dir; corpus/<f>/ and corpus/regress/ are read-only seeds), then one -merge=1
# per fuzzer adds the ones with new coverage to corpus/<f>/, named by SHA1.

readonly FUZZ_DIR=build/fuzz               # relative to ROOT; cmd_fuzz cds there
readonly PROGRESS_EVERY=10                 # seconds between progress lines
readonly DEFAULT_INPUT_TIMEOUT=25          # libFuzzer -timeout, as OSS-Fuzz
readonly WATCHDOG_GRACE=30                 # seconds past the budget before SIGINT

gcd() {
  local a=$1 b=$2 t
  while ((b)); do t=$((a % b)); a=$b; b=$t; done
  printf '%d\n' "$a"
}

count_files() {
  local count=0 f
  if [[ -d $1 ]]; then
    for f in "$1"/* "$1"/.[!.]*; do [[ -f $f ]] && count=$((count + 1)); done
  fi
  printf '%d\n' "$count"
}

# fuzzer_options NAME: the libFuzzer flags of fuzzers/NAME.options (INI, section
# [libfuzzer], "key = value"), one a line.
fuzzer_options() {
  local file=fuzzers/$1.options section="" line key value
  [[ -f $file ]] || return 0
  while IFS= read -r line || [[ -n $line ]]; do
    line=${line%$'\r'}
    line="${line#"${line%%[![:space:]]*}"}"
    line="${line%"${line##*[![:space:]]}"}"
    [[ -z $line || $line == [\#\;]* ]] && continue
    if [[ $line =~ ^\[(.*)\]$ ]]; then
      section=${BASH_REMATCH[1]}
      continue
    fi
    [[ $section == libfuzzer ]] || continue
    if [[ ! $line =~ ^([A-Za-z_][A-Za-z0-9_]*)[[:space:]]*=[[:space:]]*(.*)$ ]]; then
      warn "$file: ignoring '$line'"
      continue
    fi
    key=${BASH_REMATCH[1]} value=${BASH_REMATCH[2]}
    case $key in
      jobs | workers | fork | merge | max_total_time | artifact_prefix | runs)
        warn "$file: ignoring '$key' (./nf fuzz sets it)"
        continue ;;
      dict) [[ $value == /* ]] || value=fuzzers/$value ;;
    esac
    printf -- '-%s=%s\n' "$key" "$value"
  done <"$file"
}

# status_of LOG: "EXECS EXEC/S COV FT CORPUS" from the last libFuzzer status
# line ("#123 NEW cov: 45 ft: 67 corp: 8/120b ... exec/s: 9 ..."), or nothing.
status_of() {
  local line
  line=$(grep -aE '^#[0-9]+' "$1" 2>/dev/null | tail -n 1) || return 0
  [[ $line =~ ^#([0-9]+) ]] || return 0
  local execs=${BASH_REMATCH[1]} rate=0 cov=0 ft=0 corp=0
  [[ $line =~ exec/s:\ ([0-9]+) ]] && rate=${BASH_REMATCH[1]}
  [[ $line =~ cov:\ ([0-9]+) ]] && cov=${BASH_REMATCH[1]}
  [[ $line =~ ft:\ ([0-9]+) ]] && ft=${BASH_REMATCH[1]}
  [[ $line =~ corp:\ ([0-9]+) ]] && corp=${BASH_REMATCH[1]}
  printf '%s %s %s %s %s\n' "$execs" "$rate" "$cov" "$ft" "$corp"
}

# final_stat LOG KEY: a value of -print_final_stats ("stat::KEY: N"), or nothing.
final_stat() {
  local line
  line=$(grep -a "^stat::$2:" "$1" 2>/dev/null | tail -n 1) || return 0
  printf '%s\n' "${line##*[[:space:]]}"
}

mmss() { printf '%d:%02d' $(($1 / 60)) $(($1 % 60)); }

# The instances of the current wave (parallel arrays) and the run's totals.
I_NAME=() I_IDX=() I_PID=() I_LOG=() I_START=() I_END=() I_SIGNALLED=()
declare -A F_EXECS=() F_SECS=() F_FT=() F_COV=() F_CRASHES=() F_ERRORS=()
declare -A F_BEFORE=() F_AFTER=() F_OPTS=()
INTERRUPTED=0
FUZZ_BUDGET=0 FUZZ_START=0

on_interrupt() {
  local i
  if ((INTERRUPTED)); then
    for i in "${!I_PID[@]}"; do kill -KILL "${I_PID[$i]}" 2>/dev/null || true; done
    warn "aborted"
    exit 130
  fi
  INTERRUPTED=1
  warn "interrupted: stopping the fuzzers, then merging what they found (Ctrl-C again aborts)"
  for i in "${!I_PID[@]}"; do kill -INT "${I_PID[$i]}" 2>/dev/null || true; done
}

# start_instance NAME WAVE INDEX SECONDS
start_instance() {
  local name=$1 wave=$2 idx=$3 secs=$4
  local log=$FUZZ_DIR/logs/$name.wave$wave.$idx.log
  local -a args=("-timeout=$DEFAULT_INPUT_TIMEOUT")
  [[ ! -f fuzzers/$name.dict ]] || args+=("-dict=fuzzers/$name.dict")
  [[ -z ${F_OPTS[$name]} ]] || mapfile -t -O "${#args[@]}" args <<<"${F_OPTS[$name]}"
  args+=("-max_total_time=$secs" -print_final_stats=1
         "-artifact_prefix=$FUZZ_DIR/artifacts/$name/"
         "$FUZZ_DIR/new/$name/" "corpus/$name/")
  [[ ! -d corpus/regress ]] || args+=(corpus/regress/)
  printf '%q ' "$FUZZ_DIR/fuzzers/$name" "${args[@]}" >"$log"
  printf '\n' >>"$log"
  "$FUZZ_DIR/fuzzers/$name" "${args[@]}" </dev/null >>"$log" 2>&1 &
  I_NAME+=("$name") I_IDX+=("$idx") I_PID+=($!) I_LOG+=("$log") I_START+=("$SECONDS")
  I_END+=(-1) I_SIGNALLED+=(0)
}

# instance_label I: the fuzzer's name, with "#N" for its second and later instances.
instance_label() {
  local label=${I_NAME[$1]}
  ((I_IDX[$1] == 0)) || label+="#${I_IDX[$1]}"
  printf '%s\n' "$label"
}

print_progress() {
  local i label st execs rate cov ft corp
  for i in "${!I_PID[@]}"; do
    ((I_END[i] < 0)) || continue
    label=$(instance_label "$i")
    st=$(status_of "${I_LOG[$i]}")
    if [[ -z $st ]]; then
      printf '  [%6s] %-28s starting (loading the corpus)\n' "$(mmss $((SECONDS - FUZZ_START)))" "$label"
      continue
    fi
    read -r execs rate cov ft corp <<<"$st"
    printf '  [%6s] %-28s execs %10d  exec/s %7d  cov %6d  ft %7d  corpus %6d\n' \
      "$(mmss $((SECONDS - FUZZ_START)))" "$label" "$execs" "$rate" "$cov" "$ft" "$corp"
  done
}

# run_wave SECONDS: waits for the instances started, with progress lines and a
# watchdog; then adds their results to the totals and clears the instance list.
run_wave() {
  local secs=$1 i running next=$((SECONDS + PROGRESS_EVERY)) over
  while true; do
    running=0
    for i in "${!I_PID[@]}"; do
      ((I_END[i] < 0)) || continue
      if ! kill -0 "${I_PID[$i]}" 2>/dev/null; then
        I_END[i]=$SECONDS
        # Stopping early means a crash or an error, reported at the end.
        if ((I_END[i] - I_START[i] < secs && !INTERRUPTED)); then
          printf '  [%6s] %-28s stopped after %d s (log: %s)\n' "$(mmss $((SECONDS - FUZZ_START)))" \
            "$(instance_label "$i")" $((I_END[i] - I_START[i])) "${I_LOG[$i]}"
        fi
        continue
      fi
      running=1
      over=$((SECONDS - I_START[i] - secs))
      if ((over > 2 * WATCHDOG_GRACE && I_SIGNALLED[i] < 2)); then
        kill -KILL "${I_PID[$i]}" 2>/dev/null || true
        I_SIGNALLED[i]=2
      elif ((over > WATCHDOG_GRACE && I_SIGNALLED[i] < 1)); then
        warn "${I_NAME[$i]} overran its time by ${over} s: stopping it"
        kill -INT "${I_PID[$i]}" 2>/dev/null || true
        I_SIGNALLED[i]=1
      fi
    done
    ((running)) || break
    sleep 1 || true
    if ((SECONDS >= next)); then
      print_progress
      next=$((SECONDS + PROGRESS_EVERY))
    fi
  done

  local rc name log st execs cov ft elapsed
  for i in "${!I_PID[@]}"; do
    rc=0
    wait "${I_PID[$i]}" || rc=$?
    name=${I_NAME[$i]} log=${I_LOG[$i]}
    elapsed=$((I_END[i] - I_START[i]))
    execs=$(final_stat "$log" number_of_executed_units)
    st=$(status_of "$log")
    cov=0 ft=0
    [[ -z $st ]] || read -r _ _ cov ft _ <<<"$st"
    if [[ -z $execs ]]; then
      execs=0
      [[ -z $st ]] || read -r execs _ <<<"$st"
    fi
    F_EXECS[$name]=$((F_EXECS[$name] + execs))
    F_SECS[$name]=$((F_SECS[$name] + elapsed))
    ((ft <= F_FT[$name])) || F_FT[$name]=$ft
    ((cov <= F_COV[$name])) || F_COV[$name]=$cov
    # 0: budget used up; 72: libFuzzer's exit status after SIGINT (Ctrl-C). Any
    # other status is a crash, counted from the artifacts later, or an error if
    # the log names no artifact.
    if ((I_SIGNALLED[i])); then
      F_ERRORS[$name]=$((F_ERRORS[$name] + 1))
      warn "$name hung: stopped by the watchdog (log: $log)"
    elif ((rc != 0 && rc != 72)) && ! grep -aq 'Test unit written to' "$log"; then
      F_ERRORS[$name]=$((F_ERRORS[$name] + 1))
      warn "$name exited with status $rc and wrote no artifact"
      show_tail "$log" 20
    fi
  done
  I_NAME=() I_IDX=() I_PID=() I_LOG=() I_START=() I_END=() I_SIGNALLED=()
}

# merge_corpus NAME: merges build/fuzz/new/NAME/ into corpus/NAME/.
merge_corpus() {
  local name=$1 new=$FUZZ_DIR/new/$1 log=$FUZZ_DIR/logs/$1.merge.log
  if (($(count_files "$new") == 0)); then
    return 0
  fi
  local -a args=("-timeout=$DEFAULT_INPUT_TIMEOUT")
  local opt
  while IFS= read -r opt; do
    [[ -z $opt || $opt == -dict=* ]] || args+=("$opt")
  done <<<"${F_OPTS[$name]}"
  args+=(-merge=1 "-artifact_prefix=$FUZZ_DIR/artifacts/$name/" "corpus/$name/" "$new/")
  if "$FUZZ_DIR/fuzzers/$name" "${args[@]}" </dev/null >"$log" 2>&1; then
    find "$new" -mindepth 1 -delete
  else
    F_ERRORS[$name]=$((F_ERRORS[$name] + 1))
    warn "merging $new into corpus/$name/ failed (the inputs stay in $new/)"
    show_tail "$log" 20
  fi
}

# report_crashes MARKER: prints every crash artifact written since MARKER, and
# counts them in CRASHES and F_CRASHES.
CRASHES=0
report_crashes() {
  local marker=$1 tool file name log lines
  tool=$(tool_path fuzz)
  while IFS= read -r file; do
    name=${file#"$FUZZ_DIR"/artifacts/}
    name=${name%%/*}
    F_CRASHES[$name]=$((${F_CRASHES[$name]:-0} + 1))
    CRASHES=$((CRASHES + 1))
    log=$(grep -alF "${file##*/}" "$FUZZ_DIR"/logs/"$name".wave*.log 2>/dev/null | head -n 1) || true
    printf '\n=== %s: %s\n' "${file##*/}" "$name"
    printf '  input:     %s\n' "$file"
    [[ -z $log ]] || printf '  log:       %s\n' "$log"
    printf '  reproduce: %s %s\n' "$FUZZ_DIR/fuzzers/$name" "$file"
    printf '             ./nf replay %s\n' "$file"
    if [[ -n $log ]]; then
      grep -aE '==[0-9]+== ?ERROR|^SUMMARY:|deadly signal|ALARM: working|out-of-memory|detected memory leaks|^ERROR: libFuzzer' "$log" |
        head -n 6 | sed 's/^/  | /' || true
    fi
    if [[ -n $tool ]]; then
      printf '  program (nf_tool decode):\n'
      lines=$("$tool" decode "$file" 2>&1) || true
      sed -n '1,80s/^/    /p' <<<"$lines"
      local total
      total=$(wc -l <<<"$lines")
      ((total <= 80)) || printf '    ... %d more lines: ./nf decode %s\n' $((total - 80)) "$file"
    else
      printf '  (no nf_tool built: cannot decode the input)\n'
    fi
  done < <(find "$FUZZ_DIR/artifacts" -type f -newer "$marker" \
             \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | sort)
}

cmd_fuzz() {
  local minutes=10 only="" jobs engine=libfuzzer
  jobs=$(nproc)
  while (($#)); do
    case $1 in
      --engine) need_value "$@"; engine=$2; shift 2 ;;
      --engine=*) engine=${1#*=}; shift ;;
      --minutes) need_value "$@"; minutes=$2; shift 2 ;;
      --minutes=*) minutes=${1#*=}; shift ;;
      --fuzzer) need_value "$@"; only=$2; shift 2 ;;
      --fuzzer=*) only=${1#*=}; shift ;;
      --jobs | -j) need_value "$@"; jobs=$2; shift 2 ;;
      --jobs=*) jobs=${1#*=}; shift ;;
      -h | --help) usage; exit 0 ;;
      *) usage_error "fuzz: unknown argument '$1'" ;;
    esac
  done
  [[ $minutes =~ ^[0-9]+(\.[0-9]+)?$ ]] || usage_error "fuzz: --minutes needs a number"
  if ! is_uint "$jobs" || ((10#$jobs == 0)); then
    usage_error "fuzz: --jobs needs a positive number"
  fi
  jobs=$((10#$jobs))
  case $engine in
    libfuzzer) ;;
    afl)
      local -a afl_args=(--minutes "$minutes")
      [[ -z $only ]] || afl_args+=(--fuzzer "$only")
      exec "$ROOT/tools/afl_fuzz.sh" "${afl_args[@]}" ;;
    *) usage_error "fuzz: --engine must be libfuzzer or afl" ;;
  esac
  local total_s
  total_s=$(awk -v m="$minutes" 'BEGIN { printf "%d", m * 60 }')
  ((total_s >= 10)) || usage_error "fuzz: --minutes must be at least 10 seconds' worth"
  ensure_deps
  cd "$ROOT"

  mkdir -p "$FUZZ_DIR"
  local build_log=$FUZZ_DIR/nf-build.log build_start=$SECONDS
  say "building the fuzz preset (log: $build_log)"
  if ! build fuzz >"$build_log" 2>&1; then
    show_build_failure "$build_log"
    die "building the fuzz preset failed"
  fi
  say "built in $((SECONDS - build_start)) s"

  local -a fuzzers=()
  local f
  for f in "$FUZZ_DIR"/fuzzers/*_fuzzer; do
    [[ -f $f && -x $f ]] && fuzzers+=("${f##*/}")
  done
  if ((${#fuzzers[@]} == 0)); then
    die "no fuzz target was built: $FUZZ_DIR/fuzzers/ has no *_fuzzer executable" \
      "(no fuzz target is defined in fuzzers/CMakeLists.txt yet)"
  fi
  if [[ -n $only ]]; then
    [[ $only == *_fuzzer ]] || only+=_fuzzer
    [[ " ${fuzzers[*]} " == *" $only "* ]] ||
      usage_error "fuzz: no fuzz target '$only' (have: ${fuzzers[*]})"
    fuzzers=("$only")
  fi

  # The plan: waves of J instances; see the comment above.
  local nf=${#fuzzers[@]} reserve fuzz_s waves wave_s
  reserve=$((total_s / 10))
  ((reserve >= 5)) || reserve=5
  ((reserve <= 60)) || reserve=60
  fuzz_s=$((total_s - reserve))
  if ((nf <= jobs)); then
    waves=1
  else
    waves=$((nf / $(gcd "$nf" "$jobs")))
  fi
  wave_s=$((fuzz_s / waves))
  ((wave_s >= 5)) || wave_s=5

  rm -rf "$FUZZ_DIR/logs"
  mkdir -p "$FUZZ_DIR/logs"
  local name
  for name in "${fuzzers[@]}"; do
    if [[ ! -d corpus/$name ]]; then
      say "creating corpus/$name/ (a new fuzzer: commit its corpus)"
      mkdir -p "corpus/$name"
    fi
    mkdir -p "$FUZZ_DIR/new/$name" "$FUZZ_DIR/artifacts/$name"
    F_BEFORE[$name]=$(count_files "corpus/$name")
    F_OPTS[$name]=$(fuzzer_options "$name")
    F_EXECS[$name]=0 F_SECS[$name]=0 F_FT[$name]=0 F_COV[$name]=0 F_CRASHES[$name]=0 F_ERRORS[$name]=0
  done
  local marker=$FUZZ_DIR/logs/.start
  touch "$marker"

  if ((waves == 1)); then
    say "fuzzing ${nf} target(s) on ${jobs} job(s) for ${wave_s} s, then merging (about $(mmss "$total_s"))"
  else
    say "fuzzing ${nf} targets on ${jobs} jobs: ${waves} waves of ${wave_s} s, then merging (about $(mmss "$total_s"))"
  fi
  say "logs: $FUZZ_DIR/logs/; crashes: $FUZZ_DIR/artifacts/<fuzzer>/"
  trap on_interrupt INT TERM
  FUZZ_BUDGET=$total_s FUZZ_START=$SECONDS
  local w s i k idx
  for ((w = 0; w < waves && !INTERRUPTED; w++)); do
    if ((nf <= jobs)); then
      for ((i = 0; i < nf; i++)); do
        k=$((jobs / nf + (i < jobs % nf ? 1 : 0)))
        for ((idx = 0; idx < k; idx++)); do start_instance "${fuzzers[$i]}" "$w" "$idx" "$wave_s"; done
      done
    else
      local -a names=()
      for ((s = 0; s < jobs; s++)); do
        names+=("${fuzzers[$(((w * jobs + s) % nf))]}")
      done
      say "wave $((w + 1))/$waves: ${names[*]}"
      for name in "${names[@]}"; do start_instance "$name" "$w" 0 "$wave_s"; done
    fi
    run_wave "$wave_s"
  done

  say "merging new inputs into corpus/<fuzzer>/"
  for name in "${fuzzers[@]}"; do
    merge_corpus "$name"
    F_AFTER[$name]=$(count_files "corpus/$name")
  done
  trap - INT TERM

  report_crashes "$marker"

  printf '\n%-28s %12s %8s %16s %8s %7s\n' fuzzer executions exec/s 'corpus' ft crashes
  local rate errors=0
  for name in "${fuzzers[@]}"; do
    rate=0
    ((F_SECS[$name] == 0)) || rate=$((F_EXECS[$name] / F_SECS[$name]))
    printf '%-28s %12d %8d %16s %8d %7d\n' "$name" "${F_EXECS[$name]}" "$rate" \
      "${F_BEFORE[$name]} -> ${F_AFTER[$name]}" "${F_FT[$name]}" "${F_CRASHES[$name]}"
    errors=$((errors + F_ERRORS[$name]))
  done
  printf '\n'
  say "fuzzed for $(mmss $((SECONDS - FUZZ_START))) (budget $(mmss "$FUZZ_BUDGET")); exec/s is per core"
  if ((CRASHES > 0)); then
    die "$CRASHES crash(es) found: see above"
  fi
  ((errors == 0)) || die "$errors fuzzer run(s) failed without a crash: see the logs in $FUZZ_DIR/logs/"
  if ((INTERRUPTED)); then
    warn "interrupted"
    exit 130
  fi
  say "no crash; new corpus files are in corpus/<fuzzer>/ (git status shows them)"
}

# ---------------------------------------------------------------------------
# ./nf decode | encode | replay

cmd_tool() {
  local sub=$1
  shift
  case $sub in
    decode) (($# == 1)) || usage_error "usage: ./nf decode FILE" ;;
    encode) (($# == 1 || $# == 2)) || usage_error "usage: ./nf encode FILE.nfp [OUT]" ;;
    replay) (($# >= 1)) || usage_error "usage: ./nf replay [--sequential] FILE_OR_DIR..." ;;
  esac
  [[ $1 != -h && $1 != --help ]] || { usage; exit 0; }
  ensure_deps
  local log=$ROOT/build/dev/nf-build.log
  mkdir -p "$ROOT/build/dev"
  if ! configure dev >"$log" 2>&1; then
    show_build_failure "$log"
    die "configuring the dev preset failed"
  fi
  has_target dev nf_tool ||
    die "nf_tool does not exist yet: no CMake target 'nf_tool' in this checkout, so '$sub' cannot run"
  if [[ $sub == replay ]]; then
    # ./nf replay: the concurrent checks with the full trace (nf_ctrace);
    # --sequential: the sequential fuzzer's checks with its op log.
    if [[ $1 == --sequential ]]; then
      shift
    else
      sub=creplay
    fi
  fi
  if ! compile dev nf_tool nf_ctrace >>"$log" 2>&1; then
    show_build_failure "$log"
    die "building nf_tool failed"
  fi
  local tool
  tool=$(tool_path dev)
  [[ -n $tool ]] || die "nf_tool was built but its executable is not under build/dev/"
  exec "$tool" "$sub" "$@"
}

# ---------------------------------------------------------------------------

# ---------------------------------------------------------------------------
# ./nf coverage | oss-fuzz-check | bench

cmd_bench() {
  (($# == 0)) || usage_error "usage: ./nf bench"
  ensure_deps
  cd "$ROOT"
  say "building the bench preset"
  configure bench >build/nf-bench-build.log 2>&1 && compile bench nf_bench >>build/nf-bench-build.log 2>&1 ||
    { show_build_failure build/nf-bench-build.log; die "building nf_bench failed"; }
  python3 tools/bench_report.py build/bench/bench/nf_bench
  say "fuzzer throughput: 60 s each on one core, ASan, from the shipped corpus"
  configure fuzz >build/nf-bench-build.log 2>&1 && compile fuzz >>build/nf-bench-build.log 2>&1 ||
    { show_build_failure build/nf-bench-build.log; die "building the fuzz preset failed"; }
  local f name scratch
  local -a opts
  for f in build/fuzz/fuzzers/*_fuzzer; do
    name=${f##*/}
    scratch=$(mktemp -d)
    cp -r "corpus/$name/." "$scratch/" 2>/dev/null || true
    # The fuzzer's own flags (max_len, dict), as ./nf fuzz and OSS-Fuzz run it.
    mapfile -t opts < <(fuzzer_options "$name")
    [[ ! -f fuzzers/$name.dict ]] || opts+=("-dict=fuzzers/$name.dict")
    "$f" "$scratch" "${opts[@]}" -max_total_time=60 -print_final_stats=1 -seed=1 2>&1 |
      awk -v n="$name" '/stat::number_of_executed_units/ {u=$2} /stat::average_exec_per_sec/ {e=$2}
        END {printf "  %-24s %12s execs  %8s exec/s\n", n, u, e}'
    rm -rf "$scratch"
  done
}

main() {
  local cmd=${1:-}
  (($# == 0)) || shift
  case $cmd in
    setup) cmd_setup "$@" ;;
    test) cmd_test "$@" ;;
    fuzz) cmd_fuzz "$@" ;;
    coverage) ensure_deps; exec "$ROOT/tools/coverage.sh" "$@" ;;
    oss-fuzz-check) ensure_deps; exec "$ROOT/tools/oss_fuzz_check.sh" "$@" ;;
    bench) cmd_bench "$@" ;;
    triage) ensure_deps; cd "$ROOT"; exec python3 tools/triage.py "$@" ;;
    mutants) ensure_deps; cd "$ROOT"; exec python3 tools/mutants.py "$@" ;;
    decode | encode | replay) cmd_tool "$cmd" "$@" ;;
    help | -h | --help) usage ;;
    '') usage >&2; exit 2 ;;
    *) usage_error "unknown command '$cmd'" ;;
  esac
}

main "$@"
