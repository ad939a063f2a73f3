#!/usr/bin/env bash
# tools/seeds.sh [--check] NF_TOOL
#
# The text seeds are the source of binary seeds in the corpora of the fuzzers
# that read op programs. Each binary is named by the SHA1 of its contents, as
# libFuzzer's -merge=1 names files.
#
#   corpus/seeds/sequential_fuzzer/*.nfp   one per clause of the spec (see the
#                                          comment at the top of each)
#                                          -> corpus/sequential_fuzzer/, corpus/codec_fuzzer/
#   corpus/seeds/concurrent_fuzzer/*.nfp   one per scenario class of races, each
#                                          with the schedule: bytes that make it
#                                          happen -> corpus/concurrent_fuzzer/,
#                                          corpus/codec_fuzzer/
#   corpus/seeds/{sequential,concurrent}_fuzzer_kernel/*.nfp
#                                          the kernel's API beyond nf's core
#                                          (§10) -> corpus/<that>_kernel/,
#                                          corpus/<that>/, corpus/codec_fuzzer/
#
#   tools/seeds.sh build/dev/fuzzers/nf_tool           (re)writes the binaries
#   tools/seeds.sh --check build/dev/fuzzers/nf_tool   fails if one is missing
#
# Other files in the corpora (found by fuzzing) are left alone.
set -euo pipefail

check=0
if [[ ${1:-} == --check ]]; then
  check=1
  shift
fi
(($# == 1)) || { echo "usage: $0 [--check] NF_TOOL" >&2; exit 2; }
tool=$1
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
shopt -s nullglob
missing=0

# sync_seeds SEED_DIR TARGET...: encodes every SEED_DIR/*.nfp into corpus/TARGET/.
sync_seeds() {
  local src=$root/corpus/seeds/$1
  shift
  local -a targets=("$@")
  local -a seeds=("$src"/*.nfp)
  ((${#seeds[@]} > 0)) || { echo "$0: no seeds in $src" >&2; exit 1; }
  local seed sha t out
  for seed in "${seeds[@]}"; do
    "$tool" encode "$seed" "$tmp"  # a bad seed prints file:line: reason
    sha=$(sha1sum "$tmp" | cut -d' ' -f1)
    for t in "${targets[@]}"; do
      out=$root/corpus/$t/$sha
      if ((check)); then
        if ! cmp -s "$tmp" "$out"; then
          echo "$0: ${seed#"$root"/} has no binary corpus/$t/$sha (run tools/seeds.sh $tool)" >&2
          missing=1
        fi
      else
        mkdir -p "$root/corpus/$t"
        cp "$tmp" "$out"
      fi
    done
  done
  if ((check)); then
    echo "${#seeds[@]} seeds of ${src#"$root"/} in sync (${targets[*]})"
  else
    echo "wrote ${#seeds[@]} seeds of ${src#"$root"/} into corpus/{$(IFS=,; echo "${targets[*]}")}/"
  fi
}

sync_seeds sequential_fuzzer sequential_fuzzer codec_fuzzer
sync_seeds concurrent_fuzzer concurrent_fuzzer codec_fuzzer
# The rest of the kernel's API (docs/contract.md §10): replayed by the kernel
# fuzzers' ctest replays and by ./nf coverage of both targets.
sync_seeds sequential_fuzzer_kernel sequential_fuzzer_kernel sequential_fuzzer codec_fuzzer
sync_seeds concurrent_fuzzer_kernel concurrent_fuzzer_kernel concurrent_fuzzer codec_fuzzer
((missing == 0)) || exit 1
