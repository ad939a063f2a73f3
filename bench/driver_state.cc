// bench/driver_state.cc: see driver_state.h.
#include "bench/driver_state.h"

namespace nf::bench {

uint64_t g_callbacks = 0;

[[gnu::noinline]] void MarkInvalidated(DriverState* d, uint64_t seq) {
  d->user_lock.Lock();
  d->seq.Store(seq);
  ++g_callbacks;
  d->user_lock.Unlock();
}

}  // namespace nf::bench
