// kernel/kernel_smoke_test.cc: the real mm/mmu_notifier.c through nf_kernel.h,
// single-threaded, on real threads. Each test pins a clause of
// docs/contract.md; linked against a mutant's library (target
// kernel_smoke_test_mut_<name>) the test named in its comment fails.
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "kernel/nf_kernel.h"

namespace {

constexpr unsigned long kPage = 0x1000;

// A snapshot with room for the tree and the classic list.
struct FullSnapshot {
  explicit FullSnapshot(nfk_mm* mm) {
    s.tree = tree;
    s.tree_cap = 8;
    s.classic = classic;
    s.classic_cap = 8;
    nfk_snapshot_take(mm, &s);
  }
  FullSnapshot(const FullSnapshot&) = delete;
  FullSnapshot& operator=(const FullSnapshot&) = delete;
  nfk_snapshot s{};
  nfk_tree_entry tree[8];
  nfk_classic_entry classic[8];
};

struct Call {
  nfk_interval* sub;
  nfk_range range;
  unsigned long cur_seq;
  unsigned long global_seq;  // the mm's invalidate_seq while the callback ran
  unsigned long sub_seq;     // the subscription's seq on entry, before set_seq
};

// The driver of every interval subscription below: records each call, calls
// set_seq like a driver (lib/test_hmm.c), and fails non-blockable ranges when
// told to (a driver whose lock is busy).
struct Driver {
  nfk_mm* mm = nullptr;
  bool fail_nonblock = false;
  std::vector<Call> calls;

  static bool Invalidate(void* cookie, nfk_interval* sub, const nfk_range* range,
                         unsigned long cur_seq) {
    auto* d = static_cast<Driver*>(cookie);
    const FullSnapshot snap(d->mm);
    unsigned long sub_seq = 0;
    for (size_t i = 0; i < snap.s.num_tree && i < 8; ++i) {
      if (snap.tree[i].sub == sub) sub_seq = snap.tree[i].seq;
    }
    d->calls.push_back({sub, *range, cur_seq, snap.s.invalidate_seq, sub_seq});
    if (d->fail_nonblock && !range->blockable) return false;
    nfk_interval_set_seq(sub, cur_seq);
    return true;
  }
  int CallsTo(nfk_interval* sub, int event) const {
    int n = 0;
    for (const Call& c : calls) n += c.sub == sub && c.range.event == event;
    return n;
  }
};

// A classic subscriber's counters (the cookie of its ops).
struct Classic {
  int releases = 0, starts = 0, ends = 0, frees = 0;
  bool fail_nonblock = false;
  bool fail_always = false;  // a driver bug: fails blockable ranges too
  bool put_self_on_release = false;
  nfk_classic* self = nullptr;
  nfk_mm* mm = nullptr;
  size_t pending_after_put = 0;  // put_self_on_release: pending frees seen after the put
  int frees_after_put = 0;

  static void Release(void* cookie, nfk_classic* sub) {
    auto* c = static_cast<Classic*>(cookie);
    ++c->releases;
    if (c->put_self_on_release) {
      nfk_classic_put(sub);
      nfk_snapshot s{};
      nfk_snapshot_take(c->mm, &s);
      c->pending_after_put = s.num_pending_frees;
      c->frees_after_put = c->frees;
    }
  }
  static int Start(void* cookie, nfk_classic*, const nfk_range* range) {
    auto* c = static_cast<Classic*>(cookie);
    ++c->starts;
    return c->fail_always || (c->fail_nonblock && !range->blockable) ? -EAGAIN : 0;
  }
  static void End(void* cookie, nfk_classic*, const nfk_range*) { ++static_cast<Classic*>(cookie)->ends; }
  static void Free(void* cookie, nfk_classic*) { ++static_cast<Classic*>(cookie)->frees; }
};

// Callbacks with these four methods and none of the others.
nfk_classic_callbacks Callbacks(void (*release)(void*, nfk_classic*),
                                int (*start)(void*, nfk_classic*, const nfk_range*),
                                void (*end)(void*, nfk_classic*, const nfk_range*),
                                void (*free_notifier)(void*, nfk_classic*)) {
  nfk_classic_callbacks cb{};
  cb.release = release;
  cb.invalidate_range_start = start;
  cb.invalidate_range_end = end;
  cb.free_notifier = free_notifier;
  return cb;
}

nfk_snapshot Snapshot(nfk_mm* mm) {
  nfk_snapshot s{};
  nfk_snapshot_take(mm, &s);
  return s;
}

int Invalidate(nfk_mm* mm, unsigned long start, unsigned long end, bool blockable,
               int event = NFK_EVENT_UNMAP) {
  const nfk_range r{start, end, blockable, event, nullptr};
  nfk_invalidation* inv = nullptr;
  const int ret = nfk_invalidate_start(mm, &r, &inv);
  if (ret == 0) nfk_invalidate_end(inv);
  return ret;
}

std::vector<nfk_report> Reports() {
  std::vector<nfk_report> out(nfk_reports(nullptr, 0));
  nfk_reports(out.data(), out.size());
  return out;
}

class KernelSmoke : public ::testing::Test {
 protected:
  void SetUp() override {
    nfk_reports_clear();
    driver_.mm = mm_ = nfk_mm_create(0);
  }
  void TearDown() override {
    if (HasFailure() && Snapshot(mm_).active_invalidate_ranges != 0) {
      // An epoch left open (eagain_leaks_epoch): remove would wait forever.
      // Leak the mm and its subscriptions rather than hang.
      ADD_FAILURE() << "invalidations still active at the end: leaking the mm";
      return;
    }
    UnregisterClassics();
    for (nfk_interval* s : inserted_) nfk_interval_remove(s);
    EXPECT_EQ(nfk_mm_destroy(mm_), 0) << "something still holds the mm";
    for (nfk_interval* s : subs_) nfk_interval_free(s);
  }
  unsigned long FailNonblockingStartOverASubscription(Classic* failing);

