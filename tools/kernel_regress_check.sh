#!/usr/bin/env bash
# tools/kernel_regress_check.sh FUZZER BINDIR: the reproducers of the kernel
# target's findings (ctest regress.<FUZZER>, label replay).
#
# Each corpus/regress/kernel/FUZZER/<finding>/<sha1> (the .nfp beside it is its
# decoded text) must
#   - fail on BINDIR/FUZZER_contract (the kernel file with the contract's
#     traits, target/CMakeLists.txt) with output matching the extended regex
#     of <finding>/EXPECT (its first line that is not a comment): the kernel
#     still diverges as FINDINGS.md says; a kernel that changed fails here;
#   - pass on BINDIR/FUZZER (the kernel's traits): the divergence is expected.
# A finding whose EXPECT is "pass" (a harness artefact, fixed) must pass on both.
# A directory mut_<m>/ holds reproducers of kernel mutant <m> (kernel/mutants/):
# each must fail on BINDIR/FUZZER_mut_<m> with EXPECT and pass on BINDIR/FUZZER;
# without that binary (NF_KERNEL_BUILD_MUTANTS off, e.g. the dev preset) only the
# pass is checked, and said so.
#
# tools/kernel_regress_check.sh FUZZER BINDIR SUFFIX: the same on another kernel
# version or variant, whose executables end in _SUFFIX (6_12: Linux 6.12;
# fixed: the fixed variant, kernel/fixes/; fixed_6_12 ...): BINDIR/FUZZER_SUFFIX,
# BINDIR/FUZZER_contract_SUFFIX, BINDIR/FUZZER_mut_<m>_SUFFIX, with
# <finding>/EXPECT.SUFFIX in place of EXPECT where it exists (that version or
# variant behaves differently there; FINDINGS.md).
set -uo pipefail
(($# == 2 || $# == 3)) || { echo "usage: $0 FUZZER BINDIR [SUFFIX]" >&2; exit 2; }
fuzzer=$1 bindir=$2 variant=${3:-}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=$bindir/$fuzzer contract=$bindir/${fuzzer}_contract
if [[ -n $variant ]]; then
  bin=${bin}_$variant contract=${contract}_$variant
fi
for b in "$bin" "$contract"; do
  [[ -x $b ]] || { echo "FAIL: no binary $b" >&2; exit 1; }
done
found=0 bad=0
shopt -s nullglob
for dir in "$root"/corpus/regress/kernel/"$fuzzer"/*/; do
  dir=${dir%/}
  name=${dir##*/}
  if [[ ! -f $dir/EXPECT ]]; then
    echo "FAIL $name: $dir/EXPECT is missing"
    bad=1
    continue
  fi
  expect_file=$dir/EXPECT
  [[ -z $variant || ! -f $dir/EXPECT.$variant ]] || expect_file=$dir/EXPECT.$variant
  expect=$(grep -v '^#' "$expect_file" | head -n 1)
  for input in "$dir"/*; do
    case $input in *.nfp | */EXPECT | */EXPECT.* | *.md | *.trace) continue ;; esac
    found=$((found + 1))
    id=${input##*/}
    if ! out=$(ASAN_OPTIONS=detect_leaks=0 timeout 120 "$bin" "$input" 2>&1); then
      echo "FAIL $name: $id fails on ${bin##*/} (the kernel's traits):"
      tail -n 20 <<<"$out"
      bad=1
      continue
    fi
    against=$contract
    if [[ $name == mut_* ]]; then
      against=$bindir/${fuzzer}_mut_${name#mut_}${variant:+_$variant}
      if [[ ! -x $against ]]; then
        echo "ok   $name: $id passes on ${bin##*/} (no ${against##*/} built: mutant not checked)"
        continue
      fi
    fi
    out=$(ASAN_OPTIONS=detect_leaks=0:abort_on_error=0 timeout 120 "$against" "$input" 2>&1)
    rc=$?
    # The verdict: empty if the input behaved as EXPECT says, else why not.
    why=
    case $expect:$rc in
      pass:0) ;;
      pass:*) why="fails on ${against##*/} (expected to pass)" ;;
      *:0) why="passed on ${against##*/}: no longer shows '$expect'" ;;
      *) grep -Eq -- "$expect" <<<"$out" || why="failed on ${against##*/} (rc $rc) but not with: $expect" ;;
    esac
    if [[ -n $why ]]; then
      printf 'FAIL %s: %s %s\n' "$name" "$id" "$why"
      [[ $rc == 0 ]] || tail -n 20 <<<"$out"
      bad=1
    elif [[ $expect == pass ]]; then
      printf 'ok   %s: %s passes on both\n' "$name" "$id"
    else
      printf 'ok   %s: %s: %s\n' "$name" "$id" "$(grep -Eo -m1 -- "$expect" <<<"$out")"
    fi
  done
done
echo "${bin##*/}: $found reproducer(s) under corpus/regress/kernel/$fuzzer/"
exit "$bad"
