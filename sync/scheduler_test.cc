// Tests of the deterministic scheduler and of the NF_SYNC_SCHED flavour of the
// sync seam (sync/sync_sched.h). Built with NF_SYNC_SCHED; links nf_sched only.
#include "sync/scheduler.h"

#include <cfenv>
#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "sync/sync.h"
#include "sync/fiber.h"
#include "gtest/gtest.h"

namespace nf::sched {
namespace {

using Bodies = std::vector<std::function<void()>>;
using Bytes = std::vector<uint8_t>;

static_assert(sync::kDeterministic, "this test is built in the NF_SYNC_SCHED flavour");

// Deterministic pseudo-random byte strings for "many schedules" tests.
Bytes PseudoRandomBytes(uint64_t seed, size_t n) {
  Bytes out(n);
  uint64_t x = seed * 0x9e3779b97f4a7c15ULL + 1;
  for (auto& b : out) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    b = static_cast<uint8_t>(x >> 32);
  }
  return out;
}

// Calls fn on every string of `len` bytes over {0, .., radix-1}.
template <typename Fn>
void ForEachByteString(int len, int radix, Fn fn) {
  Bytes b(len, 0);
  for (;;) {
    fn(b);
    int i = 0;
    while (i < len && ++b[i] == radix) b[i++] = 0;
    if (i == len) return;
  }
}

TEST(SchedulerTest, InterleavesInTheOrderTheChoiceBytesDictate) {
  Scheduler s;
  std::vector<int> log;
  auto body = [&log](int id) {
    return [&log, id] {
      for (int i = 0; i < 3; ++i) {
        sync::YieldPoint("step");
        log.push_back(10 * id + i);
      }
    };
  };
  Bodies threads = {body(0), body(1)};

  // Decisions while both threads are runnable consume one byte each:
  //   b0=0 t0 starts; it yields at once. b1=1 -> t1, which yields at once.
  //   b2=1 t1 logs 10.  b3=0 t0 logs 0.  b4=1 t1 logs 11.  b5=0 t0 logs 1.
  //   b6=0 t0 logs 2 and ends. Only t1 is left: it logs 12 with no byte read.
  const Bytes bytes = {0, 1, 1, 0, 1, 0, 0, 1, 1};
  RunResult r = s.Run(threads, ScheduleInput::Direct(bytes));
  ASSERT_TRUE(r.ok()) << r.description;
  EXPECT_EQ(log, (std::vector<int>{10, 0, 11, 1, 2, 12}));
  EXPECT_EQ(r.steps, 9u);  // 1 initial + 6 yields + 2 thread ends

  // All zeros: the lowest runnable thread every time.
  log.clear();
  const Bytes zeros(16, 0);
  ASSERT_TRUE(s.Run(threads, ScheduleInput::Direct(zeros)).ok());
  EXPECT_EQ(log, (std::vector<int>{0, 1, 2, 10, 11, 12}));

  // No bytes: keep running the current thread.
  log.clear();
  ASSERT_TRUE(s.Run(threads, ScheduleInput::Direct({})).ok());
  EXPECT_EQ(log, (std::vector<int>{0, 1, 2, 10, 11, 12}));

  // Strict alternation.
  log.clear();
  const Bytes alternate = {1, 0, 1, 0, 1, 0, 1, 0, 1};
  ASSERT_TRUE(s.Run(threads, ScheduleInput::Direct(alternate)).ok());
  // b0=1 t1 starts, yields; b1=0 t0 yields; b2=1 t1 logs 10; b3=0 t0 logs 0; ...
  EXPECT_EQ(log, (std::vector<int>{10, 0, 11, 1, 12, 2}));
}

TEST(SchedulerTest, DecodeIsTotalAndDeterministic) {
  ScheduleInput empty = ScheduleInput::Decode({});
  EXPECT_EQ(empty.strategy, Strategy::kDirect);
  EXPECT_TRUE(empty.choices.empty());

  const Bytes direct = {0, 7, 8, 9};
  ScheduleInput d = ScheduleInput::Decode(direct);
  EXPECT_EQ(d.strategy, Strategy::kDirect);
  EXPECT_EQ(Bytes(d.choices.begin(), d.choices.end()), (Bytes{7, 8, 9}));

  const Bytes unassigned = {200, 1, 2};  // not a strategy (yet): direct
  EXPECT_EQ(ScheduleInput::Decode(unassigned).strategy, Strategy::kDirect);

  const Bytes pct = {1, 5, 3, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0xff};
  ScheduleInput p = ScheduleInput::Decode(pct);
  EXPECT_EQ(p.strategy, Strategy::kPct);
  EXPECT_EQ(p.pct_depth, 2);                 // 1 + 5 % 4
  EXPECT_EQ(p.pct_horizon, 64u << 3);        // 64 << (3 % 8)
  EXPECT_EQ(p.pct_seed, 0x0807060504030201ULL);

  const Bytes short_pct = {1};
  ScheduleInput sp = ScheduleInput::Decode(short_pct);
  EXPECT_EQ(sp.strategy, Strategy::kPct);
  EXPECT_EQ(sp.pct_depth, 1);
  EXPECT_EQ(sp.pct_horizon, kMinPctHorizon);
  EXPECT_EQ(sp.pct_seed, 0u);
}

// A small program that uses every primitive; three threads.
struct Mixed {
  sync::Mutex mu;
  int counter ABSL_GUARDED_BY(mu) = 0;
  sync::Atomic<int> hits{0};
  sync::WaitQueue wq;