  nfk_interval* Insert(unsigned long start, unsigned long length) {
    nfk_interval* s = nfk_interval_alloc(&Driver::Invalidate, &driver_);
    subs_.push_back(s);
    EXPECT_EQ(nfk_interval_insert(mm_, s, start, length), 0);
    inserted_.push_back(s);
    return s;
  }
  void Remove(nfk_interval* s) {
    nfk_interval_remove(s);
    std::erase(inserted_, s);
  }
  // Registers a classic subscriber counting into c, with a start (and an end
  // when with_end); TearDown unregisters and frees it.
  nfk_classic* RegisterClassic(Classic* c, bool with_end) {
    const nfk_classic_callbacks cb =
        Callbacks(nullptr, &Classic::Start, with_end ? &Classic::End : nullptr, nullptr);
    nfk_ops* ops = nfk_ops_create(&cb, c);
    nfk_classic* sub = nfk_classic_alloc(ops);
    EXPECT_EQ(nfk_classic_register(mm_, sub), 0);
    classics_.push_back({sub, ops});
    return sub;
  }
  void UnregisterClassics() {
    for (auto [sub, ops] : classics_) {
      nfk_classic_unregister(mm_, sub);
      nfk_classic_free(sub);
      nfk_ops_destroy(ops);
    }
    classics_.clear();
  }

