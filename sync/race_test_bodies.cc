// sync/race_test_bodies.cc: see race_test_bodies.h. Out of line on purpose:
// each access is one __sanitizer_cov_load4/store4 callback.
#include "sync/race_test_bodies.h"

#include "sync/sync.h"

namespace nf::sched::testing {

__attribute__((noinline)) void InstrumentedWrite(int* p, int v) { *p = v; }
__attribute__((noinline)) int InstrumentedRead(const int* p) { return *p; }

int& InstrumentedThreadLocal() {
  static const sync::ThreadLocal<int> tl;
  return tl.Get();
}

}  // namespace nf::sched::testing