  Bodies Threads() {
    Bodies b;
    for (int id = 0; id < 2; ++id) {
      b.push_back([this, id] {
        SetLabel(id == 0 ? "incrementer 0" : "incrementer 1");
        for (int i = 0; i < 5; ++i) {
          {
            sync::MutexLock l(&mu);
            ++counter;
          }
          hits.FetchAdd(1);
        }
        wq.WakeAll();
      });
    }
    b.push_back([this] {
      SetLabel("waiter");
      wq.WaitUntil([this] {
        sync::MutexLock l(&mu);
        return counter == 10;
      });
      Note("saw 10");
    });
    return b;
  }
};

TEST(SchedulerTest, SameBytesGiveTheSameTraceByteForByte) {
  for (uint64_t seed = 0; seed < 20; ++seed) {
    const Bytes bytes = PseudoRandomBytes(seed, 64);
    std::string first;
    for (int rep = 0; rep < 2; ++rep) {
      Scheduler s;  // a fresh scheduler each time: nothing carries over
      Mixed m;
      Bodies threads = m.Threads();
      Trace trace;
      RunResult r = s.Run(threads, ScheduleInput::Decode(bytes), &trace);
      ASSERT_TRUE(r.ok()) << r.description;
      EXPECT_EQ(m.hits.Load(), 10);
      const std::string text = trace.ToString();
      EXPECT_NE(text.find("yield mutex.lock"), std::string::npos);
      EXPECT_NE(text.find("# end ok"), std::string::npos);
      if (rep == 0) {
        first = text;
      } else {
        EXPECT_EQ(text, first) << "seed " << seed;
      }
    }
  }
}

TEST(SchedulerTest, TracingDoesNotChangeTheRun) {
  Scheduler s;
  for (uint64_t seed = 0; seed < 20; ++seed) {
    const Bytes bytes = PseudoRandomBytes(seed, 48);
    Mixed a, b;
    Bodies ta = a.Threads(), tb = b.Threads();
    Trace trace;
    RunResult with = s.Run(ta, ScheduleInput::Direct(bytes), &trace);
    RunResult without = s.Run(tb, ScheduleInput::Direct(bytes), nullptr);
    EXPECT_EQ(with.steps, without.steps);
    EXPECT_EQ(with.outcome, without.outcome);
  }
}

TEST(SchedulerTest, LockOrderDeadlockIsReportedNamingBothThreads) {
  Scheduler s;
  sync::Mutex a, b;
  Bodies threads = {
      [&] {
        SetLabel("lock A then B");
        a.Lock();
        b.Lock();
        b.Unlock();
        a.Unlock();
      },
      [&] {
        SetLabel("lock B then A");
        b.Lock();
        a.Lock();
        a.Unlock();
        b.Unlock();
      },
  };
  // t0 starts (b0=0) and takes A (b1=0); at B's yield t1 is chosen (b2=1) and
  // takes B (b3=1); at A's yield t0 is chosen (b4=0) and blocks on B; t1 then
  // blocks on A.
  const Bytes bytes = {0, 0, 1, 1, 0};
  Trace trace;
  RunResult r = s.Run(threads, ScheduleInput::Direct(bytes), &trace);
  ASSERT_EQ(r.outcome, Outcome::kDeadlock) << trace.ToString();
  ASSERT_EQ(r.threads.size(), 2u);
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(r.threads[i].thread, i);
    EXPECT_EQ(r.threads[i].status, ThreadStatus::kBlocked);
    EXPECT_STREQ(r.threads[i].point, "mutex.lock");
  }
  EXPECT_EQ(r.threads[0].label, "lock A then B");
  EXPECT_EQ(r.threads[1].label, "lock B then A");
  EXPECT_NE(r.description.find("t0 blocked at mutex.lock [lock A then B]"), std::string::npos)
      << r.description;
  EXPECT_NE(r.description.find("t1 blocked at mutex.lock [lock B then A]"), std::string::npos)
      << r.description;
  EXPECT_NE(trace.ToString().find("# end deadlock"), std::string::npos);

