// bench/list_notifier.h: baseline (a), a linked list scanned on every invalidation.
//
// The design several drivers had before the interval notifier (hmm's list of
// ranges, gntdev's list of maps): the driver registers one classic notifier, keeps
// its mirrored ranges on a list under one lock, and every invalidation of the
// address space walks the whole list, under that lock, to find the ranges it
// overlaps. Cost: O(n) per invalidation, whatever k is.
//
// Deliberately minimal and in its best case: the entries are intrusive (no
// allocation), and the benchmark allocates them contiguously, so the scan is a
// prefetch-friendly walk through memory rather than a chase across the heap.
#ifndef NF_BENCH_LIST_NOTIFIER_H_
#define NF_BENCH_LIST_NOTIFIER_H_

#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "bench/driver_state.h"
#include "sync/sync.h"

namespace nf::bench {

class ListNotifier {
 public:
  struct Entry {
    // Owned by the notifier, guarded by its lock while inserted.
    uint64_t start = 0;
    uint64_t last = 0;  // closed interval [start, last]
    Entry* prev = nullptr;
    Entry* next = nullptr;
    DriverState driver;
  };

  void Insert(Entry* e, uint64_t start, uint64_t last) {
    sync::MutexLock l(&mu_);
    e->start = start;
    e->last = last;
    e->prev = nullptr;
    e->next = head_;
    if (head_ != nullptr) head_->prev = e;
    head_ = e;
  }

  void Remove(Entry* e) {
    sync::MutexLock l(&mu_);
    if (e->prev != nullptr) {
      e->prev->next = e->next;
    } else {
      head_ = e->next;
    }
    if (e->next != nullptr) e->next->prev = e->prev;
    e->prev = e->next = nullptr;
  }

  // invalidate_range_start: every entry overlapping [start, last] gets its
  // callback, under the list lock.
  void InvalidateStart(uint64_t start, uint64_t last) {
    sync::MutexLock l(&mu_);
    ++active_;
    const uint64_t seq = ++invalidations_;
    for (Entry* e = head_; e != nullptr; e = e->next) {
      if (e->start <= last && start <= e->last) MarkInvalidated(&e->driver, seq);
    }
  }

  // invalidate_range_end: the driver's bookkeeping of running invalidations.
  void InvalidateEnd() {
    sync::MutexLock l(&mu_);
    --active_;
  }

 private:
  sync::Mutex mu_;
  Entry* head_ ABSL_GUARDED_BY(mu_) = nullptr;
  uint64_t invalidations_ ABSL_GUARDED_BY(mu_) = 0;
  long active_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace nf::bench

#endif  // NF_BENCH_LIST_NOTIFIER_H_
