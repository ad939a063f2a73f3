#!/usr/bin/env bash
# tools/mutant_check.sh MUTANT BINDIR: the ctest 'mutant.<MUTANT>'.
#
# Every reproducer of MUTANT, corpus/regress/<fuzzer>/<MUTANT>/<sha1> (the .nfp
# beside it is its decoded text), must make BINDIR/<fuzzer>_mut_<MUTANT> fail, and
# its output must match the extended regex in corpus/regress/<fuzzer>/<MUTANT>/EXPECT
# (the property or sanitizer report the bug is known by). A mutant without any
# reproducer fails the check: every mutant must have one.
set -uo pipefail
(($# == 2)) || { echo "usage: $0 MUTANT BINDIR" >&2; exit 2; }
mutant=$1 bindir=$2
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
found=0 bad=0
shopt -s nullglob
for dir in "$root"/corpus/regress/*/"$mutant"; do
  fuzzer=$(basename "$(dirname "$dir")")
  bin=$bindir/${fuzzer}_mut_${mutant}
  expect_file=$dir/EXPECT
  if [[ ! -x $bin ]]; then
    echo "FAIL $mutant: no binary $bin for the reproducers in $dir"
    bad=1
    continue
  fi
  if [[ ! -f $expect_file ]]; then
    echo "FAIL $mutant: $expect_file is missing"
    bad=1
    continue
  fi
  expect=$(grep -v '^#' "$expect_file" | head -n 1)
  for input in "$dir"/*; do
    case $input in *.nfp | */EXPECT | *.md) continue ;; esac
    found=$((found + 1))
    out=$(ASAN_OPTIONS=detect_leaks=0:abort_on_error=0 timeout 120 "$bin" "$input" 2>&1)
    rc=$?
    if ((rc == 0)); then
      echo "FAIL $mutant: $fuzzer ${input##*/} passed on the mutant (expected: $expect)"
      bad=1
    elif ! grep -Eq -- "$expect" <<<"$out"; then
      echo "FAIL $mutant: $fuzzer ${input##*/} failed (rc $rc) but not with: $expect"
      tail -n 20 <<<"$out"
      bad=1
    else
      echo "ok   $mutant: $fuzzer ${input##*/} fails with: $(grep -Eo -m1 -- "$expect" <<<"$out")"
    fi
  done
done
if ((found == 0)); then
  echo "FAIL $mutant: no reproducer under corpus/regress/*/$mutant/"
  exit 1
fi
exit "$bad"
