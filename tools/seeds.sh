#!/usr/bin/env bash
# tools/seeds.sh [--check] NF_TOOL
#
# The text seeds corpus/seeds/sequential_fuzzer/*.nfp (one per clause of the
# spec, see the comment at the top of each) are the source of binary seeds in the
# corpora of the fuzzers that read op programs: corpus/sequential_fuzzer/ and
# corpus/codec_fuzzer/. Each binary is named by the SHA1 of its contents, as
# libFuzzer's -merge=1 names files.
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
src=$root/corpus/seeds/sequential_fuzzer
targets=(sequential_fuzzer codec_fuzzer)
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT

shopt -s nullglob
seeds=("$src"/*.nfp)
((${#seeds[@]} > 0)) || { echo "$0: no seeds in $src" >&2; exit 1; }
missing=0
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
  ((missing == 0)) || exit 1
  echo "${#seeds[@]} seeds in sync (${targets[*]})"
else
  echo "wrote ${#seeds[@]} seeds into corpus/{$(IFS=,; echo "${targets[*]}")}/"
fi
