#!/usr/bin/env bash
# tools/oss_fuzz_check.sh: OSS-Fuzz's build and build check, here, without Docker.
#
#   tools/oss_fuzz_check.sh [--sanitizer address|undefined]...   (default: both)
#
# Emulates the base-builder image: CC=clang CXX=clang++, libc++ (Debian's
# libc++-14-dev; -stdlib=libc++ in CXXFLAGS), OSS-Fuzz's default CFLAGS, its
# sanitizer flags, LIB_FUZZING_ENGINE=-fsanitize=fuzzer (plus libstdc++: see
# LIB_FUZZING_ENGINE below), and Abseil built from source (Debian's source
# package, `apt-get source abseil`, as $SRC/abseil-cpp).
# Runs oss-fuzz/build.sh with only OSS-Fuzz's variables in its environment, once
# per sanitizer, into build/oss-fuzz/out/<sanitizer>/ (emptied first), then
# repeats the checks of OSS-Fuzz's bad_build_check on every target in $OUT:
#
#   runs      `F -seed=1337 -runs=4 EMPTY_DIR` exits 0 and prints "Done 4 runs";
#             and `F -runs=0 SEEDS` over the unzipped seed corpus exits 0 (no seed
#             crashes); both with the [libfuzzer] flags of F.options and F.dict, as
#             run_fuzzer passes them (a bad dictionary fails here)
#   coverage  the binary has a __sancov_cntrs or __sancov_guards section, and
#             libFuzzer reports >= 100 instrumented edges ("INFO: Loaded N modules
#             (E inline 8-bit counters)")
#   asan/ubsan  call sites of the sanitizer runtimes: instructions matching
#             `call <__asan...>` / `call <__ubsan...>` in `objdump -d` (OSS-Fuzz's
#             count). address build: asan >= 1000, ubsan <= 200; undefined build:
#             asan = 0, ubsan >= 168. Both: no __msan/__dfsan calls.
#   seeds     F_seed_corpus.zip exists and has at least one entry
#
# Prints one table row per target and sanitizer, then the reasons of every FAIL,
# then the time taken. Exit: 0 all pass, 1 a build or a check failed, 2 bad usage.
#
# Kept across runs, in the cache directory, $NF_OSS_FUZZ_CACHE or else
# build/oss-fuzz/ (git-ignored): abseil-src/ (Abseil's source package, fetched
# once), src/ ($SRC: symbolic links to this tree and to Abseil), work/ ($WORK:
# Abseil and nf, built once per set of flags, then incremental). A cache outside
# the tree (e.g. NF_OSS_FUZZ_CACHE=~/.cache/nf-oss-fuzz) serves fresh clones too:
# $SRC/nf then points at the clone being checked, so nf is rebuilt but Abseil is
# not; one check at a time per cache. The logs and $OUT stay in build/oss-fuzz/.
# Delete the cache directory to start from scratch.
set -euo pipefail

# shellcheck source=tools/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
nf_tool oss-fuzz-check
readonly BASE=$ROOT/build/oss-fuzz
CACHE=${NF_OSS_FUZZ_CACHE:-$BASE}
mkdir -p "$CACHE"
CACHE=$(cd "$CACHE" && pwd)
readonly CACHE
readonly PACKAGES=(clang libclang-rt-14-dev libc++-14-dev libc++abi-14-dev cmake ninja-build
                   zip unzip binutils dpkg-dev)
readonly DEB_SRC_FILE=/etc/apt/sources.list.d/nf-deb-src.sources

# OSS-Fuzz's defaults (infra/base-images/base-clang and base-builder).
readonly OSS_CFLAGS="-O1 -fno-omit-frame-pointer -gline-tables-only -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION"
readonly OSS_CXXFLAGS_EXTRA="-stdlib=libc++"
readonly COVERAGE_FLAGS="-fsanitize=fuzzer-no-link"
# shellcheck disable=SC2034  # both read as ${!flags_var}
readonly SANITIZER_FLAGS_address="-fsanitize=address -fsanitize-address-use-after-scope"
# unsigned-integer-overflow is instrumented (-fsanitize) but recoverable and
# silenced at run time (UBSAN_OPTIONS=silence_unsigned_overflow=1): OSS-Fuzz uses it
# as a coverage signal only. float-divide-by-zero left OSS-Fuzz's list (IEEE-defined).
# shellcheck disable=SC2034
readonly SANITIZER_FLAGS_undefined="-fsanitize=array-bounds,bool,builtin,enum,function,integer-divide-by-zero,null,object-size,return,returns-nonnull-attribute,shift,signed-integer-overflow,unsigned-integer-overflow,unreachable,vla-bound,vptr -fno-sanitize-recover=array-bounds,bool,builtin,enum,function,integer-divide-by-zero,null,object-size,return,returns-nonnull-attribute,shift,signed-integer-overflow,unreachable,vla-bound,vptr"
# The run-time options of OSS-Fuzz's base-runner that matter here.
readonly RUN_ASAN_OPTIONS="alloc_dealloc_mismatch=0:allocator_may_return_null=1:detect_container_overflow=1:detect_leaks=1:detect_stack_use_after_return=1:handle_abort=1:symbolize=1:dedup_token_length=3"
readonly RUN_UBSAN_OPTIONS="print_stacktrace=1:print_summary=1:silence_unsigned_overflow=1:symbolize=1:dedup_token_length=3"

