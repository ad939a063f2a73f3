// harness/driver.h: the driver model of docs/contract.md §6, shared by the
// fuzzers' worlds (fuzzers/world/) and the real-thread stress tests
// (tsan_tests/).
//
// Modelled on the kernel's lib/test_hmm.c: a device mirror of part of an
// address space, with its own user lock, filled by faults (read_begin, read the
// page table, lock, read_retry, install) and torn down by the interval
// invalidate callback (lock or try-lock, set_seq, erase, unlock).
//
// The driver is generic over the subscription type Sub, which needs ReadBegin(),
// ReadRetry(seq), SetSeq(cur_seq), start() and last(): a target's handle
// (target::IntervalSub) in the fuzzers, the core's nf::IntervalSubscription in
// the stress tests. It only uses nf::sync types, so it runs unchanged in both
// flavours of the seam.
#ifndef NF_HARNESS_DRIVER_H_
#define NF_HARNESS_DRIVER_H_

#include <algorithm>
#include <array>
#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "harness/geometry.h"
#include "sync/sync.h"

namespace nf::harness {

// FUZZING_ONLY: the driver model's own bugs of the catalogue (docs/bugs.md),
// all off, except in the mutant twins of the concurrent fuzzer built for one
// of them (NF_MUTANT_<name>, fuzzers/concurrent_fuzzer.cc), which switch theirs
// on before the first run and never change it again. The target under the
// driver (nf's core or the kernel's file) is the correct one.
struct DriverBugs {
  // read_begin_under_user_lock: Fault takes the user lock before read_begin
  // instead of after reading the page table, and keeps it to read_retry. A
  // lock-order inversion with the invalidate callback, which takes the same
  // lock while the invalidation holds off read_begin (P11).
  bool read_begin_under_user_lock = false;
};
DriverBugs& FuzzingOnlyDriverBugs();

// The address space's page table (page -> value). Owned by the world; changed
// only between a successful invalidate start and its end, over the range.
// Read without a lock by faults (hence atomics).
class PageTable {
 public:
  PageTable();
  PageTable(const PageTable&) = delete;
  PageTable& operator=(const PageTable&) = delete;

  PageValue Read(int page) const { return pages_[page].Load(std::memory_order_relaxed); }
  // Bumps every page of span by one (an atomic increment per page).
  void Change(PageSpan span);

 private:
  std::array<sync::Atomic<PageValue>, kTablePages> pages_;
};

// One device mirror (§6): a user lock and a mirror (page -> value).
class Driver {
 public:
  Driver() { mirror_.fill(0); }
  Driver(const Driver&) = delete;
  Driver& operator=(const Driver&) = delete;

  // The interval invalidate callback: blockable: lock; non-blockable: try-lock
  // and return false if busy. Then SetSeq(cur_seq), erase the mirror over
  // range ∩ [sub->start(), sub->last()], unlock, return true.
  // FUZZING_ONLY even_seq_first: a buggy driver that first calls SetSeq with an
  // even value (cur_seq - 1), which the contract forbids (the misbehave op).
  template <typename Sub, typename R>
  bool Invalidate(Sub* sub, const R& range, unsigned long cur_seq, bool even_seq_first = false) {
    if (range.blockable) {
      mu_.Lock();
    } else {
      if (held_by_op_.Load()) return false;  // busy: see HoldLock
      if (!mu_.TryLock()) return false;
    }
    if (even_seq_first) sub->SetSeq(cur_seq - 1);
    sub->SetSeq(cur_seq);
    Erase(PagesOfRange(range), PagesOf(sub->start(), sub->last()));
    mu_.Unlock();
    return true;
  }

  // The fault loop: read_begin; read the page table over `pages` ∩ the
  // subscription (no lock); lock; read_retry? unlock and loop : install, unlock.
  // At most kMaxFaultAttempts rounds. Returns the number of rounds, negated if
  // the last one still had to retry (nothing installed).
  template <typename Sub>
  int Fault(Sub* sub, const PageTable& pt, PageSpan pages) {
    const PageSpan s = PagesOf(sub->start(), sub->last());
    const int first = std::max(pages.first, s.first);
    const int end = std::min(pages.end, s.end);
    std::array<PageValue, kTablePages> values;
    const bool locked_read_begin = FuzzingOnlyDriverBugs().read_begin_under_user_lock;
    auto read_pages = [&] {
      for (int p = first; p < end; ++p) values[p] = pt.Read(p);
    };
    for (int attempt = 1; attempt <= kMaxFaultAttempts; ++attempt) {
      decltype(sub->ReadBegin()) seq;
      if (locked_read_begin) {
        mu_.Lock();  // the mutant's bug: the user lock held around read_begin
        seq = sub->ReadBegin();
        read_pages();
      } else {
        seq = sub->ReadBegin();
        read_pages();
        mu_.Lock();
      }
      if (sub->ReadRetry(seq)) {
        mu_.Unlock();
        continue;
      }
      Install(first, end, values);
      mu_.Unlock();
      return attempt;
    }
    return -kMaxFaultAttempts;
  }

  // read_retry under the user lock (taken here unless an op of the calling
  // logical thread already holds it, see HoldLock).
  template <typename Sub>
  bool ReadRetry(Sub* sub, unsigned long seq, bool caller_holds_lock) {
    if (caller_holds_lock) return sub->ReadRetry(seq);
    sync::MutexLock l(&mu_);
    return sub->ReadRetry(seq);
  }

  // The `lock`/`unlock` ops: hold the user lock across ops, as a fault stuck
  // between its lock and unlock would. While held this way a non-blocking
  // callback fails without calling TryLock, which would be undefined for a
  // std::mutex the calling OS thread owns (the sequential fuzzer runs every
  // logical thread on one OS thread).
  void HoldLock();
  void DropLock();

  // The driver stops mirroring (after its subscription was removed), under its
  // user lock (taken here unless the caller holds it through HoldLock).
  void ClearMirror(bool caller_holds_lock);

  // For oracles, when no other thread runs: the mirror's entry for a page.
  PageValue MirrorForTesting(int page) const ABSL_NO_THREAD_SAFETY_ANALYSIS {
    return mirror_[page];
  }
  const std::array<PageValue, kTablePages>& MirrorArrayForTesting() const
      ABSL_NO_THREAD_SAFETY_ANALYSIS {
    return mirror_;
  }

 private:
  void Erase(PageSpan r, PageSpan s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    for (int p = std::max(r.first, s.first); p < std::min(r.end, s.end); ++p) mirror_[p] = 0;
  }
  void Install(int first, int end, const std::array<PageValue, kTablePages>& values)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    for (int p = first; p < end; ++p) mirror_[p] = values[p];
  }

  mutable sync::Mutex mu_{"driver.user_lock"};  // the lock class (lock_order.h)
  std::array<PageValue, kTablePages> mirror_ ABSL_GUARDED_BY(mu_);
  sync::Atomic<bool> held_by_op_{false};  // written with mu_ held, read without
};

}  // namespace nf::harness

#endif  // NF_HARNESS_DRIVER_H_
