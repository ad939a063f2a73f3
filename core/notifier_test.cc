// Unit tests of core/notifier: one or more per clause of spec sections 2 to 5.
// Tests that need a second thread use real threads (this is the real-thread
// flavour); "still blocked" checks give the other thread time but never assert a
// duration: a false pass is possible on a slow machine, a false failure is not.
#include "core/notifier.h"

#include <atomic>
#include <chrono>
#include <limits>
#include <thread>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace nf {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::SizeIs;

constexpr uint64_t kPage = 0x1000;

struct Call {
  uint64_t start, end;
  Seq cur_seq;
  Seq global_seq;  // the global seq seen from inside the callback
  Event event;
  bool blockable;
};

// An interval driver: records every callback, honours the user lock.
struct TestInterval : IntervalSubscription {
  AddressSpace* space = nullptr;
  sync::Mutex user_lock;
  std::vector<Call> calls;
  std::atomic<bool> refuse{false};  // behave as if the user lock were busy

  static bool Invalidate(IntervalSubscription* sub, const Range& r, Seq cur_seq) {
    auto* t = static_cast<TestInterval*>(sub);
    if (!r.blockable && t->refuse.load()) return false;
    Snapshot snap = t->space->Inspect();
    t->user_lock.Lock();
    t->SetSeq(cur_seq);
    t->calls.push_back({r.start, r.end, cur_seq, snap.invalidate_seq, r.event, r.blockable});
    t->user_lock.Unlock();
    return true;
  }
};
const IntervalOps kIntervalOps = {&TestInterval::Invalidate};

bool AlwaysFalse(IntervalSubscription*, const Range&, Seq) { return false; }
const IntervalOps kFailingOps = {&AlwaysFalse};

Range MakeRange(uint64_t start, uint64_t end, bool blockable = true, Event e = Event::kUnmap) {
  Range r;
  r.start = start;
  r.end = end;
  r.blockable = blockable;
  r.event = e;
  return r;
}

// A classic subscriber with optional callbacks that counts them.
struct TestClassic : ClassicSubscription {
  explicit TestClassic(const ClassicOps* ops) : ClassicSubscription(ops) {}
  std::atomic<int> releases{0}, starts{0}, ends{0};
  bool fail_nonblock = false;
  bool* freed = nullptr;

  static void Release(ClassicSubscription* s, AddressSpace*) {
    static_cast<TestClassic*>(s)->releases++;
  }
  static bool Start(ClassicSubscription* s, const Range& r) {
    auto* t = static_cast<TestClassic*>(s);
    if (!r.blockable && t->fail_nonblock) return false;
    t->starts++;
    return true;
  }
  static void End(ClassicSubscription* s, const Range&) { static_cast<TestClassic*>(s)->ends++; }
  static ClassicSubscription* Alloc(AddressSpace*);
  static void Free(ClassicSubscription* s) {
    auto* t = static_cast<TestClassic*>(s);
    if (t->freed) *t->freed = true;
    delete t;
  }
};
const ClassicOps kFullOps = {&TestClassic::Release, &TestClassic::Start, &TestClassic::End,
                             &TestClassic::Alloc, &TestClassic::Free};
// Can fail its start when not blockable, so it has no end (the contract of §3.2).
const ClassicOps kFailingStartOps = {&TestClassic::Release, &TestClassic::Start, nullptr,
                                     nullptr, nullptr};
ClassicSubscription* TestClassic::Alloc(AddressSpace*) { return new TestClassic(&kFullOps); }

class NotifierTest : public ::testing::Test {
 protected:
  NotifierTest() {
    AddressSpaceOptions o;
    o.warn = [this](Warning w, std::string_view) { warnings_.push_back(w); };
    space_ = AddressSpace::Create(o);
    space_->Grab();  // the test's own reference: the space outlives release
  }
  ~NotifierTest() override {
    if (!released_) space_->PutUser();
    space_->Drop();
  }
  void Release() {
    released_ = true;
    space_->PutUser();
  }
  void Insert(TestInterval* t, uint64_t start, uint64_t len) {
    t->space = space_;
    ASSERT_TRUE(space_->InsertInterval(t, start, len, &kIntervalOps).ok());
  }
  std::vector<const IntervalSubscription*> Tree() {
    std::vector<const IntervalSubscription*> v;
    for (const auto& i : space_->Inspect().tree) v.push_back(i.sub);
    return v;
  }
  Seq Global() { return space_->Inspect().invalidate_seq; }