  nfk_mm* mm_ = nullptr;
  Driver driver_;
  std::vector<nfk_interval*> subs_, inserted_;
  std::vector<std::pair<nfk_classic*, nfk_ops*>> classics_;
};

// NF_KERNEL_EXPECT_VERSION: the version this binary is built for ("6.1.",
// "6.12."; kernel/CMakeLists.txt), so that a library of another is noticed.
#ifndef NF_KERNEL_EXPECT_VERSION
#define NF_KERNEL_EXPECT_VERSION "6.1."
#endif
TEST_F(KernelSmoke, VersionIsRecorded) {
  EXPECT_EQ(std::string(nfk_kernel_version()).rfind(NF_KERNEL_EXPECT_VERSION, 0), 0u)
      << nfk_kernel_version();
}

// §3: one walk, only the overlapping subscription, once, with one odd cur_seq
// equal to the global seq; the end makes it even. (Mutant set_seq_outside_lock:
// the subscription already holds cur_seq when the driver is called.)
TEST_F(KernelSmoke, InvalidateCallsExactlyTheOverlappingSubscription) {
  nfk_interval* a = Insert(0x0, kPage);
  nfk_interval* b = Insert(0x10 * kPage, kPage);
  const nfk_snapshot before = Snapshot(mm_);
  EXPECT_TRUE(before.has_itree);
  EXPECT_EQ(before.invalidate_seq, 2u);
  EXPECT_EQ(before.num_tree, 2u);

  ASSERT_EQ(Invalidate(mm_, 0x0, 2 * kPage, /*blockable=*/true), 0);
  ASSERT_EQ(driver_.calls.size(), 1u);
  const Call& c = driver_.calls[0];
  EXPECT_EQ(c.sub, a);
  EXPECT_EQ(c.cur_seq % 2, 1u);
  EXPECT_EQ(c.cur_seq, c.global_seq);
  EXPECT_NE(c.sub_seq, c.cur_seq) << "the core set the seq before calling the driver";
  EXPECT_EQ(c.range.start, 0x0u);
  EXPECT_EQ(c.range.end, 2 * kPage);
  EXPECT_TRUE(c.range.blockable);
  EXPECT_EQ(driver_.CallsTo(b, NFK_EVENT_UNMAP), 0);

  const nfk_snapshot after = Snapshot(mm_);
  EXPECT_EQ(after.invalidate_seq, c.cur_seq + 1);
  EXPECT_EQ(after.active_invalidate_ranges, 0u);
  EXPECT_EQ(after.num_deferred, 0u);
  EXPECT_EQ(Reports().size(), 0u);
}

// §2: read_begin / read_retry / check_retry.
TEST_F(KernelSmoke, ReadRetrySeesACollidingInvalidation) {
  nfk_interval* a = Insert(0x0, kPage);
  const unsigned long seq = nfk_interval_read_begin(a);
  EXPECT_EQ(seq % 2, 1u);
  EXPECT_FALSE(nfk_interval_read_retry(a, seq));
  EXPECT_FALSE(nfk_interval_check_retry(a, seq));

  ASSERT_EQ(Invalidate(mm_, 0x0, kPage, true), 0);
  EXPECT_TRUE(nfk_interval_read_retry(a, seq));
  EXPECT_TRUE(nfk_interval_check_retry(a, seq));

  const unsigned long seq2 = nfk_interval_read_begin(a);  // idle again: no wait
  EXPECT_EQ(seq2, driver_.calls.at(0).cur_seq);
  EXPECT_FALSE(nfk_interval_read_retry(a, seq2));
}

// §2: after remove no callback; the tree holds the rest.
TEST_F(KernelSmoke, RemovedSubscriptionIsNotCalled) {
  nfk_interval* a = Insert(0x0, kPage);
  nfk_interval* b = Insert(0x10 * kPage, kPage);
  Remove(a);
  const FullSnapshot snap(mm_);
  ASSERT_EQ(snap.s.num_tree, 1u);
  EXPECT_EQ(snap.tree[0].sub, b);
  EXPECT_EQ(snap.tree[0].start, 0x10 * kPage);
  EXPECT_EQ(snap.tree[0].last, 0x11 * kPage - 1);

  ASSERT_EQ(Invalidate(mm_, 0x0, 0x20 * kPage, true), 0);
  ASSERT_EQ(driver_.calls.size(), 1u);
  EXPECT_EQ(driver_.calls[0].sub, b);
}

// §2: insert rejects an empty or overflowing range and changes nothing.
TEST_F(KernelSmoke, InsertRejectsOverflow) {
  nfk_interval* s = nfk_interval_alloc(&Driver::Invalidate, &driver_);
  subs_.push_back(s);
  EXPECT_EQ(nfk_interval_insert(mm_, s, 0x0, 0), -EOVERFLOW);
  EXPECT_EQ(nfk_interval_insert(mm_, s, ~0ul - kPage + 1, 2 * kPage), -EOVERFLOW);
  EXPECT_EQ(Snapshot(mm_).num_tree, 0u);
}

// §5 / P9: the last mmput releases once: one RELEASE invalidate per interval
// subscription, one release per classic subscriber. (Mutant
// double_itree_release: two RELEASE invalidates.)
TEST_F(KernelSmoke, LastMmputReleasesOnce) {
  nfk_interval* a = Insert(0x0, kPage);
  Classic counters;
  const nfk_classic_callbacks cb = Callbacks(&Classic::Release, nullptr, nullptr, nullptr);
  nfk_ops* ops = nfk_ops_create(&cb, &counters);
  nfk_classic* c = nfk_classic_alloc(ops);
  ASSERT_EQ(nfk_classic_register(mm_, c), 0);
  EXPECT_EQ(Snapshot(mm_).num_classic, 1u);

  EXPECT_EQ(nfk_mm_put_user(mm_), 0);
  EXPECT_EQ(counters.releases, 1);
  EXPECT_EQ(driver_.CallsTo(a, NFK_EVENT_RELEASE), 1);
  for (const Call& call : driver_.calls) {
    EXPECT_EQ(call.range.start, 0u);
    EXPECT_EQ(call.range.end, ~0ul);  // [0, ULONG_MAX): the last byte is not covered
    EXPECT_TRUE(call.range.blockable);
  }
  const nfk_snapshot s = Snapshot(mm_);
  EXPECT_EQ(s.num_classic, 0u);  // release unlinked it
  EXPECT_EQ(s.invalidate_seq % 2, 0u);
  EXPECT_EQ(s.active_invalidate_ranges, 0u);

  nfk_classic_unregister(mm_, c);  // already unlinked: no second release
  EXPECT_EQ(counters.releases, 1);
  nfk_classic_free(c);
  nfk_ops_destroy(ops);
  EXPECT_EQ(Reports().size(), 0u);
}

// §3.1 / P8: a non-blockable start whose callback fails returns -EAGAIN and
// leaves nothing behind. (Mutant eagain_leaks_epoch: active stays 1, the seq odd.)
TEST_F(KernelSmoke, FailedNonBlockingStartLeavesNothing) {
  nfk_interval* a = Insert(0x0, kPage);
  driver_.fail_nonblock = true;
  EXPECT_EQ(Invalidate(mm_, 0x0, kPage, /*blockable=*/false), -EAGAIN);
  ASSERT_EQ(driver_.calls.size(), 1u);
  EXPECT_FALSE(driver_.calls[0].range.blockable);
  const nfk_snapshot s = Snapshot(mm_);
  EXPECT_EQ(s.active_invalidate_ranges, 0u);
  EXPECT_EQ(s.invalidate_seq % 2, 0u);
  EXPECT_EQ(s.invalidate_seq, driver_.calls[0].cur_seq + 1);
  EXPECT_EQ(Reports().size(), 0u);
  (void)a;
}

// §3.1: the same failure from a blockable range is a driver bug: the kernel
// WARNs (mm/mmu_notifier.c:459 in 6.1) and carries on.
TEST_F(KernelSmoke, BlockableCallbackFailureWarns) {
  Insert(0x0, kPage);
  struct Failing {
    static bool Invalidate(void*, nfk_interval*, const nfk_range*, unsigned long) { return false; }
  };
  nfk_interval* f = nfk_interval_alloc(&Failing::Invalidate, nullptr);
  subs_.push_back(f);
  ASSERT_EQ(nfk_interval_insert(mm_, f, 0x0, kPage), 0);
  inserted_.push_back(f);
  EXPECT_EQ(Invalidate(mm_, 0x0, kPage, true), 0);
  const std::vector<nfk_report> r = Reports();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].kind, NFK_REPORT_WARN);
  EXPECT_STREQ(r[0].file, "mm/mmu_notifier.c");
  EXPECT_STREQ(r[0].what, "mmu_notifier_range_blockable(range)");
  EXPECT_EQ(driver_.calls.size(), 1u);  // the other subscription was still called
}

