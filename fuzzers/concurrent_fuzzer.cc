// fuzzers/concurrent_fuzzer.cc: decode an op program and run its threads at the
// same time under the deterministic scheduler, steered by its schedule bytes
// (fuzzers/executors/concurrent.h has how; concurrent_world.h what is checked).
#include <cstddef>
#include <cstdint>

#include "fuzzers/program/codec.h"
#include "fuzzers/program/mutator.h"
#include "fuzzers/executors/concurrent.h"
#include "harness/driver.h"

// The driver-model mutants of the catalogue (docs/bugs.md): a twin built with
// NF_MUTANT_<name> (mutants/CMakeLists.txt, and the kernel fuzzers' twins in
// fuzzers/CMakeLists.txt) switches its driver bug on before the first input.
#if defined(NF_MUTANT_read_begin_under_user_lock)
[[maybe_unused]] static const bool kDriverBugOn =
    (nf::harness::FuzzingOnlyDriverBugs().read_begin_under_user_lock = true);
#endif

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  nf::fuzz::RunConcurrent(nf::fuzz::Decode({data, size}));
  return 0;
}

// The structure-aware mutator's hooks (fuzzers/program/mutator.h) mutate ops and the schedule.
nf::fuzz::MutatorTarget nf::fuzz::ProgramMutatorTarget() { return MutatorTarget::kConcurrent; }