  AddressSpace* space_;
  bool released_ = false;
  std::vector<Warning> warnings_;
};

// ---- §2 insert -------------------------------------------------------------

TEST_F(NotifierTest, InsertRejectsZeroLengthAndOverflowAndChangesNothing) {
  TestInterval t;
  t.space = space_;
  EXPECT_EQ(space_->InsertInterval(&t, 0x1000, 0, &kIntervalOps).code(),
            absl::StatusCode::kOutOfRange);
  EXPECT_EQ(space_->InsertInterval(&t, std::numeric_limits<uint64_t>::max() - 10, 12,
                                   &kIntervalOps).code(),
            absl::StatusCode::kOutOfRange);
  Snapshot s = space_->Inspect();
  EXPECT_FALSE(s.has_subscriptions);
  EXPECT_EQ(s.refs, 2);
  EXPECT_EQ(t.address_space(), nullptr);
  // The very last address is fine: [max - 9, max].
  ASSERT_TRUE(space_->InsertInterval(&t, std::numeric_limits<uint64_t>::max() - 9, 10,
                                     &kIntervalOps).ok());
  EXPECT_EQ(t.last(), std::numeric_limits<uint64_t>::max());
  space_->RemoveInterval(&t);
}

TEST_F(NotifierTest, InsertIntoSpaceWithNoLiveUsersFails) {
  Release();
  TestInterval t;
  t.space = space_;
  EXPECT_EQ(space_->InsertInterval(&t, 0x1000, kPage, &kIntervalOps).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(t.address_space(), nullptr);
}

TEST_F(NotifierTest, InsertTwiceWarnsAndFails) {
  TestInterval t;
  Insert(&t, 0, kPage);
  EXPECT_EQ(space_->InsertInterval(&t, 0, kPage, &kIntervalOps).code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(warnings_, ElementsAre(Warning::kInsertTwice));
  space_->RemoveInterval(&t);
}

TEST_F(NotifierTest, InsertIdleGoesIntoTreeWithSeqGlobalMinusOne) {
  TestInterval t;
  Insert(&t, 0x2000, 2 * kPage);
  Snapshot s = space_->Inspect();
  EXPECT_TRUE(s.has_itree);
  EXPECT_EQ(s.invalidate_seq, 2u);
  ASSERT_THAT(s.tree, SizeIs(1));
  EXPECT_EQ(s.tree[0].start, 0x2000u);
  EXPECT_EQ(s.tree[0].last, 0x3fffu);
  EXPECT_EQ(t.seq_for_testing(), 1u);  // odd, != global
  space_->RemoveInterval(&t);
  EXPECT_THAT(Tree(), IsEmpty());
}

TEST_F(NotifierTest, InsertDuringOddEpochIsDeferredUntilLastEnd) {
  TestInterval a, b;
  Insert(&a, 0, kPage);
  ASSERT_TRUE(space_->InvalidateRangeStart(MakeRange(0, kPage)).ok());
  const Seq odd = Global();
  ASSERT_EQ(odd % 2, 1u);
  Insert(&b, 0, kPage);
  Snapshot s = space_->Inspect();
  EXPECT_THAT(s.tree, SizeIs(1));
  ASSERT_THAT(s.deferred, SizeIs(1));
  EXPECT_TRUE(s.deferred[0].insert);
  EXPECT_EQ(b.seq_for_testing(), odd);  // read_begin on b would wait for the epoch
  space_->InvalidateRangeEnd(MakeRange(0, kPage));
  s = space_->Inspect();
  EXPECT_EQ(s.invalidate_seq, odd + 1);
  EXPECT_THAT(s.tree, SizeIs(2));
  EXPECT_THAT(s.deferred, IsEmpty());
  EXPECT_TRUE(b.calls.empty());  // not called by the walk that was running
  space_->RemoveInterval(&a);
  space_->RemoveInterval(&b);
}

TEST_F(NotifierTest, InsertDuringEvenActiveEpochOpensAnOddEpoch) {
  TestInterval a, b;
  Insert(&a, 0, kPage);
  // An invalidation that touches no subscription: partial exclusion, seq even.
  ASSERT_TRUE(space_->InvalidateRangeStart(MakeRange(8 * kPage, 9 * kPage)).ok());
  EXPECT_EQ(Global(), 2u);
  Insert(&b, 8 * kPage, kPage);
  EXPECT_EQ(Global(), 3u);
  EXPECT_EQ(b.seq_for_testing(), 3u);  // sees a collision until the epoch ends
  EXPECT_THAT(Tree(), SizeIs(2));      // inserted at once
  const Seq seq = b.seq_for_testing();
  space_->InvalidateRangeEnd(MakeRange(8 * kPage, 9 * kPage));
  EXPECT_EQ(Global(), 4u);
  EXPECT_EQ(b.ReadBegin(), seq);  // no longer waits
  space_->RemoveInterval(&a);
  space_->RemoveInterval(&b);
}

// ---- §2 remove -------------------------------------------------------------

TEST_F(NotifierTest, RemoveWhileEvenIsImmediate) {
  TestInterval t;
  Insert(&t, 0, kPage);
  space_->RemoveInterval(&t);
  EXPECT_THAT(Tree(), IsEmpty());
  EXPECT_EQ(t.address_space(), nullptr);
  EXPECT_EQ(space_->Inspect().refs, 2);
}

TEST_F(NotifierTest, RemoveOfPendingDeferredInsertDoesNotWait) {
  TestInterval a, b;
  Insert(&a, 0, kPage);
  ASSERT_TRUE(space_->InvalidateRangeStart(MakeRange(0, kPage)).ok());
  Insert(&b, kPage, kPage);
  space_->RemoveInterval(&b);  // would deadlock if it waited for our own epoch
  EXPECT_THAT(space_->Inspect().deferred, IsEmpty());
  space_->InvalidateRangeEnd(MakeRange(0, kPage));
  EXPECT_THAT(Tree(), ElementsAre(&a));
  space_->RemoveInterval(&a);
}

TEST_F(NotifierTest, RemoveDuringOddEpochWaitsForTheLastEnd) {
  TestInterval a;
  Insert(&a, 0, kPage);
  ASSERT_TRUE(space_->InvalidateRangeStart(MakeRange(0, kPage)).ok());
  ASSERT_TRUE(space_->InvalidateRangeStart(MakeRange(0, kPage)).ok());  // nested
  std::atomic<bool> returned{false};
  std::thread remover([&] {
    space_->RemoveInterval(&a);
    returned = true;
  });
  // Wait until the removal is queued, then give it time to (wrongly) return.
  while (space_->Inspect().deferred.empty()) std::this_thread::yield();
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_FALSE(returned.load());
  space_->InvalidateRangeEnd(MakeRange(0, kPage));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_FALSE(returned.load()) << "returned before the last end";
  const size_t calls = a.calls.size();
  space_->InvalidateRangeEnd(MakeRange(0, kPage));
  remover.join();
  EXPECT_TRUE(returned.load());
  Snapshot s = space_->Inspect();
  EXPECT_THAT(s.tree, IsEmpty());
  EXPECT_THAT(s.deferred, IsEmpty());
  // P5: never called again.
  ASSERT_TRUE(space_->InvalidateRangeStart(MakeRange(0, kPage)).ok());
  space_->InvalidateRangeEnd(MakeRange(0, kPage));
  EXPECT_EQ(a.calls.size(), calls);
}

TEST_F(NotifierTest, RemoveNotInsertedWarnsAndChangesNothing) {
  TestInterval t;
  space_->RemoveInterval(&t);
  EXPECT_THAT(warnings_, ElementsAre(Warning::kRemoveNotInserted));
  EXPECT_EQ(space_->Inspect().refs, 2);
}

bool RemoveSelf(IntervalSubscription* sub, const Range&, Seq) {
  sub->address_space()->RemoveInterval(sub);
  return true;
}
const IntervalOps kRemoveSelfOps = {&RemoveSelf};

TEST_F(NotifierTest, RemoveFromCallbackIsAHardFailure) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        TestInterval t;
        t.space = space_;
        (void)space_->InsertInterval(&t, 0, kPage, &kRemoveSelfOps);
        (void)space_->InvalidateRangeStart(MakeRange(0, kPage));
      },
      "RemoveInterval inside a notifier callback");
}