// §3.2 / P8: two classic subscribers, the second fails non-blockingly: the
// first, which started, gets its end. (Mutant unpaired_classic_end: it does not.)
TEST_F(KernelSmoke, FailedClassicStartEndsTheOthers) {
  Classic ok, failing;
  failing.fail_nonblock = true;
  RegisterClassic(&failing, /*with_end=*/false);
  RegisterClassic(&ok, /*with_end=*/true);  // head of the list: walked first

  EXPECT_EQ(Invalidate(mm_, 0x0, kPage, /*blockable=*/false), -EAGAIN);
  EXPECT_EQ(ok.starts, 1);
  EXPECT_EQ(failing.starts, 1);
  EXPECT_EQ(ok.ends, ok.starts);
  EXPECT_EQ(Reports().size(), 0u);
}

// §4: get/put count users per ops; the last put frees after a grace period.
// A subscriber that puts itself from release is freed only after the release
// walk's read-side section; synchronize returns with it freed (§10.7).
// (Mutant free_without_grace_period: freed inside the put.)
TEST_F(KernelSmoke, GetPutFreesAfterTheGracePeriod) {
  Classic counters;
  counters.mm = mm_;
  const nfk_classic_callbacks cb = Callbacks(&Classic::Release, nullptr, nullptr, &Classic::Free);
  nfk_ops* ops = nfk_ops_create(&cb, &counters);
  int err = 1;
  nfk_classic* c = nfk_classic_get(mm_, ops, &err);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(err, 0);
  EXPECT_EQ(nfk_classic_get(mm_, ops, nullptr), c);
  {
    const FullSnapshot snap(mm_);
    ASSERT_EQ(snap.s.num_classic, 1u);
    EXPECT_EQ(snap.classic[0].users, 2u);
    EXPECT_EQ(snap.classic[0].ops, ops);
  }

  nfk_classic_put(c);  // users 1
  EXPECT_EQ(counters.frees, 0);
  counters.self = c;
  counters.put_self_on_release = true;
  EXPECT_EQ(nfk_mm_put_user(mm_), 0);  // release -> put from inside the walk
  EXPECT_EQ(counters.releases, 1);
  EXPECT_EQ(counters.frees_after_put, 0) << "freed inside the SRCU read-side section";
  EXPECT_EQ(counters.pending_after_put, 1u);
  nfk_synchronize();
  EXPECT_EQ(counters.frees, 1);
  EXPECT_EQ(Snapshot(mm_).num_pending_frees, 0u);
  EXPECT_EQ(nfk_pending_srcu_callbacks(), 0u);
  nfk_ops_destroy(ops);
}