# OSS-Fuzz's libFuzzer runtime carries its own private C++ library; Debian's
# (libclang-rt-14-dev) is built against libstdc++, so with -stdlib=libc++ the link
# also needs libstdc++ (std::__cxx11 vs std::__1: the two coexist), kept by
# --no-as-needed because clang puts the runtime after it on the command line.
readonly LIB_FUZZING_ENGINE="-fsanitize=fuzzer -Wl,--push-state,--no-as-needed,-lstdc++,--pop-state"

# bad_build_check's thresholds.
readonly MIN_EDGES=100
readonly ASAN_MIN_FOR_ASAN=1000
readonly UBSAN_MAX_FOR_NON_UBSAN=200
readonly UBSAN_MIN_FOR_UBSAN=168


sanitizers=()
while (($# > 0)); do
  case $1 in
    --sanitizer) (($# >= 2)) || { echo "nf: oss-fuzz-check: --sanitizer needs a value (see ./nf help)" >&2; exit 2; }
      sanitizers+=("$2"); shift 2 ;;
    --sanitizer=*) sanitizers+=("${1#*=}"); shift ;;
    -h | --help) usage; exit 0 ;;
    *) printf "nf: oss-fuzz-check: unknown flag '%s' (see ./nf help)\n" "$1" >&2; exit 2 ;;
  esac
