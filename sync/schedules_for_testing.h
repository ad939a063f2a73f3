// sync/schedules_for_testing.h: for the scheduler's detector tests
// (race_detector_test.cc, lock_order_test.cc): run a program under many
// schedules.
#ifndef NF_SYNC_SCHEDULES_FOR_TESTING_H_
#define NF_SYNC_SCHEDULES_FOR_TESTING_H_

#include <cstdint>
#include <functional>
#include <vector>

#include "sync/scheduler.h"

namespace nf::sched {

using Bodies = std::vector<std::function<void()>>;

// Every schedule that starts with `bytes` bytes over {0, 1}, then alternates
// (so that a spinning thread lets the others on): the runs' outcomes. `make`
// gives each run fresh bodies and state: a run that ends early abandons its
// threads, with whatever locks they hold.
inline std::vector<RunResult> AllSchedules(Scheduler& s, const std::function<Bodies()>& make,
                                           int bytes) {
  std::vector<RunResult> out;
  for (uint32_t bits = 0; bits < (1u << bytes); ++bits) {
    std::vector<uint8_t> b(bytes + 256);
    for (int i = 0; i < bytes; ++i) b[i] = (bits >> i) & 1;
    for (size_t i = bytes; i < b.size(); ++i) b[i] = i & 1;
    const Bodies bodies = make();
    out.push_back(s.Run(bodies, ScheduleInput::Direct(b)));
  }
  return out;
}

}  // namespace nf::sched

#endif  // NF_SYNC_SCHEDULES_FOR_TESTING_H_