  // The same program completes under other schedules, and the scheduler is
  // reusable after a deadlock (the mutexes are new: the old ones stay held).
  sync::Mutex a2, b2;
  Bodies ordered = {
      [&] { a2.Lock(); b2.Lock(); b2.Unlock(); a2.Unlock(); },
      [&] { b2.Lock(); a2.Lock(); a2.Unlock(); b2.Unlock(); },
  };
  EXPECT_TRUE(s.Run(ordered, ScheduleInput::Direct({})).ok());

  // Among all short schedules, both outcomes occur and nothing else does.
  int deadlocks = 0, oks = 0;
  ForEachByteString(10, 2, [&](const Bytes& b) {
    sync::Mutex x, y;
    Bodies t = {
        [&] { x.Lock(); y.Lock(); y.Unlock(); x.Unlock(); },
        [&] { y.Lock(); x.Lock(); x.Unlock(); y.Unlock(); },
    };
    RunResult res = s.Run(t, ScheduleInput::Direct(b));
    if (res.outcome == Outcome::kDeadlock) ++deadlocks;
    if (res.ok()) ++oks;
  });
  EXPECT_GT(deadlocks, 0);
  EXPECT_GT(oks, 0);
  EXPECT_EQ(deadlocks + oks, 1 << 10);
}

// Regression: a mutex left held by an abandoned thread was taken to be held by
// the same-numbered thread of the next run ("already holds it" and abort).
TEST(SchedulerTest, MutexHeldByAnAbandonedThreadIsNotHeldByItsSuccessor) {
  Scheduler s;
  sync::Mutex a, b;
  Bodies threads = {
      [&] { a.Lock(); b.Lock(); b.Unlock(); a.Unlock(); },
      [&] { b.Lock(); a.Lock(); a.Unlock(); b.Unlock(); },
  };
  const Bytes bytes = {0, 0, 1, 1, 0};
  ASSERT_EQ(s.Run(threads, ScheduleInput::Direct(bytes)).outcome, Outcome::kDeadlock);
  // Both are still held by the abandoned threads: t0 of the next run blocks.
  Bodies again = {[&] { a.Lock(); a.Unlock(); }};
  RunResult r = s.Run(again, ScheduleInput::Direct({}));
  EXPECT_EQ(r.outcome, Outcome::kDeadlock);
  EXPECT_NE(r.description.find("t0 blocked at mutex.lock"), std::string::npos) << r.description;
}

