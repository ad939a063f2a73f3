// Tests of the bounded explorer (sync/explore.h): the schedules it enumerates
// against the closed form, the reduction against plain enumeration, a bug that
// needs one preemption, the bound, and a run that does not replay.
#include "sync/explore.h"

#include <cstdint>
#include <cstdio>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "sync/scheduler.h"
#include "sync/sync.h"

namespace nf::sched {
namespace {

using Bodies = std::vector<std::function<void()>>;
using Verdict = ExploreResult::Verdict;

uint64_t Binomial(int n, int k) {
  if (k < 0 || k > n) return 0;
  uint64_t r = 1;
  for (int i = 1; i <= k; ++i) r = r * static_cast<uint64_t>(n - k + i) / static_cast<uint64_t>(i);
  return r;
}

// Two threads of n yield points each run n + 1 steps each. A schedule is an
// interleaving of the steps in b >= 2 alternating blocks; every switch is a
// preemption but the one after the first thread to finish ends, so b blocks
// cost b - 2 preemptions. The starter has ceil(b/2) blocks, the other
// floor(b/2); n + 1 steps split into k nonempty blocks in C(n, k - 1) ways.
uint64_t ClosedForm(int n, int k) {
  uint64_t total = 0;
  for (int b = 2; b <= k + 2; ++b) {
    const int first = (b + 1) / 2, second = b / 2;
    total += 2 * Binomial(n, first - 1) * Binomial(n, second - 1);
  }
  return total;
}

// Two threads, each with n yield points; each step appends "<thread>" to the
// log; with `touch` every step also operates on one shared object (so every
// pair of steps of different threads is dependent).
struct TwoThreads {
  int n = 0;
  bool touch = false;
  std::string log;
  int shared = 0;
  Scheduler scheduler;
  std::set<std::string> logs;

  Bodies MakeBodies() {
    Bodies bodies;
    for (int t = 0; t < 2; ++t) {
      bodies.push_back([this, t] {
        for (int i = 0; i <= n; ++i) {
          if (touch) sync::sched_hooks::MarkedRmw(&shared, sizeof shared);
          log += static_cast<char>('0' + t);
          if (i < n) sync::YieldPoint("step");
        }
      });
    }
    return bodies;
  }

