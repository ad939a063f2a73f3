// sync/litmus_for_testing.h: for the weak-memory mode's litmus tests
// (sync/weak_memory_test.cc, kernel/weak_shim_test.cc): every outcome of a
// small program under every schedule the explorer enumerates.
#ifndef NF_SYNC_LITMUS_FOR_TESTING_H_
#define NF_SYNC_LITMUS_FOR_TESTING_H_

#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "sync/explore.h"
#include "sync/scheduler.h"

namespace nf::sched {

// Runs `bodies` under every schedule within `preemptions` preemptions (the
// litmus programs are small: that is all of them), with the weak-memory mode
// on or off; `reset` runs before each run, `outcome` after; returns the set of
// outcomes. A run that does not end ok, or an exploration that does not end
// with every schedule run, fails the test.
inline std::set<std::string> LitmusOutcomes(const std::vector<std::function<void()>>& bodies,
                                            const std::function<void()>& reset,
                                            const std::function<std::string()>& outcome,
                                            bool weak, int preemptions = 8) {
  Scheduler::Options o;
  o.weak_memory = weak;
  Scheduler s(o);
  std::set<std::string> seen;
  ExploreOptions eo;
  eo.preemptions = preemptions;
  eo.max_schedules = 200000;
  const ExploreResult r = Explore(
      [&](absl::Span<const uint8_t> bytes) {
        reset();
        const RunResult rr = s.Run(bodies, ScheduleInput::Decode(bytes));
        if (!rr.ok()) return rr.description;
        seen.insert(outcome());
        return std::string();
      },
      eo);
  EXPECT_EQ(r.verdict, ExploreResult::Verdict::kAllPassed) << r.failure << r.error;
  return seen;
}

}  // namespace nf::sched

#endif  // NF_SYNC_LITMUS_FOR_TESTING_H_