// A wait queue without WaitQueue's generation check: it blocks whenever cond()
// is false, even if a wake came while cond() ran. The negative control for the
// lost-wakeup test below.
class NaiveWaitQueue {
 public:
  template <typename Cond>
  void WaitUntil(Cond cond) {
    sync::YieldPoint("naive.wait");
    while (!cond()) sync::sched_hooks::Block(this, "naive.wait");
  }
  void WakeAll() {
    sync::sched_hooks::WakeAll(this);
    sync::YieldPoint("naive.wake_all");
  }
};

template <typename Queue>
void RunWaiterAndWaker(Scheduler& s, const Bytes& bytes, RunResult* result, bool* woke) {
  sync::Mutex mu;
  bool flag = false;
  Queue wq;
  *woke = false;
  Bodies threads = {
      [&] {
        SetLabel("waiter");
        wq.WaitUntil([&] {
          mu.Lock();
          const bool f = flag;
          mu.Unlock();  // a yield point: the waker may run between read and return
          return f;
        });
        *woke = true;
      },
      [&] {
        SetLabel("waker");
        mu.Lock();
        flag = true;
        mu.Unlock();
        wq.WakeAll();
      },
  };
  *result = s.Run(threads, ScheduleInput::Direct(bytes));
}

TEST(SchedulerTest, WaitQueueHasNoLostWakeupUnderEverySchedule) {
  Scheduler s;
  int runs = 0;
  ForEachByteString(14, 2, [&](const Bytes& b) {
    RunResult r;
    bool woke = false;
    RunWaiterAndWaker<sync::WaitQueue>(s, b, &r, &woke);
    ASSERT_TRUE(r.ok()) << r.description;
    ASSERT_TRUE(woke);
    ++runs;
  });
  EXPECT_EQ(runs, 1 << 14);

  // The same enumeration finds the lost wakeup of the naive queue: the set of
  // schedules reaches the window the generation check closes.
  int lost = 0;
  ForEachByteString(14, 2, [&](const Bytes& b) {
    RunResult r;
    bool woke = false;
    RunWaiterAndWaker<NaiveWaitQueue>(s, b, &r, &woke);
    if (r.outcome == Outcome::kDeadlock) {
      ++lost;
      EXPECT_EQ(r.threads[0].status, ThreadStatus::kBlocked);
      EXPECT_EQ(r.threads[0].label, "waiter");
      EXPECT_EQ(r.threads[1].status, ThreadStatus::kDone);
    }
  });
  EXPECT_GT(lost, 0);
}

TEST(SchedulerTest, LivelockHitsTheStepBound) {
  Scheduler::Options options;
  options.step_bound = 1000;
  Scheduler s(options);
  sync::Atomic<bool> never{false};
  Bodies threads = {
      [&] {
        SetLabel("spin 0");
        while (!never.Load()) {
        }
      },
      [&] {
        SetLabel("spin 1");
        while (!never.Load()) {
        }
      },
  };
  const Bytes bytes = PseudoRandomBytes(7, 200);
  RunResult r = s.Run(threads, ScheduleInput::Direct(bytes));
  EXPECT_EQ(r.outcome, Outcome::kStepBound);
  EXPECT_EQ(r.steps, 1001u);
  ASSERT_EQ(r.threads.size(), 2u);
  EXPECT_EQ(r.threads[0].status, ThreadStatus::kRunnable);
  EXPECT_STREQ(r.threads[0].point, "atomic.load");
  EXPECT_NE(r.description.find("step-bound: 1000 steps"), std::string::npos) << r.description;
  EXPECT_NE(r.description.find("[spin 1]"), std::string::npos) << r.description;

  // The default bound is the named constant.
  Scheduler d;
  Bodies one = {[&] {
    while (!never.Load()) {
    }
  }};
  RunResult rd = d.Run(one, ScheduleInput::Direct({}));
  EXPECT_EQ(rd.outcome, Outcome::kStepBound);
  EXPECT_EQ(rd.steps, kDefaultStepBound + 1);
}

