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

// What the baselines share: n entries of Notifier (inserted by the subclass), a
// spare one, and the invalidation (Notifier has InvalidateStart(start, last) and
// InvalidateEnd()).
template <typename Notifier>
class BaselineVariant {
 public:
  size_t size() const { return n_; }
  void Invalidate(Span r) {
    notifier_.InvalidateStart(r.start, r.last());
    notifier_.InvalidateEnd();
  }

 protected:
  using Entry = typename Notifier::Entry;
  template <typename... NotifierArgs>
  explicit BaselineVariant(size_t n, NotifierArgs... notifier_args)
      : n_(n), notifier_(notifier_args...), entries_(std::make_unique<Entry[]>(n)) {}
  // Where InsertRemoveSpare puts the spare: the gap after the middle subscription.
  Span SpareSpan() const { return CoverK(n_ / 2, 0); }

  const size_t n_;
  Notifier notifier_;
  std::unique_ptr<Entry[]> entries_;
  Entry spare_;
};

// A single-lock baseline, (a) or (b): Notifier has Insert(e, start, last) and
// Remove(e).
template <typename Notifier>
class SingleLockVariant : public BaselineVariant<Notifier> {
  using Base = BaselineVariant<Notifier>;
  using Base::entries_;
  using Base::n_;
  using Base::notifier_;
  using Base::spare_;

 public:
  ~SingleLockVariant() {
    for (size_t i = 0; i < n_; ++i) notifier_.Remove(&entries_[i]);
  }
  bool InsertRemoveSpare() {
    const Span spare = this->SpareSpan();
    notifier_.Insert(&spare_, spare.start, spare.last());
    notifier_.Remove(&spare_);
    return true;
  }

 protected:
  enum class Order { kAscending, kDescending };
  SingleLockVariant(size_t n, Order order) : Base(n) {
    if (order == Order::kAscending) {
      for (size_t i = 0; i < n; ++i) notifier_.Insert(&entries_[i], SubStart(i), SubLast(i));
    } else {
      for (size_t i = n; i-- > 0;) notifier_.Insert(&entries_[i], SubStart(i), SubLast(i));
    }
  }
};

class ListVariant : public SingleLockVariant<ListNotifier> {
 public:
  static constexpr const char* kName = "list";
  // Inserted in reverse so that the list, pushed at the head, runs in address order.
  explicit ListVariant(size_t n) : SingleLockVariant(n, Order::kDescending) {}
};

class MultimapVariant : public SingleLockVariant<MultimapNotifier> {
 public:
  static constexpr const char* kName = "multimap";
  explicit MultimapVariant(size_t n) : SingleLockVariant(n, Order::kAscending) {}
};

// kGroupSize subscriptions per driver (consecutive addresses); 0: one driver.
template <size_t kGroupSize>
class DriverTreeVariant : public BaselineVariant<DriverTreeNotifier> {
 public:
  static constexpr const char* kName = kGroupSize == 0 ? "tree1" : "drivertree64";
  static_assert(kGroupSize == 0 || kGroupSize == 64, "name the new group size");

  explicit DriverTreeVariant(size_t n)
      : BaselineVariant(n, kGroupSize == 0 ? 1 : (n + kGroupSize - 1) / kGroupSize) {
    for (size_t i = 0; i < n; ++i) {
      notifier_.Insert(&entries_[i], GroupOf(i), SubStart(i), SubLast(i));
    }
  }
  ~DriverTreeVariant() {
    for (size_t i = 0; i < n_; ++i) notifier_.Remove(&entries_[i], GroupOf(i));
  }
  bool InsertRemoveSpare() {
    // In the middle subscription's driver.
    const size_t group = GroupOf(n_ / 2);
    const Span spare = SpareSpan();
    notifier_.Insert(&spare_, group, spare.start, spare.last());
    notifier_.Remove(&spare_, group);
    return true;
  }

 private:
  static size_t GroupOf(size_t i) { return kGroupSize == 0 ? 0 : i / kGroupSize; }
};

// A list of variants: ForEach(f) calls f.template operator()<V>() for each V, in order.
template <typename... Vs>
struct VariantList {
  template <typename F>
  static void ForEach(F&& f) {
    (f.template operator()<Vs>(), ...);
  }
};

// Every variant, in the order the benchmarks are registered.
using AllVariants = VariantList<NfVariant, ListVariant, MultimapVariant, DriverTreeVariant<64>,
                                DriverTreeVariant<0>>;

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
