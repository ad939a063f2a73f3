// bench/variants.h: the five designs behind one interface, each holding n
// subscriptions laid out as driver_state.h says.
//
//   nf            the core: one AddressSpace, n IntervalSubscriptions
//   list          baseline (a), list_notifier.h
//   multimap      baseline (b), multimap_notifier.h
//   drivertree64  baseline (c), driver_tree_notifier.h, one driver per 64 subscriptions
//   tree1         baseline (c) with a single driver: one interval tree behind one lock
//
// Every variant V has:
//   static constexpr const char* kName;
//   explicit V(size_t n);           builds n subscriptions (slow for n = 1e6)
//   void Invalidate(Span r);        one invalidate start + end over r
//   bool InsertRemoveSpare();       inserts one more subscription (in a gap) and
//                                   removes it again; false on an error
//
// Building 1e6 subscriptions takes a while, so a benchmark asks Cached<V>(n), which
// keeps the last variant built for each V and rebuilds only when n changes: the
// benchmarks are registered grouped by n.
#ifndef NF_BENCH_VARIANTS_H_
#define NF_BENCH_VARIANTS_H_

#include <cstddef>
#include <memory>

#include "bench/driver_state.h"
#include "bench/driver_tree_notifier.h"
#include "bench/list_notifier.h"
#include "bench/multimap_notifier.h"
#include "core/notifier.h"

namespace nf::bench {

// The notifier core. The callback does what the baselines' MarkInvalidated does,
// with SetSeq as the store.
class NfVariant {
 public:
  static constexpr const char* kName = "nf";
  explicit NfVariant(size_t n);
  ~NfVariant();
  size_t size() const { return n_; }
  void Invalidate(Span r);
  bool InsertRemoveSpare();

 private:
  struct Entry : IntervalSubscription {
    DriverState driver;
  };
  static bool Callback(IntervalSubscription* sub, const Range& range, Seq cur_seq);
  static const IntervalOps kOps;

  const size_t n_;
  AddressSpace* const space_;
  std::unique_ptr<Entry[]> entries_;
  Entry spare_;
};

class ListVariant {
 public:
  static constexpr const char* kName = "list";
  explicit ListVariant(size_t n);
  ~ListVariant();
  size_t size() const { return n_; }
  void Invalidate(Span r) {
    notifier_.InvalidateStart(r.start, r.last());
    notifier_.InvalidateEnd();
  }
  bool InsertRemoveSpare();

 private:
  const size_t n_;
  ListNotifier notifier_;
  std::unique_ptr<ListNotifier::Entry[]> entries_;
  ListNotifier::Entry spare_;
};

class MultimapVariant {
 public:
  static constexpr const char* kName = "multimap";
  explicit MultimapVariant(size_t n);
  ~MultimapVariant();
  size_t size() const { return n_; }
  void Invalidate(Span r) {
    notifier_.InvalidateStart(r.start, r.last());
    notifier_.InvalidateEnd();
  }
  bool InsertRemoveSpare();

 private:
  const size_t n_;
  MultimapNotifier notifier_;
  std::unique_ptr<MultimapNotifier::Entry[]> entries_;
  MultimapNotifier::Entry spare_;
};

// kGroupSize subscriptions per driver (consecutive addresses); 0: one driver.
template <size_t kGroupSize>
class DriverTreeVariant {
 public:
  static constexpr const char* kName = kGroupSize == 0 ? "tree1" : "drivertree64";
  static_assert(kGroupSize == 0 || kGroupSize == 64, "name the new group size");

  explicit DriverTreeVariant(size_t n)
      : n_(n),
        notifier_(kGroupSize == 0 ? 1 : (n + kGroupSize - 1) / kGroupSize),
        entries_(std::make_unique<DriverTreeNotifier::Entry[]>(n)) {
    for (size_t i = 0; i < n; ++i) {
      notifier_.Insert(&entries_[i], GroupOf(i), SubStart(i), SubLast(i));
    }
  }
  ~DriverTreeVariant() {
    for (size_t i = 0; i < n_; ++i) notifier_.Remove(&entries_[i], GroupOf(i));
  }
  size_t size() const { return n_; }
  void Invalidate(Span r) {
    notifier_.InvalidateStart(r.start, r.last());
    notifier_.InvalidateEnd();
  }
  bool InsertRemoveSpare() {
    // Into the gap after the middle subscription, in that subscription's driver.
    const size_t mid = n_ / 2;
    notifier_.Insert(&spare_, GroupOf(mid), SubStart(mid) + kPage, SubLast(mid) + kPage);
    notifier_.Remove(&spare_, GroupOf(mid));
    return true;
  }

 private:
  static size_t GroupOf(size_t i) { return kGroupSize == 0 ? 0 : i / kGroupSize; }

  const size_t n_;
  DriverTreeNotifier notifier_;
  std::unique_ptr<DriverTreeNotifier::Entry[]> entries_;
  DriverTreeNotifier::Entry spare_;
};

template <typename V>
std::unique_ptr<V>& CacheSlot() {
  static std::unique_ptr<V> slot;
  return slot;
}

// The last V built, rebuilt when n changes. Single-threaded use only.
template <typename V>
V& Cached(size_t n) {
  std::unique_ptr<V>& slot = CacheSlot<V>();
  if (slot == nullptr || slot->size() != n) {
    slot.reset();  // free the old one first: at most one V alive
    slot = std::make_unique<V>(n);
  }
  return *slot;
}

// Frees every cached variant (call before exit, while the core can still run).
void ReleaseCachedVariants();

}  // namespace nf::bench

#endif  // NF_BENCH_VARIANTS_H_