TEST(SchedulerTest, PctWithAGivenSeedIsDeterministic) {
  Scheduler s;
  std::set<std::string> distinct;
  for (uint64_t seed = 1; seed <= 30; ++seed) {
    std::string first;
    for (int rep = 0; rep < 2; ++rep) {
      Mixed m;
      Bodies threads = m.Threads();
      Trace trace;
      RunResult r = s.Run(threads, ScheduleInput::Pct(seed, 3, 64), &trace);
      ASSERT_TRUE(r.ok()) << r.description;
      const std::string text = trace.ToString();
      EXPECT_NE(text.find("pct depth=3 horizon=64"), std::string::npos);
      if (rep == 0) {
        first = text;
      } else {
        EXPECT_EQ(text, first) << "seed " << seed;
      }
    }
    distinct.insert(first);
  }
  EXPECT_GT(distinct.size(), 5u);  // the seed matters
}

TEST(SchedulerTest, PctDepthOneRunsTheTopPriorityThreadUntilItBlocks) {
  // With d = 1 there are no change points: the highest-priority thread runs
  // alone until it ends, so each thread's yields form one contiguous block.
  Scheduler s;
  for (uint64_t seed = 0; seed < 10; ++seed) {
    std::vector<int> log;
    Bodies threads;
    for (int id = 0; id < 3; ++id) {
      threads.push_back([&log, id] {
        for (int i = 0; i < 4; ++i) {
          sync::YieldPoint("step");
          log.push_back(id);
        }
      });
    }
    ASSERT_TRUE(s.Run(threads, ScheduleInput::Pct(seed, 1, 64)).ok());
    ASSERT_EQ(log.size(), 12u);
    int switches = 0;
    for (size_t i = 1; i < log.size(); ++i) switches += log[i] != log[i - 1];
    EXPECT_EQ(switches, 2) << "seed " << seed;
  }
}

TEST(SchedulerTest, TenThousandRunsReuseTheStacks) {
  Scheduler s;
  sync::Atomic<int> x{0};
  Bodies four;
  for (int id = 0; id < 4; ++id) {
    four.push_back([&x] {
      for (int i = 0; i < 3; ++i) x.FetchAdd(1);
    });
  }
  ASSERT_TRUE(s.Run(four, ScheduleInput::Direct({})).ok());
  const uint64_t mapped = FiberStack::TotalMappings();

  int deadlocks = 0;
  for (int run = 0; run < 10000; ++run) {
    const Bytes bytes = PseudoRandomBytes(run, 24);
    if (run % 50 == 0) {
      // Some runs abandon their fibers mid-way: the next run restarts them.
      sync::Mutex a, b;
      Bodies t = {
          [&] { a.Lock(); b.Lock(); b.Unlock(); a.Unlock(); },
          [&] { b.Lock(); a.Lock(); a.Unlock(); b.Unlock(); },
      };
      const Bytes dl = {0, 0, 1, 1, 0};
      deadlocks += s.Run(t, ScheduleInput::Direct(dl)).outcome == Outcome::kDeadlock;
    } else {
      ASSERT_TRUE(s.Run(four, ScheduleInput::Decode(bytes)).ok());
    }
  }
  EXPECT_EQ(deadlocks, 200);
  EXPECT_EQ(FiberStack::TotalMappings(), mapped);
}

