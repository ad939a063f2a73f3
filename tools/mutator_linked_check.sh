#!/usr/bin/env bash
# tools/mutator_linked_check.sh BUILD_DIR: every program fuzzer built under
# BUILD_DIR (an executable named *sequential_fuzzer* or *concurrent_fuzzer*: the
# fuzzers, their kernel, contract, fixed and mutant variants) defines libFuzzer's
# custom-mutator hooks, i.e. links nf_program_mutator (fuzzers/CMakeLists.txt
# nf_program_fuzzer). Without them libFuzzer mutates a program fuzzer's bytes
# blindly, and nothing else notices: the run still finds coverage, just far more
# slowly (docs/results.md, the kernel target's search). ctest mutator_linked.
# Exit 0 when each has both hooks, 1 naming those that lack one, 2 when there is
# no program fuzzer under BUILD_DIR at all (a check of nothing is no pass).
set -euo pipefail
dir=${1:?usage: tools/mutator_linked_check.sh BUILD_DIR}
[[ -d $dir ]] || { echo "mutator_linked_check: no such directory: $dir" >&2; exit 2; }
mapfile -t bins < <(find "$dir" -type f -perm -u+x \( -name '*sequential_fuzzer*' -o -name '*concurrent_fuzzer*' \) \
  ! -name '*.so' ! -name '*.sh' ! -path '*/CMakeFiles/*' | sort)
if ((${#bins[@]} == 0)); then
  echo "mutator_linked_check: no program fuzzer built under $dir" >&2
  exit 2
fi
missing=0
for b in "${bins[@]}"; do
  syms=$(nm --defined-only "$b" 2>/dev/null || true)
  for hook in LLVMFuzzerCustomMutator LLVMFuzzerCustomCrossOver; do
    if ! grep -q " T $hook\$" <<<"$syms"; then
      echo "mutator_linked_check: $b does not define $hook (declare it with nf_program_fuzzer)"
      missing=$((missing + 1))
    fi
  done
done
if ((missing > 0)); then exit 1; fi
echo "mutator_linked_check: ${#bins[@]} program fuzzers, each with the structure-aware mutator"