// ---- The kernel's own behaviour where docs/contract.md departs from it (§8, §9).
// These pass on the correct file: they pin what 6.1 does.

// §8.1: when the interval walk succeeded and a classic start then fails
// non-blockingly, 6.1's __mmu_notifier_invalidate_range_start returns -EAGAIN
// (mm/mmu_notifier.c:548) without mn_itree_inv_end: the walk's
// active_invalidate_ranges++ (line 102) is never given back, since the caller
// does not call end after -EAGAIN (finding A). No interval overlaps here, so
// the seq stays even and the test can clean up; with an overlap it would stay
// odd for good. Built with NF_KERNEL_FINDING_A_FIXED (the fixed variant,
// kernel/fixes/finding_a.cmake, and 6.12, which has a fix of its own) the walk
// is given back.
#ifndef NF_KERNEL_FINDING_A_FIXED
#define NF_KERNEL_FINDING_A_FIXED 0
#endif
TEST_F(KernelSmoke, KernelLeaksTheWalkWhenAClassicStartFails) {
  nfk_interval* far = Insert(0x100 * kPage, kPage);
  Classic failing;
  failing.fail_nonblock = true;
  RegisterClassic(&failing, /*with_end=*/false);

  EXPECT_EQ(Invalidate(mm_, 0x0, kPage, /*blockable=*/false), -EAGAIN);
  const nfk_snapshot s = Snapshot(mm_);
  EXPECT_EQ(s.active_invalidate_ranges, NF_KERNEL_FINDING_A_FIXED ? 0u : 1u)
      << (NF_KERNEL_FINDING_A_FIXED ? "the fix does not give the walk back"
                                    : "the kernel gives the walk back after all");
  EXPECT_EQ(s.invalidate_seq % 2, 0u);
  EXPECT_EQ(driver_.calls.size(), 0u);
  (void)far;
}

// Finding A's shape with an overlap: a subscription over [0, kPage) and a
// classic subscriber (*failing) whose start fails non-blockable ranges, then a
// non-blockable invalidation of that page (-EAGAIN). Returns the seq before it.
unsigned long KernelSmoke::FailNonblockingStartOverASubscription(Classic* failing) {
  Insert(0x0, kPage);
  failing->fail_nonblock = true;
  RegisterClassic(failing, /*with_end=*/false);
  const unsigned long seq_before = Snapshot(mm_).invalidate_seq;
  EXPECT_EQ(Invalidate(mm_, 0x0, kPage, /*blockable=*/false), -EAGAIN);
  return seq_before;
}

#if NF_KERNEL_FINDING_A_FIXED
// The fix, where it matters: the failed start's walk called an overlapping
// subscription (the seq went odd); the fix ends that walk, so the seq is even
// again, nothing is active, and read_begin and remove (TearDown) return. On
// the unfixed file the seq stays odd and both wait forever.
TEST_F(KernelSmoke, FixedFailedClassicStartEndsAnOverlappingWalk) {
  Classic failing;
  const unsigned long seq_before = FailNonblockingStartOverASubscription(&failing);
  ASSERT_EQ(driver_.calls.size(), 1u);
  nfk_interval* near = subs_.back();  // the subscription the helper inserted
  EXPECT_EQ(driver_.calls[0].sub, near);
  EXPECT_EQ(driver_.calls[0].cur_seq % 2, 1u);
  const nfk_snapshot s = Snapshot(mm_);
  EXPECT_EQ(s.active_invalidate_ranges, 0u);
  EXPECT_EQ(s.invalidate_seq, seq_before + 2) << "the walk was not ended once";
  EXPECT_EQ(failing.starts, 1);
  const unsigned long seq = nfk_interval_read_begin(near);
  EXPECT_EQ(seq, driver_.calls[0].cur_seq);
  EXPECT_FALSE(nfk_interval_read_retry(near, seq));
}
#endif