// Two producers and one consumer over a bounded buffer, with every primitive of
// the seam. Invariants: the buffer never holds more than kCapacity items; the
// atomic mirror of the size agrees with the buffer after every change; the
// consumer sees every item exactly once, each producer's items in order.
struct Channel {
  static constexpr int kCapacity = 2;
  sync::Mutex mu;
  int items[kCapacity] ABSL_GUARDED_BY(mu) = {};
  int head ABSL_GUARDED_BY(mu) = 0;
  int count ABSL_GUARDED_BY(mu) = 0;
  sync::WaitQueue not_full, not_empty;
  sync::Atomic<int> size{0};
  bool violated = false;

  void Put(int v) {
    for (;;) {
      not_full.WaitUntil([&] {
        sync::MutexLock l(&mu);
        return count < kCapacity;
      });
      sync::MutexLock l(&mu);
      if (count == kCapacity) continue;  // the other producer filled it first
      items[(head + count) % kCapacity] = v;
      ++count;
      if (size.FetchAdd(1) + 1 != count) violated = true;
      break;
    }
    not_empty.WakeAll();
  }

  int Take() {
    int v;
    for (;;) {
      not_empty.WaitUntil([&] {
        sync::MutexLock l(&mu);
        return count > 0;
      });
      sync::MutexLock l(&mu);
      if (count == 0) continue;
      v = items[head];
      head = (head + 1) % kCapacity;
      --count;
      if (size.FetchSub(1) - 1 != count) violated = true;
      break;
    }
    not_full.WakeAll();
    return v;
  }
};

TEST(SyncSchedTest, ProducerConsumerInvariantHoldsUnderManySchedules) {
  constexpr int kPerProducer = 4;
  Scheduler s;
  auto run = [&](const ScheduleInput& in) {
    Channel ch;
    std::vector<int> got;
    Bodies threads = {
        [&] {
          SetLabel("producer 0");
          for (int i = 0; i < kPerProducer; ++i) ch.Put(100 + i);
        },
        [&] {
          SetLabel("producer 1");
          for (int i = 0; i < kPerProducer; ++i) ch.Put(200 + i);
        },
        [&] {
          SetLabel("consumer");
          for (int i = 0; i < 2 * kPerProducer; ++i) got.push_back(ch.Take());
        },
    };
    RunResult r = s.Run(threads, in);
    ASSERT_TRUE(r.ok()) << r.description;
    ASSERT_FALSE(ch.violated);
    ASSERT_EQ(got.size(), 2u * kPerProducer);
    int next0 = 100, next1 = 200;
    for (int v : got) {
      if (v < 200) {
        ASSERT_EQ(v, next0++);
      } else {
        ASSERT_EQ(v, next1++);
      }
    }
    ASSERT_EQ(ch.size.Load(), 0);
  };
  for (uint64_t seed = 0; seed < 2000; ++seed) {
    const Bytes bytes = PseudoRandomBytes(seed, 96);
    run(ScheduleInput::Direct(bytes));
    if (HasFatalFailure()) return;
  }
  for (uint64_t seed = 0; seed < 500; ++seed) {
    run(ScheduleInput::Pct(seed, 1 + seed % kMaxPctDepth, 128));
    if (HasFatalFailure()) return;
  }
}

