// fuzzers/tools/tsan_replay.cc: replays op programs (the concurrent fuzzer's inputs,
// or any other op program) on OS threads, on the real-thread core (threaded.h).
// Built in every preset; meaningful under TSan, where a data race in the core or
// the world is a report (TSAN_OPTIONS=halt_on_error=1 makes it fatal).
//
//   tsan_replay FILE_OR_DIR...   (fuzzers/tools/replay_main.cc: each file once)
#include <cstddef>
#include <cstdint>

#include "fuzzers/program/codec.h"
#include "fuzzers/executors/threaded.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  nf::fuzz::RunThreaded(nf::fuzz::Decode({data, size}));
  return 0;
}
