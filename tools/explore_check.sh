#!/usr/bin/env bash
# tools/explore_check.sh: the ctests of `./nf explore` (fuzzers/tools/nf_explore.cc)
# on real programs; sync/explore_test.cc tests the enumeration itself.
#
#   tools/explore_check.sh kernel BINDIR     (dev preset, ctest explore.kernel)
#     finding A (FINDINGS.md): nf_explore_kernel_contract finds its reproducer's
#     failure (P7), writes it as an input file, and that file, replayed by the
#     concurrent fuzzer on the same file and traits, fails the same way; on the
#     fixed variant (nf_explore_kernel_contract_fixed) every schedule within 3
#     preemptions passes, plain and with --reduction, and both count the same
#     distinct terminal states; a bound of 5 schedules is reached and said, exit 1;
#     bad usage exits 2.
#
#   tools/explore_check.sh mutants BINDIR MUTANTDIR   (asan preset, ctest
#   explore.mutants, label mutant)
#     each catalogue mutant M of docs/bugs.md with a reproducer under
#     corpus/regress/concurrent_fuzzer/M/: nf_explore_mut_M finds a failure
#     within 3 preemptions (remove_unlocked_wait needs 3, the others 0 to 2:
#     docs/results.md) that matches M/EXPECT, and the written file replayed
#     by concurrent_fuzzer_mut_M fails so too; nf_explore on the correct core
#     passes the same program within 1 preemption (2 preemptions take up to
#     minutes on some: docs/results.md).
#
# Exit 0 pass, 1 fail, 2 usage.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=tools/test_lib.sh
source "$root/tools/test_lib.sh"
mode=${1:-}
bindir=${2:-}
[[ ($mode == kernel && $# == 2) || ($mode == mutants && $# == 3) ]] ||
  { echo "usage: $0 kernel BINDIR | mutants BINDIR MUTANTDIR" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export ASAN_OPTIONS=detect_leaks=0

# The first line of an EXPECT file that is not a comment.
expect_of() { grep -v '^#' "$1" | head -n 1; }
# The figures line of an nf_explore output.
terminals() { sed -n 's/^distinct terminal states: //p' "$1"; }

if [[ $mode == kernel ]]; then
  a=$root/corpus/regress/kernel/concurrent_fuzzer_kernel/classic_start_fails_after_walk/324db361fea8424f1caa91049d2ca1096afff478
  timeout 120 "$bindir/nf_explore_kernel_contract" --out "$work/a" "$a" >"$work/found.out" 2>&1
  rc=$?
  if [[ $rc == 1 ]] && grep -q '^FAILED on schedule .*P7: deadlock' "$work/found.out" &&
    grep -q 'replayed: fails the same way' "$work/found.out" && [[ -s $work/a && -s $work/a.nfp ]]; then
    pass "explore finds finding A under the contract's traits and writes it"
  else
    fail "explore on finding A (contract): exit $rc, $(tr '\n' ' ' <"$work/found.out")"
  fi
  # The written bytes, replayed by the fuzz target's replay main, fail the same way.
  # (In a command substitution: the abort is the expected outcome, not news.)
  rc=$(timeout 120 "$bindir/concurrent_fuzzer_kernel_contract" "$work/a" >"$work/replay.out" 2>&1
    echo $?)
  headline=$(sed -n 's/^FAILED on schedule [0-9]* ([0-9]* preemption(s)): //p' "$work/found.out")
  if [[ $rc != 0 && -n $headline ]] && grep -qF -- "$headline" "$work/replay.out"; then
    pass "the written file fails the same way under concurrent_fuzzer_kernel_contract"
  else
    fail "replay of the written file: exit $rc, want '$headline', got $(grep -m1 '^P' "$work/replay.out")"
  fi
  fixed=$bindir/nf_explore_kernel_contract_fixed
  timeout 120 "$fixed" --preemptions 3 --reduction "$a" >"$work/fixed.out" 2>&1
  rc=$?
  timeout 120 "$fixed" --preemptions 3 "$a" >"$work/plain.out" 2>&1
  rc_plain=$?
  if [[ $rc == 0 && $rc_plain == 0 ]] && grep -q '^all passed up to 3 preemption' "$work/fixed.out" &&
    [[ -n $(terminals "$work/fixed.out") && $(terminals "$work/fixed.out") == "$(terminals "$work/plain.out")" ]]; then
    pass "the fix of finding A passes every schedule within 3 preemptions ($(terminals "$work/fixed.out") terminal states, reduced and plain)"
  else
    fail "explore on the fixed variant: exit $rc/$rc_plain, $(tr '\n' ' ' <"$work/fixed.out") / $(tr '\n' ' ' <"$work/plain.out")"
  fi
  timeout 120 "$fixed" --max-schedules 5 "$a" >"$work/bound.out" 2>&1
  rc=$?
  if [[ $rc == 1 ]] && grep -q '^bound reached after 5 schedules, no failure' "$work/bound.out" &&
    ! grep -q 'all passed' "$work/bound.out"; then
    pass "a bound of schedules reached is said, and is not a pass (exit 1)"
  else
    fail "explore --max-schedules 5: exit $rc, $(tr '\n' ' ' <"$work/bound.out")"
  fi
  for args in "" "--preemptions" "--preemptions x $a" "--bogus $a" "$work/nope" "$a $a"; do
    # shellcheck disable=SC2086
    timeout 60 "$fixed" $args >"$work/usage.out" 2>&1
    rc=$?
    [[ $rc == 2 ]] && [[ $(wc -l <"$work/usage.out") -le 2 ]] &&
      pass "nf_explore ${args:-(no argument)}: exit 2" ||
      fail "nf_explore ${args:-(no argument)}: exit $rc, $(tr '\n' ' ' <"$work/usage.out")"
  done
  finish explore_check
  exit
fi

# mutants
mutdir=$3
found=0
for dir in "$root"/corpus/regress/concurrent_fuzzer/*/; do
  dir=${dir%/}
  m=${dir##*/}
  [[ -f $dir/EXPECT && -x $mutdir/nf_explore_mut_$m ]] || continue
  expect=$(expect_of "$dir/EXPECT")
  for input in "$dir"/*; do
    case $input in *.nfp | */EXPECT | */EXPECT.* | *.md) continue ;; esac
    found=$((found + 1))
    id=${input##*/}
    out=$work/$m.out
    rc=$(timeout 300 "$mutdir/nf_explore_mut_$m" --preemptions 3 --out "$work/$m.fail" "$input" \
      >"$out" 2>&1
      echo $?)
    if [[ $rc == 1 ]] && grep -q '^FAILED on schedule' "$out" && grep -Eq -- "$expect" "$out" &&
      grep -Eq 'replayed: fails the same way|not replayed here \(the sanitizer' "$out"; then
      pass "$m: explore finds it ($(grep -oE 'FAILED on schedule [0-9]+( \([0-9]+ preemption\(s\)\))?' "$out"))"
    else
      fail "$m/$id: explore on the mutant: exit $rc, want /$expect/: $(tail -n 4 "$out" | tr '\n' ' ')"
      continue
    fi
    rc=$(timeout 120 "$mutdir/concurrent_fuzzer_mut_$m" "$work/$m.fail" >"$work/$m.replay" 2>&1
      echo $?)
    [[ $rc != 0 ]] && grep -Eq -- "$expect" "$work/$m.replay" &&
      pass "$m: the written file fails so under concurrent_fuzzer_mut_$m" ||
      fail "$m: the written file under concurrent_fuzzer_mut_$m: exit $rc, $(grep -m1 -E '^P[0-9]|ERROR' "$work/$m.replay")"
    timeout 300 "$bindir/nf_explore" --preemptions 1 "$input" >"$out" 2>&1
    rc=$?
    [[ $rc == 0 ]] && grep -q '^all passed up to 1 preemption' "$out" &&
      pass "$m: the correct core passes every schedule within 1 preemption" ||
      fail "$m/$id on the correct core: exit $rc, $(tail -n 4 "$out" | tr '\n' ' ')"
  done
done
((found > 0)) || fail "no mutant reproducer with an nf_explore_mut_<m> in $mutdir"
finish explore_check