// Every other fatal misuse: a blocking call from inside a callback (spec §2: "never
// from a callback"), and the lifetime errors the core cannot survive. Each aborts
// with a message that names the misuse.
enum class FromCallback { kReadBegin, kRegister, kUnregister, kGet };
thread_local FromCallback tl_from_callback;
TestClassic g_unregistered_classic(&kFullOps);
bool CallBlockingApi(IntervalSubscription* sub, const Range&, Seq) {
  AddressSpace* space = sub->address_space();
  switch (tl_from_callback) {
    case FromCallback::kReadBegin: (void)sub->ReadBegin(); break;
    case FromCallback::kRegister: (void)space->RegisterClassic(&g_unregistered_classic); break;
    case FromCallback::kUnregister: space->UnregisterClassic(&g_unregistered_classic); break;
    case FromCallback::kGet: (void)space->GetClassic(&kFullOps); break;
  }
  return true;
}
const IntervalOps kBlockingApiOps = {&CallBlockingApi};

TEST_F(NotifierTest, BlockingCallsFromACallbackAreHardFailures) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const std::pair<FromCallback, const char*> cases[] = {
      {FromCallback::kReadBegin, "ReadBegin inside a notifier callback"},
      {FromCallback::kRegister, "RegisterClassic inside a notifier callback"},
      {FromCallback::kUnregister, "UnregisterClassic inside a notifier callback"},
      {FromCallback::kGet, "GetClassic inside a notifier callback"},
  };
  for (const auto& [what, message] : cases) {
    EXPECT_DEATH(
        {
          tl_from_callback = what;
          TestInterval t;
          t.space = space_;
          (void)space_->InsertInterval(&t, 0, kPage, &kBlockingApiOps);
          (void)space_->InvalidateRangeStart(MakeRange(0, kPage));
        },
        message);
  }
}