// sync/sync.h's ReadSide on this flavour: a section active when Synchronize()
// is called has ended by the time it returns.
TEST(SyncSchedTest, ReadSideSynchronizeWaitsForEarlierSectionsUnderManySchedules) {
  Scheduler s;
  int waited = 0;
  for (uint64_t seed = 0; seed < 2000; ++seed) {
    sync::ReadSide rs;
    int active[2] = {0, 0};  // the id of each reader's open section, 0 if none
    bool violated = false;
    Bodies threads;
    for (int r = 0; r < 2; ++r) {
      threads.push_back([&, r] {
        for (int id = 1; id <= 2; ++id) {
          sync::ReadSection section(&rs);
          active[r] = id;
          sync::YieldPoint("reading");
          active[r] = 0;
        }
      });
    }
    threads.push_back([&] {
      for (int round = 0; round < 2; ++round) {
        const int before[2] = {active[0], active[1]};
        rs.Synchronize();
        for (int r = 0; r < 2; ++r) {
          if (before[r] != 0) ++waited;
          if (before[r] != 0 && active[r] == before[r]) violated = true;
        }
      }
    });
    const Bytes bytes = PseudoRandomBytes(seed, 80);
    RunResult r = s.Run(threads, ScheduleInput::Direct(bytes));
    ASSERT_TRUE(r.ok()) << r.description;
    ASSERT_FALSE(violated) << "seed " << seed;
  }
  EXPECT_GT(waited, 100);  // the schedules do put Synchronize inside sections
}

TEST(SyncSchedTest, AtomicOperationsAreYieldPointsWithPlainSemantics) {
  Scheduler s;
  sync::Atomic<unsigned> u{0};
  sync::Atomic<int> i{5};
  Bodies one = {[&] {
    EXPECT_EQ(u.FetchSub(1), 0u);
    EXPECT_EQ(u.Load(), ~0u);  // wraps like std::atomic
    EXPECT_EQ(i.Exchange(7), 5);
    i.Store(9);
    EXPECT_EQ(i.FetchAdd(1), 9);
    EXPECT_EQ(i.Load(), 10);
  }};
  Trace trace;
  ASSERT_TRUE(s.Run(one, ScheduleInput::Direct({}), &trace).ok());
  const std::string text = trace.ToString();
  for (const char* p : {"atomic.fetch_sub", "atomic.load", "atomic.exchange", "atomic.store",
                        "atomic.fetch_add"}) {
    EXPECT_NE(text.find(std::string("yield ") + p), std::string::npos) << p;
  }
}

TEST(SyncSchedTest, TraceRecordsLabelsNotesWakesAndBlocks) {
  Scheduler s;
  sync::Mutex mu;
  Bodies threads = {
      [&] {
        EXPECT_EQ(CurrentThreadId(), 0);
        EXPECT_TRUE(Tracing());
        SetLabel("holder");
        mu.Lock();
        sync::YieldPoint("holding");
        Note("about to unlock");
        mu.Unlock();
      },
      [&] {
        EXPECT_EQ(CurrentThreadId(), 1);
        SetLabel("contender");
        mu.Lock();
        mu.Unlock();
      },
  };
  // t0 locks; at "holding" t1 runs and blocks; t0 unlocks and wakes it.
  const Bytes bytes = {0, 0, 1, 1};
  Trace trace;
  RunResult r = s.Run(threads, ScheduleInput::Direct(bytes), &trace);
  ASSERT_TRUE(r.ok()) << r.description;
  const std::string text = trace.ToString();
  EXPECT_NE(text.find(" t0 label holder\n"), std::string::npos) << text;
  EXPECT_NE(text.find(" t0 yield holding\n"), std::string::npos) << text;
  EXPECT_NE(text.find(" t1 block mutex.lock\n"), std::string::npos) << text;
  EXPECT_NE(text.find(" t0 note about to unlock\n"), std::string::npos) << text;
  EXPECT_NE(text.find(" t0 wake t1\n"), std::string::npos) << text;
  EXPECT_NE(text.find(" t1 done\n"), std::string::npos) << text;
  EXPECT_EQ(text.rfind("# nf-sched trace v1: threads=2 direct choices=4\n", 0), 0u) << text;
  EXPECT_FALSE(Tracing());
  EXPECT_EQ(CurrentThreadId(), -1);
}

struct Depth {
  int n;
};
Depth& CurrentDepth() {
  static const sync::ThreadLocal<Depth> depth;
  return depth.Get();
}

