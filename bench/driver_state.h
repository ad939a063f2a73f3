// bench/driver_state.h: what every benchmarked design shares: the address layout
// of the subscriptions, the per-subscription state of the driver being modelled,
// and the one piece of work every invalidation callback does.
//
// Layout: subscription i covers one page at SubStart(i) = 2 * i pages, so the page
// after each subscription is a gap. A range can then cover exactly k consecutive
// subscriptions (k >= 1), or none at all while sitting in the middle of them
// (k = 0), which is the case the interval tree has to reject quickly.
#ifndef NF_BENCH_DRIVER_STATE_H_
#define NF_BENCH_DRIVER_STATE_H_

#include <cstddef>
#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "sync/sync.h"

namespace nf::bench {

inline constexpr uint64_t kPage = 4096;

inline uint64_t SubStart(size_t i) { return 2 * kPage * i; }
inline uint64_t SubLast(size_t i) { return SubStart(i) + kPage - 1; }

// A half-open address range [start, end).
struct Span {
  uint64_t start;
  uint64_t end;
  uint64_t last() const { return end - 1; }
};

// The range covering exactly subscriptions first .. first + k - 1; for k == 0, the
// gap page right after subscription `first`, which covers none.
inline Span CoverK(size_t first, size_t k) {
  if (k == 0) return {SubStart(first) + kPage, SubStart(first) + 2 * kPage};
  return {SubStart(first), SubLast(first + k - 1) + 1};
}

// Where the benchmarked range starts for n subscriptions and k overlaps: the
// middle of the space, so that no design is helped by hitting an end.
inline size_t FirstCovered(size_t n, size_t k) {
  size_t first = n / 2;
  if (first + k > n) first = n - k;
  return first;
}

// The driver's per-subscription state: its user lock and the value the callback
// records. The baselines store their invalidation counter in `seq`; the notifier
// core's callback calls IntervalSubscription::SetSeq instead (a store of the same
// kind, sequentially consistent, into the subscription).
struct DriverState {
  sync::Mutex user_lock;
  sync::Atomic<uint64_t> seq{0};
};

// Callbacks run so far, by every design. Incremented by the callbacks of the
// single-threaded benchmarks only (a plain counter: it is not synchronized), so a
// benchmark can check that its range really covers k subscriptions.
extern uint64_t g_callbacks;

// The callback body of the baselines: take the user lock, record, unlock. Out of
// line, so every design pays one call per callback, as the core's indirect call.
void MarkInvalidated(DriverState* d, uint64_t seq);

}  // namespace nf::bench

#endif  // NF_BENCH_DRIVER_STATE_H_
