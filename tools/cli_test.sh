#!/usr/bin/env bash
# tools/cli_test.sh NF_TOOL [NF_TOOL_KERNEL NF_TOOL_KERNEL_CONTRACT
#                   [NF_TOOL_KERNEL_CONTRACT_6_12]]: the ctest
# `cli` (dev preset, label unit). Every command path a user runs either does what
# it says or fails with one clear line and a non-zero exit; none of them passes
# having done nothing. Each case asserts the exit status and the message, and
# each was a wrong-but-green path before (issue 23):
#
#   decode    a .nfp is parsed as text (it was decoded as fuzzer bytes); flags
#             after the file; a missing file is exit 2 with one line
#   encode    never over its own input; an empty or comment-only program only
#             with --allow-empty; binary garbage is escaped in the message
#   replay    a folder of .nfp runs each of them (they were all skipped), a .nfp
#             twin beside an input is not run twice, an empty folder fails
#   ./nf      bad paths and names fail before anything is built (explore too); the help names
#             --binary for triage; ./nf fuzz's crash lines name the right replay
#   kernel    --target kernel-contract: finding A's reproducer fails against the
#             contract on 6.1 and passes under the kernel's own traits; on 6.12,
#             which fixed A, it passes against the contract too
#
# The ./nf cases stop before any build (they check the arguments), so this test
# never starts a build of its own. Exit 0 pass, 1 fail.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tool=${1:?usage: cli_test.sh NF_TOOL [NF_TOOL_KERNEL NF_TOOL_KERNEL_CONTRACT]}
ktool=${2:-}
ctool=${3:-}
ctool612=${4:-}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# shellcheck source=tools/test_lib.sh
source "$root/tools/test_lib.sh"
# run NAME CMD...: runs CMD, its stdout in $work/NAME.out, stderr in .err, rc set.
run() {
  local name=$1
  shift
  "$@" >"$work/$name.out" 2>"$work/$name.err"
  rc=$?
}
# expect NAME RC PATTERN WHAT: rc is RC and stdout+stderr match PATTERN (grep -E).
expect() {
  local name=$1 want=$2 pattern=$3 what=$4
  if [[ $rc == "$want" ]] && cat "$work/$name.out" "$work/$name.err" | grep -Eq -- "$pattern"; then
    pass "$what"
  else
    fail "$what: exit $rc (want $want), output: $(head -c 400 "$work/$name.err" "$work/$name.out" | tr '\n' ' ')"
  fi
}

seeds=$root/corpus/seeds/sequential_fuzzer
nfp=$seeds/get_put.nfp

# --- decode
run dec_text "$tool" decode "$nfp"
expect dec_text 0 'read as a text program' "decode X.nfp says it read text"
grep -v '^#' "$work/dec_text.out" >"$work/dec_text.prog"
"$tool" encode "$nfp" "$work/get_put.bin" 2>/dev/null
"$tool" decode "$work/get_put.bin" | grep -v '^#' >"$work/dec_bytes.prog"
cmp -s "$work/dec_text.prog" "$work/dec_bytes.prog" && [[ -s $work/dec_text.prog ]] &&
  pass "decode X.nfp prints the program its text holds (= decode of its encoding)" ||
  fail "decode X.nfp prints another program than its encoding's"
run dec_json_after "$tool" decode "$nfp" --json
expect dec_json_after 0 '"form":"text"' "decode FILE --json (a flag after the file)"
run dec_missing "$tool" decode "$work/nope"
expect dec_missing 2 'nope: cannot read' "decode of a missing file: exit 2, one line"

# --- encode
cp "$nfp" "$work/same.nfp"
run enc_same "$tool" encode "$work/same.nfp" "$work/same.nfp"
expect enc_same 2 'refusing to overwrite' "encode same.nfp same.nfp is refused"
cmp -s "$nfp" "$work/same.nfp" && pass "encode same.nfp same.nfp leaves the text alone" ||
  fail "encode same.nfp same.nfp changed the text source"
ln -s same.nfp "$work/link.nfp"
run enc_link "$tool" encode "$work/same.nfp" "$work/link.nfp"
expect enc_link 2 'refusing to overwrite' "encode through a link to the input is refused"
printf '' >"$work/empty.nfp"
printf '# a comment only\n\n' >"$work/comment.nfp"
for f in empty comment; do
  run "enc_$f" "$tool" encode "$work/$f.nfp" "$work/$f.bin"
  expect "enc_$f" 2 'has no ops' "encode of a $f .nfp: exit 2, 'has no ops'"
  [[ -e $work/$f.bin ]] && fail "encode of a $f .nfp wrote its OUT" || pass "encode of a $f .nfp wrote nothing"