// The kernel target's fuzzing traits (nfk_set_close_leaked_walk): on a file
// with finding A the adapter checks the walk was left open and ends it, so that
// the seq is even again, nothing is active and read_begin returns, as on the
// fixed files (where the adapter has nothing to end). On every variant: the
// same state after, and the count of walks the adapter ended is 1 exactly where
// the file has A.
TEST_F(KernelSmoke, CloseLeakedWalkEndsFindingAsWalkWhereTheFileLeavesItOpen) {
  EXPECT_EQ(nfk_has_finding_a(), !NF_KERNEL_FINDING_A_FIXED);
  nfk_set_close_leaked_walk(mm_, true);
  Classic failing;
  const unsigned long seq_before = FailNonblockingStartOverASubscription(&failing);
  ASSERT_EQ(driver_.calls.size(), 1u);
  nfk_interval* near = subs_.back();  // the subscription the helper inserted
  const nfk_snapshot s = Snapshot(mm_);
  // (else read_begin below would wait forever)
  ASSERT_EQ(s.active_invalidate_ranges, 0u);
  ASSERT_EQ(s.invalidate_seq, seq_before + 2) << "the walk was not ended once";
  EXPECT_EQ(nfk_leaked_walks_closed(mm_), NF_KERNEL_FINDING_A_FIXED ? 0u : 1u);
  const unsigned long seq = nfk_interval_read_begin(near);
  EXPECT_FALSE(nfk_interval_read_retry(near, seq));
}

// The fix must not touch the blockable path: there the wrapper ignores the
// error and the caller's end closes the walk, so the walk is ended exactly
// once (a fix that ended it on every error would end it twice: active count
// below zero). On every variant.
TEST_F(KernelSmoke, BlockableClassicFailureEndsTheWalkOnce) {
  Insert(0x0, kPage);
  Classic failing;
  failing.fail_always = true;
  RegisterClassic(&failing, /*with_end=*/false);
  const unsigned long seq_before = Snapshot(mm_).invalidate_seq;

  EXPECT_EQ(Invalidate(mm_, 0x0, kPage, /*blockable=*/true), 0);
  const nfk_snapshot s = Snapshot(mm_);
  EXPECT_EQ(s.active_invalidate_ranges, 0u);
  EXPECT_EQ(s.invalidate_seq, seq_before + 2);
  EXPECT_EQ(driver_.calls.size(), 1u);
  ASSERT_EQ(Reports().size(), 1u);  // the WARN of a blockable failure (line 502)
  nfk_reports_clear();
}

// §8.3: a blockable classic start that fails is a driver bug: WARN (line 502),
// and the `if (ret)` block meant for non-blocking failures (line 516, "Must be
// non-blocking to get here") ends every subscriber at once; the blockable
// wrapper ignores the error, so the caller's end ends them again.
TEST_F(KernelSmoke, KernelEndsTwiceAfterABlockableClassicFailure) {
  Classic ok, failing;
  failing.fail_always = true;
  RegisterClassic(&failing, /*with_end=*/false);
  RegisterClassic(&ok, /*with_end=*/true);

  EXPECT_EQ(Invalidate(mm_, 0x0, kPage, /*blockable=*/true), 0);
  EXPECT_EQ(ok.starts, 1);
  EXPECT_EQ(ok.ends, 2);
  const std::vector<nfk_report> r = Reports();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].kind, NFK_REPORT_WARN);
  EXPECT_STREQ(r[0].file, "mm/mmu_notifier.c");
}

// ---- The rest of the kernel's API (docs/contract.md §10).

// A subscriber with every secondary-MMU method: counts each call and answers
// young as told.
struct Secondary {
  bool young = false;
  int clear_flush_young = 0, clear_young = 0, test_young = 0, change_pte = 0, tlb = 0;
  unsigned long start = 0, end = 0;  // of the last call (test_young, change_pte: the address)
  std::vector<std::string>* order = nullptr;  // appends name on every call
  std::string name;

  static Secondary* Of(void* cookie, unsigned long start, unsigned long end) {
    auto* s = static_cast<Secondary*>(cookie);
    s->start = start;
    s->end = end;
    if (s->order != nullptr) s->order->push_back(s->name);
    return s;
  }
  static int ClearFlushYoung(void* c, nfk_classic*, unsigned long start, unsigned long end) {
    Secondary* s = Of(c, start, end);
    ++s->clear_flush_young;
    return s->young;
  }
  static int ClearYoung(void* c, nfk_classic*, unsigned long start, unsigned long end) {
    Secondary* s = Of(c, start, end);
    ++s->clear_young;
    return s->young;
  }
  static int TestYoung(void* c, nfk_classic*, unsigned long address) {
    Secondary* s = Of(c, address, address);
    ++s->test_young;
    return s->young;
  }
  static void ChangePte(void* c, nfk_classic*, unsigned long address) {
    ++Of(c, address, address)->change_pte;
  }
  static void Tlb(void* c, nfk_classic*, unsigned long start, unsigned long end) {
    ++Of(c, start, end)->tlb;
  }
};