done
((${#sanitizers[@]} > 0)) || sanitizers=(address undefined)
for s in "${sanitizers[@]}"; do
  [[ $s == address || $s == undefined ]] || { say "--sanitizer: address or undefined, not '$s'" >&2; exit 2; }
done

as_root() {
  if ((EUID == 0)); then "$@"; else sudo "$@"; fi
}

ensure_packages() {
  local missing=() p
  for p in "${PACKAGES[@]}"; do
    [[ $(dpkg-query -W -f='${Status}' "$p" 2>/dev/null) == *'ok installed' ]] || missing+=("$p")
  done
  ((${#missing[@]} == 0)) && return
  say "installing ${missing[*]}"
  as_root apt-get update -q >/dev/null
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    "${missing[@]}" >/dev/null
}

# abseil_source: prints the directory of Abseil's Debian source package, fetched
# once into $CACHE/abseil-src/ (adds a deb-src entry for bookworm if none).
abseil_source() {
  local dir
  dir=$(find "$CACHE/abseil-src" -maxdepth 1 -type d -name 'abseil-*' 2>/dev/null | sort | tail -n 1)
  if [[ -n $dir && -f $dir/CMakeLists.txt ]]; then
    printf '%s\n' "$dir"
    return
  fi
  if ! grep -rqsE '^(deb-src|Types:.*deb-src)' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    say "adding Debian's source packages to apt ($DEB_SRC_FILE)" >&2
    as_root tee "$DEB_SRC_FILE" >/dev/null <<'EOF'
# Added by nf's tools/oss_fuzz_check.sh: Debian source packages (apt-get source abseil).
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    as_root apt-get update -q >/dev/null
  fi
  say "fetching Abseil's source package into $CACHE/abseil-src/" >&2
  mkdir -p "$CACHE/abseil-src"
  local log=$LOGS/apt-get-source.log
  # (a second try after apt-get update: the deb-src lists may never have been fetched)
  (cd "$CACHE/abseil-src" && apt-get source -q abseil >"$log" 2>&1) ||
    { as_root apt-get update -q >/dev/null &&
      (cd "$CACHE/abseil-src" && apt-get source -q abseil >"$log" 2>&1); } ||
    die "apt-get source abseil failed (log: ${log#"$ROOT"/})"
  dir=$(find "$CACHE/abseil-src" -maxdepth 1 -type d -name 'abseil-*' | sort | tail -n 1)
  [[ -n $dir && -f $dir/CMakeLists.txt ]] || die "no Abseil source tree in $CACHE/abseil-src"
  printf '%s\n' "$dir"
}

# fuzzer_args F: the [libfuzzer] options of $OUT/F.options as -key=value, one a
# line (what OSS-Fuzz's run_fuzzer adds).
fuzzer_args() {
  local file=$1.options section="" line key value
  [[ -f $file ]] || return 0
  while IFS= read -r line || [[ -n $line ]]; do
    line=${line%%#*}
    line=$(printf '%s' "$line" | sed 's/^[[:space:]]*//; s/[[:space:]]*$//')
    [[ -n $line ]] || continue
    if [[ $line =~ ^\[(.*)\]$ ]]; then
      section=${BASH_REMATCH[1]}
      continue
    fi
    [[ $section == libfuzzer && $line == *=* ]] || continue
    key=$(printf '%s' "${line%%=*}" | sed 's/[[:space:]]*$//')
    value=$(printf '%s' "${line#*=}" | sed 's/^[[:space:]]*//')
    printf -- '-%s=%s\n' "$key" "$value"
  done <"$file"
}

declare -a ROWS=() REASONS=()
failed=0

# check_target SANITIZER OUT NAME: one row of the table.
check_target() {
  local san=$1 out=$2 name=$3
  local bin=$out/$name tmp runs="ok" cov edges asan ubsan msan dfsan zip_entries=0 verdict=PASS
  local -a why=() args=()
  tmp=$(mktemp -d)
  mapfile -t args < <(cd "$out" && fuzzer_args "$name")
  # As run_fuzzer does: F.dict is the dictionary when F.options names none.
  if [[ -f $out/$name.dict && " ${args[*]} " != *" -dict="* ]]; then
    args+=("-dict=$name.dict")
  fi

  # 1. Four runs from an empty corpus, then the seed corpus once.
  mkdir "$tmp/empty" "$tmp/seeds"
  if ! (cd "$out" && "./$name" -seed=1337 -runs=4 "${args[@]}" "$tmp/empty") >"$tmp/runs.log" 2>&1 ||
    ! grep -q 'Done 4 runs' "$tmp/runs.log"; then
    runs="FAIL"
    why+=("-runs=4 failed or did not finish (log: ${LOGS#"$ROOT"/}/$san.$name.runs.log)")
  fi
  cp "$tmp/runs.log" "$LOGS/$san.$name.runs.log"
  if [[ -f $out/${name}_seed_corpus.zip ]]; then
    zip_entries=$(unzip -Z1 "$out/${name}_seed_corpus.zip" 2>/dev/null | grep -vc '/$' || true)
    unzip -q -o "$out/${name}_seed_corpus.zip" -d "$tmp/seeds"
    if ! (cd "$out" && "./$name" -runs=0 -rss_limit_mb=2560 -timeout=25 "${args[@]}" "$tmp/seeds") \
      >"$LOGS/$san.$name.seeds.log" 2>&1; then
      runs="FAIL"
      why+=("an input of the seed corpus crashes (log: ${LOGS#"$ROOT"/}/$san.$name.seeds.log)")
    fi
  fi
  if ((zip_entries == 0)); then
    why+=("no seed corpus: ${name}_seed_corpus.zip is missing or empty (corpus/$name/ empty?)")
  fi

  # 2. Coverage instrumentation.
  edges=$(grep -oE 'INFO: Loaded [0-9]+ modules? +\([0-9]+ (inline 8-bit counters|guards)' "$tmp/runs.log" |
    grep -oE '\([0-9]+' | tr -d '(' | head -n 1 || true)
  edges=${edges:-0}
  # (grep -c, not -q: an early exit of grep would fail the pipe under pipefail)
  if (($(readelf -SW "$bin" | grep -cE '__sancov_(cntrs|guards)') > 0)); then
    cov="$edges edges"
  else
    cov="none"
    why+=("no __sancov_cntrs/__sancov_guards section: not coverage-instrumented")
  fi
  if ((edges < MIN_EDGES)); then
    why+=("libFuzzer reports $edges instrumented edges (< $MIN_EDGES): partial instrumentation")
  fi

  # 3. Sanitizer call sites.
  objdump -d --no-show-raw-insn "$bin" >"$tmp/dis" 2>/dev/null
  count_calls() { grep -cE "call[q]?[[:space:]]+[0-9a-f]+ <__$1" "$tmp/dis" || true; }
  asan=$(count_calls asan)
  ubsan=$(count_calls ubsan)
  msan=$(count_calls msan)
  dfsan=$(count_calls dfsan)
  if [[ $san == address ]]; then
    ((asan >= ASAN_MIN_FOR_ASAN)) || why+=("$asan __asan calls (< $ASAN_MIN_FOR_ASAN): not built with ASan")
    ((ubsan <= UBSAN_MAX_FOR_NON_UBSAN)) ||
      why+=("$ubsan __ubsan calls (> $UBSAN_MAX_FOR_NON_UBSAN): ASan build carries UBSan")
  else
    ((asan == 0)) || why+=("$asan __asan calls: UBSan build carries ASan")
    ((ubsan >= UBSAN_MIN_FOR_UBSAN)) || why+=("$ubsan __ubsan calls (< $UBSAN_MIN_FOR_UBSAN): not built with UBSan")
  fi
  ((msan <= 3 && dfsan == 0)) || why+=("$msan __msan / $dfsan __dfsan calls: wrong sanitizer")

  rm -rf "$tmp"
  if ((${#why[@]} > 0)); then
    verdict=FAIL
    failed=1
    local w
    for w in "${why[@]}"; do REASONS+=("$name ($san): $w"); done
  fi
  ROWS+=("$(printf '%-24s %-10s %-5s %-13s %7s %7s %6s  %s' \
    "$name" "$san" "$runs" "$cov" "$asan" "$ubsan" "$zip_entries" "$verdict")")
}

start=$SECONDS
mkdir -p "$BASE"/{logs,out} "$CACHE"/{abseil-src,src,work}
LOGS=$BASE/logs
ensure_packages
absl_src=$(abseil_source)
# $SRC as the Dockerfile lays it out: the repository as $SRC/nf, Abseil beside it.
ln -sfn "$ROOT" "$CACHE/src/nf"
ln -sfn "$absl_src" "$CACHE/src/abseil-cpp"

for san in "${sanitizers[@]}"; do
  out=$BASE/out/$san
  rm -rf "$out"
  mkdir -p "$out"
  flags_var=SANITIZER_FLAGS_$san
  cflags="$OSS_CFLAGS ${!flags_var} $COVERAGE_FLAGS"
  log=$LOGS/build.$san.log
  say "building with SANITIZER=$san (log: ${log#"$ROOT"/})"
  t0=$SECONDS
  if ! env -i PATH="$PATH" HOME="${HOME:-/root}" \
    CC=clang CXX=clang++ CFLAGS="$cflags" CXXFLAGS="$cflags $OSS_CXXFLAGS_EXTRA" \
    LIB_FUZZING_ENGINE="$LIB_FUZZING_ENGINE" SANITIZER="$san" \
    SRC="$CACHE/src" WORK="$CACHE/work" OUT="$out" \
    bash -eu "$ROOT/oss-fuzz/build.sh" >"$log" 2>&1; then
    tail -n 30 "$log" | sed 's/^/  /' >&2
    ROWS+=("$(printf '%-24s %-10s %s' '(build)' "$san" 'oss-fuzz/build.sh failed  FAIL')")
    REASONS+=("build ($san): oss-fuzz/build.sh failed, log: ${log#"$ROOT"/}")
    failed=1
    continue
  fi
  say "built in $((SECONDS - t0)) s; checking"
  found=0
  for bin in "$out"/*; do
    name=${bin##*/}
    [[ -f $bin && -x $bin && $name != *.* ]] || continue
    found=1
    ASAN_OPTIONS=$RUN_ASAN_OPTIONS UBSAN_OPTIONS=$RUN_UBSAN_OPTIONS check_target "$san" "$out" "$name"
  done
  if ((found == 0)); then
    REASONS+=("build ($san): no fuzz target in ${out#"$ROOT"/}")
    failed=1
  fi
done

printf '\n%-24s %-10s %-5s %-13s %7s %7s %6s  %s\n' target sanitizer runs coverage asan ubsan seeds verdict
printf '%s\n' "${ROWS[@]}"
printf '(asan/ubsan: call sites of __asan*/__ubsan* in objdump -d; seeds: entries of <target>_seed_corpus.zip)\n'
if ((${#REASONS[@]} > 0)); then
  printf '\nfailures:\n'
  printf '  %s\n' "${REASONS[@]}"
fi
elapsed=$((SECONDS - start))
printf '\noss-fuzz-check: %s in %d min %02d s\n' "$( ((failed == 0)) && echo PASS || echo FAIL)" \
  $((elapsed / 60)) $((elapsed % 60))
exit "$failed"