done
run enc_allow "$tool" encode --allow-empty "$work/comment.nfp" "$work/comment.bin"
[[ $rc == 0 && -s $work/comment.bin ]] && pass "encode --allow-empty accepts an empty program" ||
  fail "encode --allow-empty: exit $rc, $(cat "$work/enc_allow.err")"
printf 'threads 1\nT0: \x01\xfe\x1b[31mred\n' >"$work/garbage.nfp"
run enc_garbage "$tool" encode "$work/garbage.nfp"
expect enc_garbage 2 'garbage.nfp:2: unknown op .\\x01\\xfe\\x1b\[31mred' "garbage is escaped in the message"
LC_ALL=C grep -q $'[\x01\x1b\xfe]' "$work/enc_garbage.err" && fail "raw control bytes reached the terminal" ||
  pass "no raw control byte in the message"

# --- replay
run rep_seeds "$tool" replay "$seeds"
n_nfp=$(find "$seeds" -name '*.nfp' | wc -l)
n_ran=$(grep -c ': no violation ====$' "$work/rep_seeds.out")
[[ $rc == 0 && $n_ran == "$n_nfp" && $n_nfp -gt 0 ]] &&
  pass "replay of a folder of .nfp runs each of its $n_nfp programs" ||
  fail "replay of $seeds: exit $rc, ran $n_ran of $n_nfp"
regress=$root/corpus/regress/sequential_fuzzer/double_itree_release
run rep_twin "$tool" replay "$regress"
n_twin=$(grep -c '^==== replay ' "$work/rep_twin.out")
[[ $n_twin == 1 ]] && pass "a .nfp beside its input is not run a second time" ||
  fail "replay of $regress ran $n_twin input(s) (want 1: the .nfp is the input's decoded twin)"
mkdir -p "$work/empty_dir/sub"
run rep_empty "$tool" replay "$work/empty_dir"
expect rep_empty 2 'no input files under this directory' "replay of an empty folder fails"
run rep_missing "$tool" replay "$work/nope"
expect rep_missing 2 'nope: no such file or directory' "replay of a missing path: exit 2"
run rep_empty_nfp "$tool" replay "$work/comment.nfp"
expect rep_empty_nfp 2 'has no ops' "replay of an empty .nfp fails"

# --- ./nf: arguments checked before anything is built
nf=$root/nf
run nf_dec_missing "$nf" decode "$work/nope"
expect nf_dec_missing 2 '^nf: decode: .*nope: no such file or directory' "./nf decode of a missing file: exit 2"
run nf_enc_missing "$nf" encode "$work/nope.nfp"
expect nf_enc_missing 2 'no such file or directory' "./nf encode of a missing file: exit 2"
run nf_rep_missing "$nf" replay "$work/nope"
expect nf_rep_missing 2 'no such file or directory' "./nf replay of a missing path: exit 2"
run nf_enc_same "$nf" encode "$work/same.nfp" "$work/same.nfp"
expect nf_enc_same 2 'refusing to overwrite' "./nf encode same.nfp same.nfp: exit 2"
run nf_target "$nf" replay --target nope "$nfp"
expect nf_target 2 'must be nf, kernel or kernel-contract' "./nf replay --target nope: exit 2"
run nf_kernel_bad "$nf" replay --target kernel --kernel 7.0 "$nfp"
expect nf_kernel_bad 2 "--kernel must be 6.1 or 6.12" "./nf replay --kernel 7.0: exit 2"
run nf_kernel_nf "$nf" replay --kernel 6.12 "$nfp"
expect nf_kernel_nf 2 "--kernel goes with --target kernel" "./nf replay --kernel without a kernel target: exit 2"
run nf_fuzz_kernel "$nf" fuzz --kernel 6.12 --minutes 1
expect nf_fuzz_kernel 2 "--kernel goes with --target kernel" "./nf fuzz --kernel without --target kernel: exit 2"
run nf_mut_kernel "$nf" mutants --target kernel --kernel 5.4
expect nf_mut_kernel 2 "invalid choice: '5.4'" "./nf mutants --kernel 5.4: exit 2"
run nf_flag "$nf" decode "$nfp" --bogus
expect nf_flag 2 "unknown flag '--bogus'" "./nf decode FILE --bogus (a flag after the file): exit 2"
run nf_fuzz_name "$nf" fuzz --fuzzer nope --minutes 1
expect nf_fuzz_name 2 "no fuzz target 'nope'" "./nf fuzz --fuzzer nope: exit 2"
grep -q 'building' "$work/nf_fuzz_name.out" "$work/nf_fuzz_name.err" &&
  fail "./nf fuzz --fuzzer nope started a build first" || pass "./nf fuzz --fuzzer nope builds nothing"
