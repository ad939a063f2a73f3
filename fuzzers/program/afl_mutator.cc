// fuzzers/program/afl_mutator.cc: the structure-aware mutator (mutator.h) for
// AFL++, through its custom-mutator interface (AFL_CUSTOM_MUTATOR_LIBRARY).
//
// AFL++ loads a shared library and calls, by name:
//   afl_custom_init(afl, seed)          once: our state, seeded by AFL++'s seed
//   afl_custom_fuzz(state, buf, size, &out, add_buf, add_size, max_size)
//                                       one mutation of buf (or, one time in
//                                       kCrossOverOneIn when AFL++ passes a second
//                                       corpus entry, a crossover with it); the
//                                       result stays in our buffer until the next
//                                       call
//   afl_custom_deinit(state)
// The same mutations as libFuzzer's LLVMFuzzerCustomMutator/CustomCrossOver
// (CustomMutate, CustomCrossOver), so both engines search programs, not bytes.
// AFL++ keeps its own havoc stage beside it (AFL_CUSTOM_MUTATOR_ONLY unset), which
// plays the part of libFuzzer's byte-level mutations.
//
// One library per fuzzer: NF_AFL_MUTATOR_CONCURRENT set to 1 (the concurrent
// fuzzer: schedule mutations too) or 0 (the sequential one). Built by
// tools/afl_fuzz.sh without AFL++'s instrumentation (the library runs inside
// afl-fuzz, which has no coverage map), position-independent.
//
// Deterministic: the n-th call's output is a function of the input bytes, the
// seed AFL++ passed and n. Nothing is printed.
#include <cstddef>
#include <cstdint>
#include <new>
#include <vector>

#include "fuzzers/program/mutator.h"

#ifndef NF_AFL_MUTATOR_CONCURRENT
#error "define NF_AFL_MUTATOR_CONCURRENT to 1 (concurrent fuzzer) or 0 (sequential)"
#endif

namespace {

constexpr nf::fuzz::MutatorTarget kTarget = NF_AFL_MUTATOR_CONCURRENT
                                                ? nf::fuzz::MutatorTarget::kConcurrent
                                                : nf::fuzz::MutatorTarget::kSequential;
// One call in this many crosses over with AFL++'s second input, when it gives one.
constexpr unsigned kCrossOverOneIn = 8;

struct State {
  unsigned seed = 0;
  unsigned calls = 0;
  std::vector<uint8_t> out;
};

}  // namespace

nf::fuzz::MutatorTarget nf::fuzz::ProgramMutatorTarget() { return kTarget; }

extern "C" {

void* afl_custom_init(void* /*afl*/, unsigned int seed) {
  State* s = new (std::nothrow) State;
  if (s != nullptr) s->seed = seed;
  return s;
}

size_t afl_custom_fuzz(void* data, uint8_t* buf, size_t buf_size, uint8_t** out_buf,
                       uint8_t* add_buf, size_t add_buf_size, size_t max_size) {
  auto* s = static_cast<State*>(data);
  const unsigned seed = s->seed + 0x9e3779b9u * ++s->calls;
  if (max_size == 0) {
    *out_buf = buf;
    return 0;
  }
  s->out.assign(max_size, 0);
  size_t n = 0;
  if (add_buf != nullptr && add_buf_size > 0 && seed % kCrossOverOneIn == 0) {
    n = nf::fuzz::CustomCrossOver(kTarget, buf, buf_size, add_buf, add_buf_size, s->out.data(),
                                  max_size, seed);
  }
  if (n == 0) {
    const size_t size = buf_size < max_size ? buf_size : max_size;
    for (size_t i = 0; i < size; ++i) s->out[i] = buf[i];
    n = nf::fuzz::CustomMutate(kTarget, s->out.data(), size, max_size, seed);
  }
  *out_buf = s->out.data();
  return n;
}

void afl_custom_deinit(void* data) { delete static_cast<State*>(data); }

}  // extern "C"