TEST_F(NotifierTest, LifetimeMisuseIsAHardFailure) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        Release();
        space_->GetUser();
      },
      "GetUser after the last user exited");
  EXPECT_DEATH(
      {
        auto* t = new TestInterval;
        t->space = space_;
        (void)space_->InsertInterval(t, 0, kPage, &kIntervalOps);
        delete t;
      },
      "destroyed while inserted");
  EXPECT_DEATH(
      {
        TestInterval t;
        (void)t.ReadBegin();
      },
      "ReadBegin on a subscription that is not inserted");
  EXPECT_DEATH(
      {
        AddressSpaceOptions o;
        o.testing_only_initial_seq = 3;
        (void)AddressSpace::Create(o);
      },
      "testing_only_initial_seq must be even");
}

// ---- §2 read_begin / read_retry / check_retry / set_seq ----------------------

TEST_F(NotifierTest, ReadRetryTurnsTrueOnceAnInvalidationCallsSetSeq) {
  TestInterval t;
  Insert(&t, 0, 4 * kPage);
  const Seq seq = t.ReadBegin();
  EXPECT_FALSE(t.ReadRetry(seq));
  EXPECT_FALSE(t.CheckRetry(seq));
  ASSERT_TRUE(space_->InvalidateRangeStart(MakeRange(kPage, 2 * kPage)).ok());
  EXPECT_TRUE(t.ReadRetry(seq));
  EXPECT_TRUE(t.CheckRetry(seq));
  space_->InvalidateRangeEnd(MakeRange(kPage, 2 * kPage));
  const Seq seq2 = t.ReadBegin();
  EXPECT_NE(seq2, seq);
  EXPECT_FALSE(t.ReadRetry(seq2));
  space_->RemoveInterval(&t);
}