run nf_triage_missing "$nf" triage "$work/nope"
expect nf_triage_missing 2 'no such file' "./nf triage of a missing file: exit 2"
run nf_triage_name "$nf" triage "$nfp" --fuzzer nope
expect nf_triage_name 2 "no fuzz target 'nope'" "./nf triage --fuzzer nope: exit 2, before any build"
run nf_triage_bin "$nf" triage "$nfp" --binary "$work/nope"
expect nf_triage_bin 2 'nope: no such file' "./nf triage --binary MISSING: exit 2"
run nf_exp_missing "$nf" explore "$work/nope"
expect nf_exp_missing 2 '^nf: explore: .*nope: no such file or directory' "./nf explore of a missing file: exit 2"
run nf_exp_two "$nf" explore "$nfp" "$nfp"
expect nf_exp_two 2 'explore: needs one FILE' "./nf explore of two files: exit 2"
run nf_exp_k "$nf" explore "$nfp" --preemptions -1
expect nf_exp_k 2 'preemptions must be a number from 0 to 64' "./nf explore --preemptions -1: exit 2"
run nf_exp_n "$nf" explore --max-schedules 0 "$nfp"
expect nf_exp_n 2 'max-schedules must be a positive number' "./nf explore --max-schedules 0: exit 2"
run nf_exp_target "$nf" explore --target nope "$nfp"
expect nf_exp_target 2 'target must be nf, kernel' "./nf explore --target nope: exit 2"
run nf_exp_fixed "$nf" explore --target kernel-fixed --kernel 6.12 "$nfp"
expect nf_exp_fixed 2 'fixed variant is built for Linux 6.1 only' "./nf explore --target kernel-fixed --kernel 6.12: exit 2"
run nf_exp_flag "$nf" explore "$nfp" --bogus
expect nf_exp_flag 2 "explore: unknown flag '--bogus'" "./nf explore FILE --bogus: exit 2"
run nf_help "$nf" help
expect nf_help 0 'triage CRASH .*--binary PATH' "./nf help names triage --binary"
grep -q 'kernel-contract' "$work/nf_help.out" && pass "./nf help names --target kernel-contract" ||
  fail "./nf help does not name --target kernel-contract"

# ./nf fuzz's crash lines: the replay that runs the crashed fuzzer's checks.
run fuzz_lines python3 -c "
import sys; sys.path.insert(0, '$root/tools')
import fuzz
for n in ['concurrent_fuzzer', 'sequential_fuzzer', 'concurrent_fuzzer_kernel',
          'sequential_fuzzer_kernel', 'codec_fuzzer', 'interval_tree_fuzzer']:
    print(n, '=', fuzz.replay_command(n, 'F') or '-')
"
want="concurrent_fuzzer = ./nf replay F
sequential_fuzzer = ./nf replay --sequential F
concurrent_fuzzer_kernel = ./nf replay --target kernel F
sequential_fuzzer_kernel = ./nf replay --sequential --target kernel F
codec_fuzzer = -
interval_tree_fuzzer = -"
[[ $(cat "$work/fuzz_lines.out") == "$want" ]] &&
  pass "./nf fuzz names the replay of each fuzzer's crash (none for codec, tree)" ||
  fail "./nf fuzz replay lines: $(cat "$work/fuzz_lines.out" "$work/fuzz_lines.err")"

# --- the kernel: does my kernel still have finding A?
if [[ -n $ktool && -n $ctool ]]; then
  a=$root/corpus/regress/kernel/concurrent_fuzzer_kernel/classic_start_fails_after_walk
  run kern_files "$ktool" creplay "$a"
  n=$(grep -c '^==== creplay ' "$work/kern_files.out")
  [[ $n == 1 ]] && pass "a reproducer folder runs its one input (EXPECT, EXPECT.<suffix>, .nfp, .md are not inputs)" ||
    fail "replay of $a ran $n inputs"
  run kern_contract "$ctool" creplay "$a"
  [[ $rc != 0 ]] && grep -q 'P7: deadlock' "$work/kern_contract.err" &&
    pass "finding A's reproducer fails against the contract (P7)" ||
    fail "finding A's reproducer under the contract: exit $rc, $(tail -c 300 "$work/kern_contract.err")"
  run kern_own "$ktool" creplay "$a"
  expect kern_own 0 'no violation' "finding A's reproducer passes under the kernel's own traits"
  if [[ -n $ctool612 ]]; then
    run kern_612 "$ctool612" creplay "$a"
    expect kern_612 0 'no violation' "6.12 (which fixed A): the reproducer passes against the contract"
  fi
else
  echo "note: no kernel tools given; the kernel-contract cases did not run"
fi

finish cli_test