  ExploreResult Explore(int k, bool reduction) {
    const Bodies bodies = MakeBodies();
    ExploreOptions options;
    options.preemptions = k;
    options.reduction = reduction;
    return nf::sched::Explore(
        [&](absl::Span<const uint8_t> schedule) {
          log.clear();
          const RunResult r = scheduler.Run(bodies, ScheduleInput::Decode(schedule));
          logs.insert(log);
          return r.ok() ? std::string() : r.description;
        },
        options);
  }
};

TEST(ExploreTest, EnumeratesExactlyTheSchedulesWithinTheBound) {
  for (int n = 1; n <= 4; ++n) {
    for (int k = 0; k <= 3; ++k) {
      TwoThreads p;
      p.n = n;
      const ExploreResult r = p.Explore(k, /*reduction=*/false);
      SCOPED_TRACE(absl::StrCat("n=", n, " k=", k));
      EXPECT_EQ(r.verdict, Verdict::kAllPassed);
      EXPECT_EQ(r.stats.schedules, ClosedForm(n, k));
      // Each run a different interleaving.
      EXPECT_EQ(p.logs.size(), r.stats.schedules);
      // Every step independent: one trace.
      EXPECT_EQ(r.stats.terminal_states, 1u);
    }
  }
  // With no bound that is every interleaving of 2 x (n + 1) steps: C(6, 3) for n = 2.
  EXPECT_EQ(ClosedForm(2, 4), Binomial(6, 3));
}

TEST(ExploreTest, ReductionKeepsEveryInterleavingOfDependentSteps) {
  for (int n = 1; n <= 4; ++n) {
    for (int k = 0; k <= 3; ++k) {
      SCOPED_TRACE(absl::StrCat("n=", n, " k=", k));
      // Every step on one object: every interleaving is its own trace, and
      // the reduction prunes nothing.
      TwoThreads dependent;
      dependent.n = n;
      dependent.touch = true;
      const ExploreResult rd = dependent.Explore(k, /*reduction=*/true);
      EXPECT_EQ(rd.verdict, Verdict::kAllPassed);
      EXPECT_EQ(rd.stats.schedules, ClosedForm(n, k));
      EXPECT_EQ(rd.stats.terminal_states, ClosedForm(n, k));
      EXPECT_EQ(rd.stats.pruned, 0u);
    }
  }
}

// With independent steps the reduction cuts the alternatives below a choice
// point reached again (the same step counts, the same running thread) with no
// fewer preemptions spent. Two threads first reach a state twice at 2
// preemptions, so a bound of 3 is the first where it saves schedules.
TEST(ExploreTest, ReductionCollapsesIndependentSteps) {
  for (int n = 2; n <= 4; ++n) {
    SCOPED_TRACE(absl::StrCat("n=", n));
    TwoThreads independent;
    independent.n = n;
    const ExploreResult r2 = independent.Explore(2, /*reduction=*/true);
    EXPECT_EQ(r2.stats.schedules, ClosedForm(n, 2));
    const ExploreResult r3 = independent.Explore(3, /*reduction=*/true);
    EXPECT_EQ(r3.verdict, Verdict::kAllPassed);
    EXPECT_EQ(r3.stats.terminal_states, 1u);
    EXPECT_GT(r3.stats.pruned, 0u);
    EXPECT_LT(r3.stats.schedules, ClosedForm(n, 3));
  }
}

// Three threads; thread t touches the shared object at its steps where
// (t + i) % 3 == 0 and a private one elsewhere; each run's outcome is the order
// of the touches of the shared object. The reduction must reach every outcome
// plain enumeration reaches.
TEST(ExploreTest, ReductionReachesEveryOutcomeOfPlainEnumeration) {
  for (int k = 0; k <= 3; ++k) {
    SCOPED_TRACE(absl::StrCat("k=", k));
    std::set<std::string> outcomes[2];
    uint64_t schedules[2] = {0, 0}, terminals[2] = {0, 0};
    for (int reduce = 0; reduce < 2; ++reduce) {
      Scheduler scheduler;
      int shared = 0;
      int mine[3] = {0, 0, 0};
      std::string order;
      Bodies bodies;
      for (int t = 0; t < 3; ++t) {
        bodies.push_back([&, t] {
          for (int i = 0; i < 3; ++i) {
            if ((t + i) % 3 == 0) {
              sync::sched_hooks::MarkedRmw(&shared, sizeof shared);
              order += static_cast<char>('0' + t);
            } else {
              sync::sched_hooks::MarkedRmw(&mine[t], sizeof mine[t]);
            }
            if (i < 2) sync::YieldPoint("step");
          }
        });
      }
      ExploreOptions options;
      options.preemptions = k;
      options.reduction = reduce == 1;
      const ExploreResult r = Explore(
          [&](absl::Span<const uint8_t> schedule) {
            order.clear();
            const RunResult rr = scheduler.Run(bodies, ScheduleInput::Decode(schedule));
            outcomes[reduce].insert(order);
            return rr.ok() ? std::string() : rr.description;
          },
          options);
      EXPECT_EQ(r.verdict, Verdict::kAllPassed);
      schedules[reduce] = r.stats.schedules;
      terminals[reduce] = r.stats.terminal_states;
    }
    EXPECT_EQ(outcomes[1], outcomes[0]);
    EXPECT_EQ(terminals[1], terminals[0]);
    EXPECT_LE(schedules[1], schedules[0]);
    if (k > 0) {
      EXPECT_GT(outcomes[0].size(), 1u);
    }
    if (k >= 2) {
      EXPECT_LT(schedules[1], schedules[0]);
    }
    std::printf("k=%d: %llu schedules plain, %llu reduced, %zu outcomes\n", k,
                static_cast<unsigned long long>(schedules[0]),
                static_cast<unsigned long long>(schedules[1]), outcomes[0].size());
  }
}

// A lost update (load, then store of load + 1, each its own atomic step)
// needs one preemption between another thread's load and store.
struct LostUpdate {
  Scheduler scheduler;
  sync::Atomic<int> counter{0};
  Bodies bodies;

