// fuzzers/sequential_fuzzer.cc: decode an op program, run it sequentially on the
// core and on the reference model (fuzzers/executors/sequential.h has what is checked).
#include <cstddef>
#include <cstdint>

#include "fuzzers/program/codec.h"
#include "fuzzers/program/mutator.h"
#include "fuzzers/executors/sequential.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  nf::fuzz::TestOneInput(nf::fuzz::Decode({data, size}));
  return 0;
}

// The structure-aware mutator's hooks (fuzzers/program/mutator.h) mutate ops
// only: this fuzzer ignores schedules.
nf::fuzz::MutatorTarget nf::fuzz::ProgramMutatorTarget() { return MutatorTarget::kSequential; }
