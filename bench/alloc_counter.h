// bench/alloc_counter.h: counts heap allocations made through the global
// operator new, which alloc_counter.cc replaces for the whole nf_bench binary.
//
// Counting is off except between Start() and Stop(); the count covers every
// thread, so measure with no other thread allocating. Bytes are the sizes asked
// of operator new (malloc's own rounding and headers are not included).
#ifndef NF_BENCH_ALLOC_COUNTER_H_
#define NF_BENCH_ALLOC_COUNTER_H_

#include <cstdint>

namespace nf::bench {

struct AllocCount {
  uint64_t allocations = 0;
  uint64_t bytes = 0;
};

class AllocCounter {
 public:
  // Resets the count and starts counting.
  static void Start();
  // Stops counting and returns what was counted since Start().
  static AllocCount Stop();
};

}  // namespace nf::bench

#endif  // NF_BENCH_ALLOC_COUNTER_H_
