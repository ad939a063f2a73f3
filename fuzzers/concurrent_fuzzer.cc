// fuzzers/concurrent_fuzzer.cc: decode an op program and run its threads at the
// same time under the deterministic scheduler, steered by its schedule bytes
// (fuzzers/concurrent.h has how; concurrent_world.h what is checked).
#include <cstddef>
#include <cstdint>

#include "fuzzers/program/codec.h"
#include "fuzzers/program/mutator.h"
#include "fuzzers/executors/concurrent.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  nf::fuzz::RunConcurrent(nf::fuzz::Decode({data, size}));
  return 0;
}

// The structure-aware mutator (ops and schedule); NF_MUTATOR=0 turns it off
// (fuzzers/program/mutator.h).
extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size,
                                          unsigned int seed) {
  return nf::fuzz::CustomMutate(nf::fuzz::MutatorTarget::kConcurrent, data, size, max_size, seed);
}

extern "C" size_t LLVMFuzzerCustomCrossOver(const uint8_t* data1, size_t size1,
                                            const uint8_t* data2, size_t size2, uint8_t* out,
                                            size_t max_out_size, unsigned int seed) {
  return nf::fuzz::CustomCrossOver(nf::fuzz::MutatorTarget::kConcurrent, data1, size1, data2, size2,
                                   out, max_out_size, seed);
}