class KernelSecondary : public KernelSmoke {
 protected:
  // Registers s with every secondary method (and nothing else) and returns it;
  // TearDown unregisters it.
  nfk_classic* RegisterSecondary(Secondary* s) {
    nfk_classic_callbacks cb{};
    cb.clear_flush_young = &Secondary::ClearFlushYoung;
    cb.clear_young = &Secondary::ClearYoung;
    cb.test_young = &Secondary::TestYoung;
    cb.change_pte = &Secondary::ChangePte;
    cb.secondary_tlb = &Secondary::Tlb;
    nfk_ops* ops = nfk_ops_create(&cb, s);
    nfk_classic* sub = nfk_classic_alloc(ops);
    EXPECT_EQ(nfk_classic_register(mm_, sub), 0);
    classics_.push_back({sub, ops});
    return sub;
  }
};

// §10.1: clear_flush_young and clear_young call each subscriber that has the
// method exactly once with the range, and return the OR of their answers; a
// subscriber without the methods is not called.
TEST_F(KernelSecondary, ClearYoungCallsEachSubscriberOnceAndOrsTheAnswers) {
  Secondary young, old;
  young.young = true;
  Classic plain;
  RegisterSecondary(&old);
  RegisterClassic(&plain, /*with_end=*/true);
  RegisterSecondary(&young);
  EXPECT_EQ(nfk_clear_flush_young(mm_, 2 * kPage, 5 * kPage), 1);
  EXPECT_EQ(young.clear_flush_young, 1);
  EXPECT_EQ(old.clear_flush_young, 1);
  EXPECT_EQ(old.start, 2 * kPage);
  EXPECT_EQ(old.end, 5 * kPage);
  EXPECT_EQ(nfk_clear_young(mm_, 0, kPage), 1);
  EXPECT_EQ(young.clear_young, 1);
  EXPECT_EQ(old.clear_young, 1);
  young.young = false;
  EXPECT_EQ(nfk_clear_young(mm_, 0, kPage), 0);
  EXPECT_EQ(nfk_clear_flush_young(mm_, 0, kPage), 0);
  EXPECT_EQ(plain.starts + plain.ends, 0);
  EXPECT_EQ(young.test_young + young.change_pte + young.tlb, 0);
  EXPECT_EQ(Reports().size(), 0u);
}

// §10.1: test_young walks the list (newest first) and stops at the first young
// answer; with none young every subscriber is asked once and the answer is 0.
TEST_F(KernelSecondary, TestYoungStopsAtTheFirstYoungSubscriber) {
  std::vector<std::string> order;
  Secondary first, second;  // registered in this order: second is the list head
  first.order = second.order = &order;
  first.name = "first";
  second.name = "second";
  RegisterSecondary(&first);
  RegisterSecondary(&second);
  second.young = true;
  EXPECT_EQ(nfk_test_young(mm_, 3 * kPage), 1);
  EXPECT_EQ(order, std::vector<std::string>({"second"}));
  EXPECT_EQ(second.start, 3 * kPage);
  order.clear();
  second.young = false;
  first.young = true;
  EXPECT_EQ(nfk_test_young(mm_, 0), 1);
  EXPECT_EQ(order, std::vector<std::string>({"second", "first"}));
  order.clear();
  first.young = false;
  EXPECT_EQ(nfk_test_young(mm_, 0), 0);
  EXPECT_EQ(order.size(), 2u);
}

// §10.2: change_pte reaches every subscriber with the method once (6.1); 6.12
// has no change_pte: nothing is called.
TEST_F(KernelSecondary, ChangePteOnlyWhereTheVersionHasIt) {
  Secondary a, b;
  RegisterSecondary(&a);
  RegisterSecondary(&b);
  nfk_change_pte(mm_, 7 * kPage);
  const int want = nfk_has_change_pte() ? 1 : 0;
  EXPECT_EQ(a.change_pte, want);
  EXPECT_EQ(b.change_pte, want);
  if (want) {
    EXPECT_EQ(a.start, 7 * kPage);
  }
  EXPECT_EQ(std::string(nfk_kernel_version()).rfind("6.1.", 0) == 0, nfk_has_change_pte());
}