  LostUpdate() {
    for (int t = 0; t < 2; ++t) {
      bodies.push_back([this] {
        const int v = counter.Load(std::memory_order_relaxed);
        counter.Store(v + 1, std::memory_order_relaxed);
      });
    }
  }

  std::string RunOnce(absl::Span<const uint8_t> schedule) {
    counter.Store(0, std::memory_order_relaxed);
    const RunResult r = scheduler.Run(bodies, ScheduleInput::Decode(schedule));
    if (!r.ok()) return r.description;
    const int v = counter.Load(std::memory_order_relaxed);
    return v == 2 ? std::string() : absl::StrCat("lost update: counter ", v);
  }

  ExploreResult Explore(int k, bool reduction, uint64_t max_schedules = 100000) {
    ExploreOptions options;
    options.preemptions = k;
    options.reduction = reduction;
    options.max_schedules = max_schedules;
    return nf::sched::Explore(
        [this](absl::Span<const uint8_t> schedule) { return RunOnce(schedule); }, options);
  }
};

TEST(ExploreTest, FindsABugThatNeedsOnePreemptionAndItsBytesReplayIt) {
  for (int reduce = 0; reduce < 2; ++reduce) {
    LostUpdate p;
    const ExploreResult none = p.Explore(0, reduce == 1);
    EXPECT_EQ(none.verdict, Verdict::kAllPassed);
    const ExploreResult r = p.Explore(1, reduce == 1);
    ASSERT_EQ(r.verdict, Verdict::kFailed);
    EXPECT_EQ(r.failure, "lost update: counter 1");
    EXPECT_EQ(r.failing_preemptions, 1);
    ASSERT_FALSE(r.failing_schedule.empty());
    EXPECT_EQ(r.failing_schedule[0], 0);  // the direct strategy
    // The bytes alone, decoded as any input's schedule, fail the same way.
    EXPECT_EQ(p.RunOnce(r.failing_schedule), r.failure);
    EXPECT_EQ(p.RunOnce(r.failing_schedule), r.failure);
  }
}

TEST(ExploreTest, StopsAtTheBoundAndSaysSo) {
  TwoThreads p;
  p.n = 3;
  ExploreOptions options;
  const Bodies bodies = p.MakeBodies();
  options.max_schedules = 5;
  options.reduction = false;
  uint64_t progress_calls = 0;
  options.progress_every = 2;
  options.progress = [&](const ExploreStats&) { ++progress_calls; };
  const ExploreResult r = Explore(
      [&](absl::Span<const uint8_t> schedule) {
        return p.scheduler.Run(bodies, ScheduleInput::Decode(schedule)).ok() ? "" : "failed";
      },
      options);
  EXPECT_EQ(r.verdict, Verdict::kBoundReached);
  EXPECT_EQ(r.stats.schedules, 5u);
  EXPECT_EQ(progress_calls, 2u);
}

TEST(ExploreTest, ARunThatDoesNotReplayItsPrefixIsAnError) {
  Scheduler scheduler;
  int runs = 0;
  Bodies bodies;
  for (int t = 0; t < 2; ++t) {
    bodies.push_back([&runs, t] {
      // Thread 0 yields twice in the first run, never after.
      const int yields = t == 1 ? 1 : runs > 1 ? 0 : 2;
      for (int i = 0; i < yields; ++i) sync::YieldPoint("step");
    });
  }
  ExploreOptions options;
  options.reduction = false;
  const ExploreResult r = Explore(
      [&](absl::Span<const uint8_t> schedule) {
        ++runs;
        return scheduler.Run(bodies, ScheduleInput::Decode(schedule)).ok() ? "" : "failed";
      },
      options);
  EXPECT_EQ(r.verdict, Verdict::kError);
  EXPECT_NE(r.error.find("before its prefix"), std::string::npos) << r.error;
}

}  // namespace
}  // namespace nf::sched