TEST(SyncSchedTest, EachThreadHasItsOwnThreadLocal) {
  Scheduler s;
  int depths[2] = {-1, -1};
  Bodies threads;
  for (int id = 0; id < 2; ++id) {
    threads.push_back([&depths, id] {
      ++CurrentDepth().n;
      sync::YieldPoint("inside");
      ++CurrentDepth().n;
      sync::YieldPoint("inside");
      depths[id] = CurrentDepth().n;
    });
  }
  const Bytes alternate = {0, 1, 0, 1, 0, 1, 0, 1};
  ASSERT_TRUE(s.Run(threads, ScheduleInput::Direct(alternate)).ok());
  EXPECT_EQ(depths[0], 2);
  EXPECT_EQ(depths[1], 2);
  EXPECT_EQ(CurrentDepth().n, 0);  // the OS thread's own block, untouched
  // A second run starts every fiber's block at zero again.
  ASSERT_TRUE(s.Run(threads, ScheduleInput::Direct(alternate)).ok());
  EXPECT_EQ(depths[0], 2);
  EXPECT_EQ(depths[1], 2);
}

TEST(SyncSchedTest, FloatingPointControlStateIsPerFiber) {
  Scheduler s;
  ASSERT_EQ(std::fegetround(), FE_TONEAREST);
  int seen0 = -1, seen1 = -1;
  Bodies threads = {
      [&] {
        std::fesetround(FE_UPWARD);
        sync::YieldPoint("a");
        sync::YieldPoint("b");
        seen0 = std::fegetround();
      },
      [&] {
        sync::YieldPoint("a");
        seen1 = std::fegetround();
        sync::YieldPoint("b");
      },
  };
  const Bytes alternate = {0, 1, 0, 1, 0, 1, 0, 1};
  ASSERT_TRUE(s.Run(threads, ScheduleInput::Direct(alternate)).ok());
  EXPECT_EQ(seen0, FE_UPWARD);
  EXPECT_EQ(seen1, FE_TONEAREST);
  EXPECT_EQ(std::fegetround(), FE_TONEAREST);
}

// Misuse on purpose: out of the analysis' sight.
void ExerciseMutexWithNoScheduler(sync::Mutex& mu) ABSL_NO_THREAD_SAFETY_ANALYSIS {
  mu.Lock();
  mu.AssertHeld();
  EXPECT_FALSE(mu.TryLock());
  mu.Unlock();
  EXPECT_TRUE(mu.TryLock());
  mu.Unlock();
}

void UnlockWithoutHolding(sync::Mutex& mu) ABSL_NO_THREAD_SAFETY_ANALYSIS { mu.Unlock(); }

TEST(SyncSchedTest, PrimitivesWorkWithNoSchedulerRunning) {
  sync::Mutex mu;
  ExerciseMutexWithNoScheduler(mu);
  sync::Atomic<int> a{1};
  EXPECT_EQ(a.FetchAdd(2), 1);
  EXPECT_EQ(a.Load(), 3);
  sync::WaitQueue wq;
  wq.WaitUntil([] { return true; });
  wq.WakeAll();
  sync::YieldPoint("nothing");
  EXPECT_EQ(&sync::CurrentThreadBlock(), &sync::CurrentThreadBlock());
  sync::ReadSide rs;
  { sync::ReadSection section(&rs); }
  rs.Synchronize();
}

TEST(SyncSchedDeathTest, BlockingWithNoSchedulerIsAHardFailure) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  sync::WaitQueue wq;
  EXPECT_DEATH(wq.WaitUntil([] { return false; }), "would block forever");
}

TEST(SyncSchedDeathTest, UnlockingAMutexNotHeldIsAHardFailure) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        Scheduler s;
        sync::Mutex mu;
        Bodies one = {[&] {
          SetLabel("bad unlock");
          UnlockWithoutHolding(mu);
        }};
        s.Run(one, ScheduleInput::Direct({}));
      },
      "does not hold it.*t0.*bad unlock");
}

}  // namespace
}  // namespace nf::sched
