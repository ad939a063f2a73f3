#include "fuzzers/executors/threaded.h"

#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "sync/sync.h"
#include "fuzzers/world/concurrent_world.h"
#include "fuzzers/program/program_text.h"
#include "fuzzers/executors/report_json.h"
#include "fuzzers/oracles/oracles.h"

#if defined(NF_SYNC_SCHED)
#error "fuzzers/threaded.cc runs OS threads: build it in the real-thread flavour"
#endif

namespace nf::fuzz {
namespace {

thread_local int t_thread_index = -1;

class ThreadHost final : public ConcurrentHost {
 public:
  explicit ThreadHost(const Program& program) : program_(program) {}

  int CurrentThread() override { return t_thread_index; }
  bool Tracing() override { return false; }
  void Note(std::string_view) override {}

  void OpBegin(int thread, int index, const Op& op) override {
    BookLock l(&mu_);
    in_flight_[thread] = InFlight{true, index, op};
  }

  [[noreturn]] void Fail(const Failure& failure) override {
    Report(absl::StrCat("\n==== nf tsan_replay: CHECK FAILED ====\n", failure.text, "\n"),
           failure);
  }

  [[noreturn]] void Hang() {
    const Failure hang =
        P7RunEnded({.kind = RunEnded::Kind::kWatchdog, .watchdog_seconds = kWatchdogSeconds});
    Report(absl::StrCat("\n==== nf tsan_replay: HANG ====\n", hang.text, "\n"), hang);
  }

 private:
  struct InFlight {
    bool any = false;
    int index = -1;
    Op op;
  };

  // failure: the first lines of head, for the JSON run document (report_json.h).
  [[noreturn]] void Report(const std::string& head, const Failure& failure) {
    std::string ops;
    {
      BookLock l(&mu_);
      for (int t = 0; t < static_cast<int>(in_flight_.size()); ++t) {
        const InFlight& f = in_flight_[t];
        if (!f.any) continue;
        absl::StrAppend(&ops, "  ", t == ConcurrentWorld::kCleanupThread ? "cleanup" : "T", t,
                        f.index < 0 ? " cleanup op: " : absl::StrCat(" op ", f.index, ": "),
                        PrintOp(f.op), "\n");
      }
    }
    if (JsonReportWanted()) {
      RunRecord r;
      r.executor = "threaded";
      r.program = &program_;
      r.verdict = FailureVerdict(failure);
      r.verdict.where = ops;
      EmitRunJson(r);
    }
    std::fprintf(stderr, "%s\nprogram (text form):\n%s\nlast op begun per thread:\n%s==== end ====\n",
                 head.c_str(), Print(program_).c_str(), ops.c_str());
    std::fflush(stderr);
    std::abort();
  }

  const Program& program_;
  BookMutex mu_;
  std::array<InFlight, kMaxThreads + 1> in_flight_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

void RunThreaded(const Program& program) {
  ThreadHost host(program);
  ConcurrentWorld world(program, &host);
  const int n = static_cast<int>(program.threads.size());
  // The start gate: a mutex and a condition variable, not std::latch, whose wait
  // on a ptrdiff_t counter goes through libstdc++ 12's proxy waiter pool, where we
  // saw a run of one thread and no ops never start (the watchdog fired).
  std::mutex start_mu;
  std::condition_variable start_cv;
  int arrived = 0;
  std::mutex done_mu;
  std::condition_variable done_cv;
  int done = 0;
  std::vector<std::thread> threads;
  threads.reserve(n);
  for (int t = 0; t < n; ++t) {
    threads.emplace_back([&, t] {
      t_thread_index = t;
      {
        CallbackSink::Scope scope(&world);
        {
          std::unique_lock<std::mutex> l(start_mu);
          if (++arrived == n) start_cv.notify_all();
          start_cv.wait(l, [&] { return arrived == n; });
        }
        world.RunThread(t);
      }
      t_thread_index = -1;
      std::lock_guard<std::mutex> l(done_mu);
      ++done;
      done_cv.notify_all();
    });
  }
  {
    std::unique_lock<std::mutex> l(done_mu);
    if (!done_cv.wait_for(l, std::chrono::seconds(kWatchdogSeconds), [&] { return done == n; })) {
      host.Hang();
    }
  }
  for (std::thread& th : threads) th.join();
  if (!world.finished()) {
    host.Fail(NotAProperty("internal: every thread returned but the world did not finish"));
  }
}

}  // namespace nf::fuzz
