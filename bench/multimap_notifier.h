// bench/multimap_notifier.h: baseline (b), a std::multimap keyed by start, under
// one mutex.
//
// The design of a driver that keeps its ranges in an ordered container (a plain
// rb-tree keyed by start, without the interval tree's per-node "largest last")
// behind its own lock. Without that augmentation a start-ordered map bounds an
// overlap search on one side only; this baseline bounds the other side with the
// longest interval ever inserted: anything overlapping [start, last] starts in
// [start - max_span, last]. With the benchmark's one-page subscriptions that is
// O(log n + k), the best such a design can do; a single long range would make it
// O(n).
//
// Costs the interval tree does not have: one heap node per subscription (the map
// allocates), and the map's own iterator kept in the entry for O(1) removal.
#ifndef NF_BENCH_MULTIMAP_NOTIFIER_H_
#define NF_BENCH_MULTIMAP_NOTIFIER_H_

#include <algorithm>
#include <cstdint>
#include <map>

#include "absl/base/thread_annotations.h"
#include "bench/driver_state.h"
#include "sync/sync.h"

namespace nf::bench {

class MultimapNotifier {
 public:
  struct Entry;
  using Map = std::multimap<uint64_t, Entry*>;
  struct Entry {
    // Owned by the notifier, guarded by its lock while inserted.
    uint64_t last = 0;  // closed interval [pos->first, last]
    Map::iterator pos;
    DriverState driver;
  };

  void Insert(Entry* e, uint64_t start, uint64_t last) {
    sync::MutexLock l(&mu_);
    e->last = last;
    e->pos = map_.emplace(start, e);
    max_span_ = std::max(max_span_, last - start);
  }

  void Remove(Entry* e) {
    sync::MutexLock l(&mu_);
    map_.erase(e->pos);
  }

  void InvalidateStart(uint64_t start, uint64_t last) {
    sync::MutexLock l(&mu_);
    ++active_;
    const uint64_t seq = ++invalidations_;
    const uint64_t lowest = start > max_span_ ? start - max_span_ : 0;
    for (auto it = map_.lower_bound(lowest); it != map_.end() && it->first <= last; ++it) {
      if (start <= it->second->last) MarkInvalidated(&it->second->driver, seq);
    }
  }

  void InvalidateEnd() {
    sync::MutexLock l(&mu_);
    --active_;
  }

 private:
  sync::Mutex mu_;
  Map map_ ABSL_GUARDED_BY(mu_);
  uint64_t max_span_ ABSL_GUARDED_BY(mu_) = 0;  // largest last - start ever inserted
  uint64_t invalidations_ ABSL_GUARDED_BY(mu_) = 0;
  long active_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace nf::bench

#endif  // NF_BENCH_MULTIMAP_NOTIFIER_H_