// §10.3: the secondary-TLB invalidate (6.1 invalidate_range, 6.12
// arch_invalidate_secondary_tlbs) reaches every subscriber with the method
// once with the range; 6.1's invalidate end calls it too, its range-only end
// does not; 6.12's ends never do (§10.6).
TEST_F(KernelSecondary, SecondaryTlbInvalidateAndTheRangeOnlyEnd) {
  Secondary a;
  Classic plain;
  RegisterSecondary(&a);
  RegisterClassic(&plain, /*with_end=*/true);
  nfk_invalidate_secondary_tlbs(mm_, kPage, 4 * kPage);
  EXPECT_EQ(a.tlb, 1);
  EXPECT_EQ(a.start, kPage);
  EXPECT_EQ(a.end, 4 * kPage);
  const int from_end = nfk_end_calls_secondary_tlb() ? 1 : 0;
  EXPECT_EQ(Invalidate(mm_, 0, 2 * kPage, /*blockable=*/true), 0);
  EXPECT_EQ(a.tlb, 1 + from_end);
  const nfk_range r{0, 2 * kPage, true, NFK_EVENT_UNMAP, nullptr};
  nfk_invalidation* inv = nullptr;
  ASSERT_EQ(nfk_invalidate_start(mm_, &r, &inv), 0);
  nfk_invalidate_only_end(inv);
  EXPECT_EQ(a.tlb, 1 + from_end);
  EXPECT_EQ(plain.starts, 2);
  EXPECT_EQ(plain.ends, 2) << "the range-only end still ends the classic subscribers";
  EXPECT_EQ(Snapshot(mm_).active_invalidate_ranges, 0u);
  EXPECT_EQ(Reports().size(), 0u);
}

// §10.4: update_to_read_only is true only for a PROTECTION_VMA range of a
// readable vma (6.1); 6.12 declares it but defines it nowhere: false.
TEST_F(KernelSmoke, RangeUpdateToReadOnly) {
  const bool has = nfk_has_range_update_to_read_only();
  EXPECT_EQ(nfk_range_update_to_read_only(mm_, 0, kPage, NFK_EVENT_PROTECTION_VMA), has);
  EXPECT_FALSE(nfk_range_update_to_read_only(mm_, 0, kPage, NFK_EVENT_UNMAP));
  EXPECT_FALSE(nfk_range_update_to_read_only(mm_, 0, kPage, NFK_EVENT_PROTECTION_PAGE));
}

// §10.5: insert_locked under the mmap lock: the same results as insert, the
// first one sets up the tree, and the kernel's lock assertion holds.
TEST_F(KernelSmoke, InsertLockedUnderTheMmapLock) {
  nfk_interval* s = nfk_interval_alloc(&Driver::Invalidate, &driver_);
  subs_.push_back(s);
  ASSERT_EQ(nfk_interval_insert_locked(mm_, s, kPage, 2 * kPage), 0);
  inserted_.push_back(s);
  nfk_interval* z = nfk_interval_alloc(&Driver::Invalidate, &driver_);
  subs_.push_back(z);
  EXPECT_EQ(nfk_interval_insert_locked(mm_, z, kPage, 0), -EOVERFLOW);
  const FullSnapshot snap(mm_);
  EXPECT_TRUE(snap.s.has_itree);
  ASSERT_EQ(snap.s.num_tree, 1u);
  EXPECT_EQ(snap.tree[0].start, kPage);
  EXPECT_EQ(snap.tree[0].last, 3 * kPage - 1);
  EXPECT_EQ(Invalidate(mm_, 0, 2 * kPage, true), 0);
  EXPECT_EQ(driver_.CallsTo(s, NFK_EVENT_UNMAP), 1);
  EXPECT_EQ(Reports().size(), 0u);
}

// §10.8: an invalidation that holds only a reference (mmgrab, as truncate)
// after the last user has gone: the interval walk still calls what is in the
// tree; the classic subscribers, unlinked by release, get nothing.
TEST_F(KernelSmoke, InvalidationWithoutAUserAfterRelease) {
  nfk_interval* a = Insert(0, 2 * kPage);
  Classic c;
  RegisterClassic(&c, /*with_end=*/true);
  const int refs = Snapshot(mm_).mm_count;
  nfk_mm_grab(mm_);
  EXPECT_EQ(nfk_mm_put_user(mm_), 0);
  EXPECT_EQ(driver_.CallsTo(a, NFK_EVENT_RELEASE), 1);
  EXPECT_EQ(Invalidate(mm_, 0, kPage, /*blockable=*/true), 0);
  EXPECT_EQ(driver_.CallsTo(a, NFK_EVENT_UNMAP), 1);
  EXPECT_EQ(c.starts + c.ends, 0);
  nfk_mm_drop(mm_);
  EXPECT_EQ(Snapshot(mm_).mm_count, refs - 1) << "the users' reference went; grab and drop pair";
  EXPECT_EQ(Reports().size(), 0u);
}

}  // namespace
