// Tests of the scheduler's lock-order detector (lock_order.h): a cycle of lock
// classes is reported under every schedule, even one that never deadlocks;
// orders that cannot deadlock are not. Built with NF_SYNC_SCHED.
#include "sync/lock_order.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "sync/scheduler.h"
#include "sync/schedules_for_testing.h"
#include "sync/sync.h"

namespace nf::sched {
namespace {

Scheduler::Options Detecting() {
  Scheduler::Options o;
  o.detect_lock_order = true;
  o.detect_races = false;
  return o;
}

// Two lock classes, and a third instance of the first.
struct Locks {
  sync::Mutex a{"test.A"};
  sync::Mutex b{"test.B"};
  sync::Mutex a2{"test.A"};
  sync::Mutex plain;  // no class: not tracked
  sync::LockMap map{"test.map"};
};

void Nested(sync::Mutex* outer, sync::Mutex* inner) {
  sync::MutexLock l1(outer);
  sync::MutexLock l2(inner);
}

// t0 takes first0 then second0, t1 first1 then second1, on fresh locks; t0
// runs to its end before t1 starts (no deadlock possible).
using Lock = sync::Mutex Locks::*;
RunResult TwoThreads(Scheduler& s, Lock first0, Lock second0, Lock first1, Lock second1) {
  auto l = std::make_shared<Locks>();
  return s.Run(Bodies{[=] { Nested(&(*l.*first0), &(*l.*second0)); },
                      [=] { Nested(&(*l.*first1), &(*l.*second1)); }},
               ScheduleInput::Direct({}));
}

TEST(LockOrderTest, AbBaAcrossTwoThreadsIsReportedWithBothChainsWithoutADeadlock) {
  Scheduler s(Detecting());
  // t0 runs to the end before t1 starts: no deadlock is possible in this
  // schedule, yet the orders A->B (t0) and B->A (t1) form a cycle. Fresh locks
  // per run (TwoThreads): the run abandons t1 holding B.
  const RunResult r = TwoThreads(s, &Locks::a, &Locks::b, &Locks::b, &Locks::a);
  ASSERT_EQ(r.outcome, Outcome::kLockOrder) << r.description;
  EXPECT_EQ(OutcomeName(r.outcome), "lock-order");
  // The cycle closes when t1, holding B, takes A; the chain before it is t0's.
  EXPECT_NE(r.description.find("lock-order inversion: test.A -> test.B -> test.A, a potential "
                               "deadlock: t0 took test.A at step "),
            std::string::npos)
      << r.description;
  EXPECT_NE(r.description.find("then, holding it, test.B at step"), std::string::npos)
      << r.description;
  EXPECT_NE(r.description.find("; t1 took test.B at step "), std::string::npos) << r.description;
  EXPECT_NE(r.description.find("then, holding it, test.A at step"), std::string::npos)
      << r.description;
  // Each acquisition names its source line (MutexLock's caller, in Nested).
  EXPECT_NE(r.description.find("sync/lock_order_test.cc:"), std::string::npos) << r.description;
  // The run did not deadlock: it stopped at t1's acquisition of A, before waiting.
  ASSERT_EQ(r.threads.size(), 2u);
  EXPECT_EQ(r.threads[0].status, ThreadStatus::kDone);
  EXPECT_EQ(r.threads[1].status, ThreadStatus::kRunnable);
  // Replayable: the same bodies and schedule give the same report.
  EXPECT_EQ(TwoThreads(s, &Locks::a, &Locks::b, &Locks::b, &Locks::a).description, r.description);
}

TEST(LockOrderTest, AbBaIsReportedUnderEverySchedule) {
  Scheduler s(Detecting());
  auto make = [] {
    auto l = std::make_shared<Locks>();
    return Bodies{[l] { Nested(&l->a, &l->b); }, [l] { Nested(&l->b, &l->a); }};
  };
  for (const RunResult& r : AllSchedules(s, make, 6)) {
    // Under every schedule the second order is seen before any thread waits
    // for the first: never a deadlock, always the inversion.
    EXPECT_EQ(r.outcome, Outcome::kLockOrder) << r.description;
  }
}

TEST(LockOrderTest, ALongerCycleGivesEveryEdge) {
  Scheduler s(Detecting());
  sync::Mutex a{"test.A"}, b{"test.B"}, c{"test.C"};
  const Bodies bodies{[&] { Nested(&a, &b); }, [&] { Nested(&b, &c); }, [&] { Nested(&c, &a); }};
  const RunResult r = s.Run(bodies, ScheduleInput::Direct({}));
  ASSERT_EQ(r.outcome, Outcome::kLockOrder) << r.description;
  EXPECT_NE(r.description.find("test.A -> test.B -> test.C -> test.A"), std::string::npos)
      << r.description;
  EXPECT_NE(r.description.find("t0 took test.A"), std::string::npos) << r.description;
  EXPECT_NE(r.description.find("t1 took test.B"), std::string::npos) << r.description;
  EXPECT_NE(r.description.find("t2 took test.C"), std::string::npos) << r.description;
}

TEST(LockOrderTest, ClassesNotInstances) {
  // t0 orders a -> b, t1 orders b -> a2: a and a2 are two objects of class
  // test.A, so the inversion is there although no object is shared.
  Scheduler s(Detecting());
  const RunResult r = TwoThreads(s, &Locks::a, &Locks::b, &Locks::b, &Locks::a2);
  EXPECT_EQ(r.outcome, Outcome::kLockOrder) << r.description;
}

TEST(LockOrderTest, TheSameOrderEverywhereIsNotReported) {
  Scheduler s(Detecting());
  auto make = [] {
    auto l = std::make_shared<Locks>();
    return Bodies{[l] { Nested(&l->a, &l->b); }, [l] { Nested(&l->a, &l->b); },
                  [l] { Nested(&l->a2, &l->b); }};
  };
  for (const RunResult& r : AllSchedules(s, make, 6)) {
    EXPECT_EQ(r.outcome, Outcome::kOk) << r.description;
  }
}

TEST(LockOrderTest, NestingTwoLocksOfOneClassIsNotReported) {
  // a then a2 in one thread, a2 then a in another: one class, no edge
  // (lock_order.h: same-class nesting is a known miss, not a report).
  Scheduler s(Detecting());
  const RunResult r = TwoThreads(s, &Locks::a, &Locks::a2, &Locks::a2, &Locks::a);
  EXPECT_EQ(r.outcome, Outcome::kOk) << r.description;
}

TEST(LockOrderTest, ALockReleasedBeforeTheOtherIsTakenIsNoOrder) {
  Scheduler s(Detecting());
  auto make = [] {
    auto l = std::make_shared<Locks>();
    return Bodies{[l] { Nested(&l->a, &l->b); },
                  [l] {
                    { sync::MutexLock hold_b(&l->b); }
                    sync::MutexLock then_a(&l->a);
                  }};
  };
  for (const RunResult& r : AllSchedules(s, make, 6)) {
    EXPECT_EQ(r.outcome, Outcome::kOk) << r.description;
  }
}

TEST(LockOrderTest, ATryLockAddsNoEdgeToTheLockItTook) {
  // t1 holds B and only try-locks A: it never waits for A, so B -> A is no
  // order; A is still held by it afterwards.
  Scheduler s(Detecting());
  Locks locks;
  const RunResult r = s.Run(Bodies{[&] { Nested(&locks.a, &locks.b); },
                                   [&] {
                                     sync::MutexLock hold_b(&locks.b);
                                     if (locks.a.TryLock()) locks.a.Unlock();
                                   }},
                            ScheduleInput::Direct({}));
  EXPECT_EQ(r.outcome, Outcome::kOk) << r.description;
}

TEST(LockOrderTest, ALockTakenAfterATryLockIsOrderedAfterIt) {
  // A lock held by a trylock is the source of edges like any other.
  Scheduler s(Detecting());
  Locks locks;
  const RunResult r = s.Run(Bodies{[&] {
                                     if (!locks.a.TryLock()) return;
                                     { sync::MutexLock b(&locks.b); }
                                     locks.a.Unlock();
                                   },
                                   [&] { Nested(&locks.b, &locks.a); }},
                            ScheduleInput::Direct({}));
  EXPECT_EQ(r.outcome, Outcome::kLockOrder) << r.description;
}

TEST(LockOrderTest, AMutexWithoutAClassIsNotTracked) {
  Scheduler s(Detecting());
  const RunResult r = TwoThreads(s, &Locks::a, &Locks::plain, &Locks::plain, &Locks::a);
  EXPECT_EQ(r.outcome, Outcome::kOk) << r.description;
}

TEST(LockOrderTest, ALockHeldAroundAWaitForAMapsRegionIsAnInversion) {
  // The driver bug of docs/bugs.md read_begin_under_user_lock, in miniature:
  // t0 "invalidates" (holds the map) and its callback takes the user lock;
  // t1 holds the user lock around a wait for the invalidation (read_begin:
  // acquire and release the map before waiting).
  Scheduler s(Detecting());
  Locks locks;
  const Bodies bodies{[&] {
                        locks.map.Acquire();
                        { sync::MutexLock callback(&locks.a); }
                        locks.map.Release();
                      },
                      [&] {
                        sync::MutexLock fault(&locks.a);
                        locks.map.AcquireRelease();
                      }};
  const RunResult r = s.Run(bodies, ScheduleInput::Direct({}));
  ASSERT_EQ(r.outcome, Outcome::kLockOrder) << r.description;
  EXPECT_NE(r.description.find("test.map -> test.A -> test.map"), std::string::npos)
      << r.description;
}

TEST(LockOrderTest, AWaitForAMapsRegionWithNoLockHeldIsNoInversion) {
  Scheduler s(Detecting());
  Locks locks;
  const RunResult r = s.Run(Bodies{[&] {
                                     locks.map.Acquire();
                                     { sync::MutexLock callback(&locks.a); }
                                     locks.map.Release();
                                   },
                                   [&] {
                                     locks.map.AcquireRelease();
                                     sync::MutexLock fault(&locks.a);
                                   },
                                   [&] {
                                     // A non-blocking region entered holding A:
                                     // a trylock of the map, no order.
                                     sync::MutexLock held(&locks.a);
                                     locks.map.Acquire(/*trylock=*/true);
                                     locks.map.Release();
                                   }},
                            ScheduleInput::Direct({}));
  EXPECT_EQ(r.outcome, Outcome::kOk) << r.description;
}

TEST(LockOrderTest, TheGraphIsPerRun) {
  // One run orders A -> B, the next B -> A: no report (each run is a function
  // of its own input alone).
  Scheduler s(Detecting());
  Locks locks;
  EXPECT_TRUE(s.Run(Bodies{[&] { Nested(&locks.a, &locks.b); }}, ScheduleInput::Direct({})).ok());
  EXPECT_TRUE(s.Run(Bodies{[&] { Nested(&locks.b, &locks.a); }}, ScheduleInput::Direct({})).ok());
}

TEST(LockOrderTest, OffReportsNothing) {
  Scheduler::Options o;
  o.detect_lock_order = false;
  o.detect_races = false;
  Scheduler s(o);
  EXPECT_TRUE(TwoThreads(s, &Locks::a, &Locks::b, &Locks::b, &Locks::a).ok());
}

// The detector alone, without a scheduler.
TEST(LockOrderTest, SameThreadAbThenBaIsACycleToo) {
  LockOrder lo;
  lo.Reset();
  int a, b;
  const CodePlace here{"x/y/z.cc", 1, 0};
  EXPECT_FALSE(lo.Acquire(0, 1, &a, "A", false, "p", "", here));
  EXPECT_FALSE(lo.Acquire(0, 2, &b, "B", false, "p", "op", here));
  lo.Release(0, &b);
  lo.Release(0, &a);
  EXPECT_FALSE(lo.Acquire(0, 3, &b, "B", false, "p", "", here));
  ASSERT_TRUE(lo.Acquire(0, 4, &a, "A", false, "p", "", here));
  ASSERT_EQ(lo.report().cycle.size(), 2u);
  EXPECT_EQ(lo.report().ToString(),
            "lock-order inversion: A -> B -> A, a potential deadlock: t0 took A at step 1 in "
            "y/z.cc:1, then, holding it, B at step 2 [op] in y/z.cc:1; t0 took B at step 3 in "
            "y/z.cc:1, then, holding it, A at step 4 in y/z.cc:1");
  lo.Reset();
  EXPECT_TRUE(lo.report().cycle.empty());
  EXPECT_FALSE(lo.Acquire(0, 1, &b, "B", false, "p", "", here));
  EXPECT_FALSE(lo.Acquire(0, 2, &a, "A", false, "p", "", here));
}

}  // namespace
}  // namespace nf::sched
