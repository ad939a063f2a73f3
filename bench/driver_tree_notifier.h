// bench/driver_tree_notifier.h: baseline (c), one interval tree and one lock per
// driver.
//
// The design the series replaced in the drivers that already had an interval
// tree (amdgpu, radeon, i915 userptr, RDMA ODP): each driver (here: each group of
// subscriptions) registers its own classic notifier and keeps its own interval
// tree under its own lock. An invalidation of the address space calls every
// driver's notifier, and each takes its lock and queries its tree, whether or not
// anything of it overlaps: O(groups * log(n / groups) + k).
//
// With one group this is exactly "an interval tree behind a mutex", the cheapest
// thing the core could be compared with; with many groups it shows what the
// per-driver trees cost together. The tree is the core's own
// (nf::internal::IntervalTree), so the comparison is of the designs, not of tree
// implementations. The groups live in an array, cheaper to walk than the hlist of
// notifiers the kernel walked under SRCU: the baseline's best case.
#ifndef NF_BENCH_DRIVER_TREE_NOTIFIER_H_
#define NF_BENCH_DRIVER_TREE_NOTIFIER_H_

#include <cstddef>
#include <cstdint>
#include <memory>

#include "absl/base/thread_annotations.h"
#include "bench/driver_state.h"
#include "core/interval_tree.h"
#include "sync/sync.h"

namespace nf::bench {

class DriverTreeNotifier {
 public:
  struct Entry : internal::IntervalNode {
    DriverState driver;
  };

  explicit DriverTreeNotifier(size_t groups)
      : num_groups_(groups), groups_(std::make_unique<Group[]>(groups)) {}

  size_t num_groups() const { return num_groups_; }

  void Insert(Entry* e, size_t group, uint64_t start, uint64_t last) {
    Group& g = groups_[group];
    sync::MutexLock l(&g.mu);
    e->start = start;
    e->last = last;
    g.tree.Insert(e);
  }

  void Remove(Entry* e, size_t group) {
    Group& g = groups_[group];
    sync::MutexLock l(&g.mu);
    g.tree.Remove(e);
  }

  // Every driver's invalidate_range_start: lock, query, call, unlock.
  void InvalidateStart(uint64_t start, uint64_t last) {
    for (size_t i = 0; i < num_groups_; ++i) {
      Group& g = groups_[i];
      sync::MutexLock l(&g.mu);
      ++g.active;
      const uint64_t seq = ++g.invalidations;
      for (internal::IntervalNode* n = g.tree.FirstOverlap(start, last); n != nullptr;
           n = internal::IntervalTree::NextOverlap(n, start, last)) {
        MarkInvalidated(&static_cast<Entry*>(n)->driver, seq);
      }
    }
  }

  // Every driver's invalidate_range_end.
  void InvalidateEnd() {
    for (size_t i = 0; i < num_groups_; ++i) {
      Group& g = groups_[i];
      sync::MutexLock l(&g.mu);
      --g.active;
    }
  }

 private:
  struct Group {
    sync::Mutex mu;
    internal::IntervalTree tree ABSL_GUARDED_BY(mu);
    uint64_t invalidations ABSL_GUARDED_BY(mu) = 0;
    long active ABSL_GUARDED_BY(mu) = 0;
  };

  const size_t num_groups_;
  const std::unique_ptr<Group[]> groups_;
};

}  // namespace nf::bench

#endif  // NF_BENCH_DRIVER_TREE_NOTIFIER_H_