TEST_F(NotifierTest, ReadBeginWaitsWhileTheSubscriptionIsInvalidated) {
  TestInterval t;
  Insert(&t, 0, kPage);
  ASSERT_TRUE(space_->InvalidateRangeStart(MakeRange(0, kPage)).ok());
  const Seq cur = Global();
  std::atomic<bool> returned{false};
  Seq got = 0;
  std::thread reader([&] {
    got = t.ReadBegin();
    returned = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_FALSE(returned.load());
  space_->InvalidateRangeEnd(MakeRange(0, kPage));
  reader.join();
  EXPECT_EQ(got, cur);  // the seq set by the callback; the epoch has ended
  EXPECT_FALSE(t.ReadRetry(got));
  space_->RemoveInterval(&t);
}

TEST_F(NotifierTest, ReadBeginDoesNotWaitWhenAnotherRangeIsInvalidated) {
  TestInterval a, b;
  Insert(&a, 0, kPage);
  Insert(&b, 4 * kPage, kPage);
  ASSERT_TRUE(space_->InvalidateRangeStart(MakeRange(0, kPage)).ok());
  const Seq seq = b.ReadBegin();  // b's seq != global: returns at once
  EXPECT_FALSE(b.ReadRetry(seq));
  space_->InvalidateRangeEnd(MakeRange(0, kPage));
  space_->RemoveInterval(&a);
  space_->RemoveInterval(&b);
}

TEST_F(NotifierTest, SetSeqRejectsEvenValues) {
  TestInterval t;
  Insert(&t, 0, kPage);
  const Seq before = t.seq_for_testing();
  t.SetSeq(10);
  EXPECT_EQ(t.seq_for_testing(), before);
  EXPECT_THAT(warnings_, ElementsAre(Warning::kSetSeqEven));
  space_->RemoveInterval(&t);
}

// ---- §3.1 the interval walk ------------------------------------------------

TEST_F(NotifierTest, WalkCallsEveryOverlappingSubscriptionOnceWithOneOddSeq) {
  TestInterval a, b, c, d, e;
  Insert(&a, 0, kPage);             // [0, 0xfff]
  Insert(&b, kPage, kPage);         // [0x1000, 0x1fff]: touches the range start
  Insert(&c, 2 * kPage, kPage);     // [0x2000, 0x2fff]: touches the range end - 1
  Insert(&d, 3 * kPage, kPage);     // [0x3000, ...]: starts at range.end: outside
  Insert(&e, kPage, kPage);         // identical to b
  const Range r = MakeRange(kPage, 3 * kPage);
  ASSERT_TRUE(space_->InvalidateRangeStart(r).ok());
  const Seq cur = Global();
  EXPECT_EQ(cur % 2, 1u);
  for (TestInterval* t : {&b, &c, &e}) {
    ASSERT_THAT(t->calls, SizeIs(1));
    EXPECT_EQ(t->calls[0].cur_seq, cur);
    EXPECT_EQ(t->calls[0].global_seq, cur);  // P3: runs while the global seq is cur
    EXPECT_EQ(t->seq_for_testing(), cur);
  }
  EXPECT_THAT(a.calls, IsEmpty());
  EXPECT_THAT(d.calls, IsEmpty());
  space_->InvalidateRangeEnd(r);
  EXPECT_EQ(Global(), cur + 1);
  for (TestInterval* t : {&a, &b, &c, &d, &e}) space_->RemoveInterval(t);
}

TEST_F(NotifierTest, NestedAndOverlappingWalksShareTheEpoch) {
  TestInterval a;
  Insert(&a, 0, kPage);
  ASSERT_TRUE(space_->InvalidateRangeStart(MakeRange(0, kPage)).ok());
  ASSERT_TRUE(space_->InvalidateRangeStart(MakeRange(0, 2 * kPage)).ok());
  Snapshot s = space_->Inspect();
  EXPECT_EQ(s.active_invalidate_ranges, 2);
  ASSERT_THAT(a.calls, SizeIs(2));
  EXPECT_EQ(a.calls[0].cur_seq, a.calls[1].cur_seq);
  space_->InvalidateRangeEnd(MakeRange(0, 2 * kPage));
  EXPECT_EQ(Global() % 2, 1u);  // still odd: one range is active
  space_->InvalidateRangeEnd(MakeRange(0, kPage));
  s = space_->Inspect();
  EXPECT_EQ(s.active_invalidate_ranges, 0);
  EXPECT_EQ(s.invalidate_seq % 2, 0u);  // P1
  space_->RemoveInterval(&a);
}

TEST_F(NotifierTest, EmptyRangeTouchesNothing) {
  TestInterval a;
  Insert(&a, 0, 4 * kPage);
  ASSERT_TRUE(space_->InvalidateRangeStart(MakeRange(kPage, kPage)).ok());
  EXPECT_THAT(a.calls, IsEmpty());
  EXPECT_EQ(Global(), 2u);
  space_->InvalidateRangeEnd(MakeRange(kPage, kPage));
  space_->RemoveInterval(&a);
}

// ---- §3.1 / §3.3 non-blocking failure on the interval side (P8) --------------

TEST_F(NotifierTest, NonBlockingIntervalFailureLeavesNothingBehind) {
  TestInterval a;
  Insert(&a, 0, kPage);
  a.refuse = true;
  const Snapshot before = space_->Inspect();
  EXPECT_EQ(space_->InvalidateRangeStart(MakeRange(0, kPage, /*blockable=*/false)).code(),
            absl::StatusCode::kUnavailable);
  const Snapshot after = space_->Inspect();
  EXPECT_EQ(after.active_invalidate_ranges, 0);
  EXPECT_EQ(after.open_invalidations, 0);
  EXPECT_EQ(after.invalidate_seq % 2, 0u);
  EXPECT_EQ(after.invalidate_seq, before.invalidate_seq + 2);  // the epoch was closed
  EXPECT_THAT(after.deferred, IsEmpty());
  // The caller does not call end; a blockable invalidation works normally.
  a.refuse = false;
  ASSERT_TRUE(space_->InvalidateRangeStart(MakeRange(0, kPage)).ok());
  space_->InvalidateRangeEnd(MakeRange(0, kPage));
  EXPECT_THAT(warnings_, IsEmpty());
  space_->RemoveInterval(&a);
}

TEST_F(NotifierTest, SubscriptionsCalledBeforeTheFailureKeepTheirNewSeq) {
  TestInterval a, b;
  Insert(&a, 0, kPage);
  Insert(&b, kPage, kPage);
  b.refuse = true;  // the walk goes in start order: a first, then b fails
  const Seq seq = a.ReadBegin();
  EXPECT_FALSE(space_->InvalidateRangeStart(MakeRange(0, 2 * kPage, false)).ok());
  EXPECT_TRUE(a.ReadRetry(seq));  // its readers retry
  space_->RemoveInterval(&a);
  space_->RemoveInterval(&b);
}

TEST_F(NotifierTest, BlockableCallbackFailureWarnsAndContinues) {
  TestInterval a, b;
  a.space = space_;
  ASSERT_TRUE(space_->InsertInterval(&a, 0, kPage, &kFailingOps).ok());
  Insert(&b, 0, kPage);
  ASSERT_TRUE(space_->InvalidateRangeStart(MakeRange(0, kPage)).ok());
  EXPECT_THAT(b.calls, SizeIs(1));
  EXPECT_THAT(warnings_, ElementsAre(Warning::kBlockableCallbackFailed));
  space_->InvalidateRangeEnd(MakeRange(0, kPage));
  space_->RemoveInterval(&a);
  space_->RemoveInterval(&b);
}

TEST_F(NotifierTest, EndWithoutStartWarnsAndChangesNothing) {
  TestInterval a;
  Insert(&a, 0, kPage);
  const Snapshot before = space_->Inspect();
  space_->InvalidateRangeEnd(MakeRange(0, kPage));
  const Snapshot after = space_->Inspect();
  EXPECT_THAT(warnings_, ElementsAre(Warning::kEndWithoutStart));
  EXPECT_EQ(after.active_invalidate_ranges, before.active_invalidate_ranges);
  EXPECT_EQ(after.invalidate_seq, before.invalidate_seq);
  space_->RemoveInterval(&a);
}

// ---- §3.2 classic subscribers ------------------------------------------------

TEST_F(NotifierTest, ClassicStartAndEndArePaired) {
  TestClassic c(&kFullOps);
  ASSERT_TRUE(space_->RegisterClassic(&c).ok());
  ASSERT_TRUE(space_->InvalidateRangeStart(MakeRange(0, kPage)).ok());
  EXPECT_EQ(c.starts, 1);
  EXPECT_EQ(c.ends, 0);
  space_->InvalidateRangeEnd(MakeRange(0, kPage));
  EXPECT_EQ(c.ends, 1);
  space_->UnregisterClassic(&c);
  EXPECT_EQ(c.releases, 1);  // unregister of a linked subscriber calls release
}

TEST_F(NotifierTest, FailedClassicStartEndsTheOnesThatStartedAndLeavesNothing) {
  // The list is LIFO: register the failing one first so it is called last.
  TestClassic failing(&kFailingStartOps), ok(&kFullOps);
  failing.fail_nonblock = true;
  TestInterval a;
  Insert(&a, 0, kPage);
  ASSERT_TRUE(space_->RegisterClassic(&failing).ok());
  ASSERT_TRUE(space_->RegisterClassic(&ok).ok());
  const Snapshot before = space_->Inspect();
  EXPECT_EQ(space_->InvalidateRangeStart(MakeRange(0, kPage, false)).code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(ok.starts, 1);
  EXPECT_EQ(ok.ends, 1);  // c2655835fd8c
  const Snapshot after = space_->Inspect();
  EXPECT_EQ(after.active_invalidate_ranges, 0);  // §3.3: the interval epoch too
  EXPECT_EQ(after.open_invalidations, 0);
  EXPECT_EQ(after.invalidate_seq % 2, 0u);
  EXPECT_EQ(before.invalidate_seq % 2, 0u);
  space_->UnregisterClassic(&ok);
  space_->UnregisterClassic(&failing);
  space_->RemoveInterval(&a);
}

TEST_F(NotifierTest, RegisterWaitsForRunningInvalidations) {
  TestClassic c(&kFullOps);
  ASSERT_TRUE(space_->InvalidateRangeStart(MakeRange(0, kPage)).ok());
  std::atomic<bool> registered{false};
  std::thread t([&] {
    ASSERT_TRUE(space_->RegisterClassic(&c).ok());
    registered = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_FALSE(registered.load());
  space_->InvalidateRangeEnd(MakeRange(0, kPage));  // no end for a late registrant
  t.join();
  EXPECT_EQ(c.ends, 0);
  space_->UnregisterClassic(&c);
}

TEST_F(NotifierTest, GetReturnsTheSameSubscriberAndPutFreesAtZero) {
  bool freed = false;
  absl::StatusOr<ClassicSubscription*> a = space_->GetClassic(&kFullOps);
  ASSERT_TRUE(a.ok());
  static_cast<TestClassic*>(*a)->freed = &freed;
  absl::StatusOr<ClassicSubscription*> b = space_->GetClassic(&kFullOps);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*a, *b);
  EXPECT_EQ(space_->Inspect().refs, 3);  // test, users, subscriber
  space_->PutClassic(*b);
  EXPECT_FALSE(freed);
  EXPECT_THAT(space_->Inspect().classic, SizeIs(1));
  space_->PutClassic(*a);
  EXPECT_TRUE(freed);  // no reader was active: freed at once
  Snapshot s = space_->Inspect();
  EXPECT_THAT(s.classic, IsEmpty());
  EXPECT_EQ(s.refs, 2);
}

// A subscriber that puts itself from its start callback: its free must wait for
// the read-side section of the invalidation to end.
struct SelfPut : ClassicSubscription {
  using ClassicSubscription::ClassicSubscription;
  bool* freed = nullptr;
  bool* freed_during_callback = nullptr;
  static bool Start(ClassicSubscription* s, const Range&) {
    auto* me = static_cast<SelfPut*>(s);
    bool* freed = me->freed;
    bool* during = me->freed_during_callback;
    s->address_space()->PutClassic(s);
    *during = *freed;
    return true;
  }
  static ClassicSubscription* Alloc(AddressSpace*);
  static void Free(ClassicSubscription* s) {
    *static_cast<SelfPut*>(s)->freed = true;
    delete static_cast<SelfPut*>(s);
  }
};
const ClassicOps kSelfPutOps = {nullptr, &SelfPut::Start, nullptr, &SelfPut::Alloc,
                                &SelfPut::Free};
ClassicSubscription* SelfPut::Alloc(AddressSpace*) { return new SelfPut(&kSelfPutOps); }

TEST_F(NotifierTest, PutInsideAReadSectionFreesAfterTheGracePeriod) {
  bool freed = false, during = true;
  absl::StatusOr<ClassicSubscription*> s = space_->GetClassic(&kSelfPutOps);
  ASSERT_TRUE(s.ok());
  static_cast<SelfPut*>(*s)->freed = &freed;
  static_cast<SelfPut*>(*s)->freed_during_callback = &during;
  ASSERT_TRUE(space_->InvalidateRangeStart(MakeRange(0, kPage)).ok());
  EXPECT_FALSE(during);
  EXPECT_TRUE(freed);
  space_->InvalidateRangeEnd(MakeRange(0, kPage));
  EXPECT_EQ(space_->Inspect().pending_frees, 0);
}

TEST_F(NotifierTest, UnregisterAfterReleaseDoesNotCallReleaseAgain) {
  TestClassic c(&kFullOps);
  ASSERT_TRUE(space_->RegisterClassic(&c).ok());
  Release();
  EXPECT_EQ(c.releases, 1);
  space_->UnregisterClassic(&c);
  EXPECT_EQ(c.releases, 1);
}

TEST_F(NotifierTest, UnregisterNotRegisteredWarns) {
  TestClassic c(&kFullOps);
  ASSERT_TRUE(space_->RegisterClassic(nullptr).ok());
  space_->UnregisterClassic(&c);
  EXPECT_THAT(warnings_, ElementsAre(Warning::kUnregisterNotRegistered));
}

// ---- §5 release --------------------------------------------------------------

// The review of v2 of the series (2019-10-29, the review that started the project: docs/bugs.md): with both
// interval and classic subscribers, the interval release ran twice.
TEST_F(NotifierTest, ReviewDoubleItreeRelease_OneReleaseWalkWithClassicSubscribers) {
  TestInterval a, b;
  Insert(&a, 0, kPage);
  Insert(&b, std::numeric_limits<uint64_t>::max() - kPage + 1, kPage);  // the top page
  TestClassic c1(&kFullOps), c2(&kFullOps);
  ASSERT_TRUE(space_->RegisterClassic(&c1).ok());
  ASSERT_TRUE(space_->RegisterClassic(&c2).ok());
  Release();
  for (TestInterval* t : {&a, &b}) {
    ASSERT_THAT(t->calls, SizeIs(1)) << "P9: exactly one RELEASE invalidate";
    EXPECT_EQ(t->calls[0].event, Event::kRelease);
    EXPECT_TRUE(t->calls[0].blockable);
  }
  EXPECT_EQ(c1.releases, 1);
  EXPECT_EQ(c2.releases, 1);
  Snapshot s = space_->Inspect();
  EXPECT_TRUE(s.released);
  EXPECT_THAT(s.classic, IsEmpty());
  EXPECT_EQ(s.active_invalidate_ranges, 0);
  EXPECT_EQ(s.invalidate_seq % 2, 0u);
  // Subscriptions are still removable after release; nothing is called again.
  space_->RemoveInterval(&a);
  space_->RemoveInterval(&b);
  space_->UnregisterClassic(&c1);
  space_->UnregisterClassic(&c2);
  EXPECT_EQ(c1.releases, 1);
  EXPECT_THAT(a.calls, SizeIs(1));
}

TEST_F(NotifierTest, ReleaseWithOnlyIntervalSubscriptions) {
  TestInterval a;
  Insert(&a, 5 * kPage, kPage);
  Release();
  ASSERT_THAT(a.calls, SizeIs(1));
  EXPECT_EQ(a.calls[0].event, Event::kRelease);
  space_->RemoveInterval(&a);
}

TEST_F(NotifierTest, ReleaseRacingUnregisterCallsReleaseAtMostOnce) {
  for (int i = 0; i < 200; ++i) {
    AddressSpace* space = AddressSpace::Create();
    space->Grab();
    TestClassic c(&kFullOps);
    ASSERT_TRUE(space->RegisterClassic(&c).ok());
    std::thread t([&] { space->UnregisterClassic(&c); });
    space->PutUser();
    t.join();
    EXPECT_EQ(c.releases, 1) << "iteration " << i;
    space->Drop();
  }
}

// ---- seq wrap-around ---------------------------------------------------------

TEST(NotifierWrapTest, SeqWrapsAroundKeepingParity) {
  AddressSpaceOptions o;
  o.testing_only_initial_seq = std::numeric_limits<Seq>::max() - 1;  // even
  AddressSpace* space = AddressSpace::Create(o);
  TestInterval t;
  t.space = space;
  ASSERT_TRUE(space->InsertInterval(&t, 0, kPage, &kIntervalOps).ok());
  EXPECT_EQ(t.seq_for_testing(), std::numeric_limits<Seq>::max() - 2);
  const Seq seq = t.ReadBegin();
  ASSERT_TRUE(space->InvalidateRangeStart(MakeRange(0, kPage)).ok());
  EXPECT_EQ(space->Inspect().invalidate_seq, std::numeric_limits<Seq>::max());  // odd
  EXPECT_TRUE(t.ReadRetry(seq));
  space->InvalidateRangeEnd(MakeRange(0, kPage));
  EXPECT_EQ(space->Inspect().invalidate_seq, 0u);  // wrapped, even
  const Seq seq2 = t.ReadBegin();
  EXPECT_FALSE(t.ReadRetry(seq2));
  TestInterval u;  // inserted idle at global 0: seq = max, odd
  u.space = space;
  ASSERT_TRUE(space->InsertInterval(&u, 0, kPage, &kIntervalOps).ok());
  EXPECT_EQ(u.seq_for_testing(), std::numeric_limits<Seq>::max());
  space->RemoveInterval(&t);
  space->RemoveInterval(&u);
  space->PutUser();
}

}  // namespace
}  // namespace nf
