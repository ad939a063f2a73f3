// sched_bench: what a context switch and a scheduled run cost. Prints medians of
// a few repetitions; asserts nothing. (The only clock in sync/.)
//
//   switch      one raw SwitchContext between two fibers
//   yield       one scheduler decision that keeps the running thread
//   yield+sw    one scheduler decision that switches threads
//   toy exec/s  Scheduler::Run of 3 threads x 30 lock/unlock of one mutex, each
//               run with fresh 64 pseudo-random choice bytes (a fuzzer's loop)
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <vector>

#include "sync/sync.h"
#include "sync/fiber.h"
#include "sync/scheduler.h"

namespace nf::sched {
namespace {

using Clock = std::chrono::steady_clock;

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// Two fibers ping-pong kRounds times each; main starts the first and is resumed
// when it exits.
struct PingPong {
  static constexpr int kRounds = 1000000;
  Context main;
  Fiber a, b;

  static void RunA(void* arg) {
    auto* p = static_cast<PingPong*>(arg);
    for (int i = 0; i < kRounds; ++i) SwitchContext(p->a.context(), p->b.context());
    ExitFiber(&p->a, &p->main);
  }
  static void RunB(void* arg) {
    auto* p = static_cast<PingPong*>(arg);
    for (;;) SwitchContext(p->b.context(), p->a.context());
  }

  double NsPerSwitch() {
    a.Start(&RunA, this);
    b.Start(&RunB, this);
    InitCurrentContext(&main);
    const auto t0 = Clock::now();
    SwitchContext(&main, a.context());
    const auto t1 = Clock::now();
    return Seconds(t0, t1) * 1e9 / (2.0 * kRounds);
  }
};

double NsPerYield(Scheduler& s, bool switching) {
  constexpr int kYields = 200000;
  std::vector<uint8_t> bytes;
  if (switching) {
    // Each byte picks the thread that is not running: runnable[b % 2].
    bytes.resize(2 * kYields + 8);
    for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>(i & 1);
  }
  std::vector<std::function<void()>> threads;
  for (int id = 0; id < 2; ++id) {
    threads.push_back([] {
      for (int i = 0; i < kYields; ++i) sync::YieldPoint("bench");
    });
  }
  const auto t0 = Clock::now();
  RunResult r = s.Run(threads, ScheduleInput::Direct(bytes));
  const auto t1 = Clock::now();
  if (!r.ok()) std::printf("unexpected: %s\n", r.description.c_str());
  return Seconds(t0, t1) * 1e9 / (2.0 * kYields);
}

double ToyExecsPerSecond(Scheduler& s) {
  constexpr int kRuns = 20000;
  sync::Mutex mu;
  long counter = 0;
  std::vector<std::function<void()>> threads;
  for (int id = 0; id < 3; ++id) {
    threads.push_back([&] {
      for (int i = 0; i < 30; ++i) {
        sync::MutexLock l(&mu);
        ++counter;
      }
    });
  }
  uint64_t x = 88172645463325252ULL;
  std::vector<uint8_t> bytes(64);
  const auto t0 = Clock::now();
  for (int run = 0; run < kRuns; ++run) {
    for (auto& b : bytes) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      b = static_cast<uint8_t>(x);
    }
    RunResult r = s.Run(threads, ScheduleInput::Direct(bytes));
    if (!r.ok()) std::printf("unexpected: %s\n", r.description.c_str());
  }
  const auto t1 = Clock::now();
  if (counter != 90L * kRuns) std::printf("unexpected counter %ld\n", counter);
  return kRuns / Seconds(t0, t1);
}

}  // namespace
}  // namespace nf::sched

int main() {
  using namespace nf::sched;
  constexpr int kReps = 5;
  std::vector<double> sw, y, ysw, toy;
  Scheduler::Options unbounded;
  unbounded.step_bound = uint64_t{1} << 40;  // the yield loops take 400,000 steps
  Scheduler s(unbounded);
  for (int rep = 0; rep < kReps; ++rep) {
    PingPong p;
    sw.push_back(p.NsPerSwitch());
    y.push_back(NsPerYield(s, false));
    ysw.push_back(NsPerYield(s, true));
    toy.push_back(ToyExecsPerSecond(s));
  }
  std::printf("switch       %8.1f ns   (raw SwitchContext, median of %d)\n", Median(sw), kReps);
  std::printf("yield        %8.1f ns   (decision, no switch)\n", Median(y));
  std::printf("yield+sw     %8.1f ns   (decision and switch)\n", Median(ysw));
  std::printf("toy exec/s   %8.0f      (3 threads x 30 lock/unlock, 64 choice bytes)\n",
              Median(toy));
  return 0;
}
