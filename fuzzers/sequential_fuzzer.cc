// fuzzers/sequential_fuzzer.cc: decode an op program, run it sequentially on the
// core and on the reference model (fuzzers/sequential.h has what is checked).
#include <cstddef>
#include <cstdint>

#include "fuzzers/program/codec.h"
#include "fuzzers/program/mutator.h"
#include "fuzzers/executors/sequential.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  nf::fuzz::TestOneInput(nf::fuzz::Decode({data, size}));
  return 0;
}

// The structure-aware mutator (schedule bytes untouched: this fuzzer ignores them); NF_MUTATOR=0 turns it off
// (fuzzers/program/mutator.h).
extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size,
                                          unsigned int seed) {
  return nf::fuzz::CustomMutate(nf::fuzz::MutatorTarget::kSequential, data, size, max_size, seed);
}

extern "C" size_t LLVMFuzzerCustomCrossOver(const uint8_t* data1, size_t size1,
                                            const uint8_t* data2, size_t size2, uint8_t* out,
                                            size_t max_out_size, unsigned int seed) {
  return nf::fuzz::CustomCrossOver(nf::fuzz::MutatorTarget::kSequential, data1, size1, data2, size2,
                                   out, max_out_size, seed);
}
