// fuzzers/sequential_fuzzer.cc: decode an op program, run it sequentially on the
// core and on the reference model (fuzzers/sequential.h has what is checked).
#include <cstddef>
#include <cstdint>

#include "fuzzers/program/codec.h"
#include "fuzzers/executors/sequential.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  nf::fuzz::TestOneInput(nf::fuzz::Decode({data, size}));
  return 0;
}
