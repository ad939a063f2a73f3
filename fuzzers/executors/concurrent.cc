#include "fuzzers/executors/concurrent.h"

#include <array>
#include <cstdlib>
#include <functional>
#include <string>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "sync/sync.h"
#include "fuzzers/world/concurrent_world.h"
#include "fuzzers/program/program_text.h"
#include "fuzzers/executors/report_json.h"
#include "fuzzers/oracles/oracles.h"
#include "sync/scheduler.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NF_CONCURRENT_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define NF_CONCURRENT_ASAN 1
#endif
#if defined(NF_CONCURRENT_ASAN)
#include <sanitizer/common_interface_defs.h>
#endif

#if !defined(NF_SYNC_SCHED)
#error "fuzzers/concurrent.cc is the deterministic executor: build it with NF_SYNC_SCHED"
#endif

namespace nf::fuzz {
namespace {

// One long-lived scheduler: its fiber stacks are mapped once and reused.
sched::Scheduler& TheScheduler() {
  static sched::Scheduler* const scheduler = new sched::Scheduler();
  return *scheduler;
}

// trace_events: the trace behind `trace`, for the JSON document (report_json.h).
void Report(const Program& program, const Failure& failure, const std::string& trace,
            const sched::Trace* trace_events) {
  if (JsonReportWanted()) EmitRunJson(ConcurrentRunRecord(program, failure, trace_events));
  const std::string_view what = failure.text;
  const sched::ScheduleInput in = sched::ScheduleInput::Decode(program.schedule);
  std::fprintf(stderr,
               "\n==== nf concurrent_fuzzer: CHECK FAILED ====\n%.*s\n\n"
               "program (text form):\n%s"
               "schedule: %s\n"
               "interleaving (<step> t<thread> <event>):\n%s==== end ====\n",
               static_cast<int>(what.size()), what.data(), Print(program).c_str(),
               in.DebugString().c_str(), trace.c_str());
  std::fflush(stderr);
}

// While a traced run is in progress: what the sanitizer's death callback prints.
const Program* g_traced_program = nullptr;
const sched::Trace* g_traced_trace = nullptr;

#if defined(NF_CONCURRENT_ASAN)
void PrintTraceOnDeath() {
  if (g_traced_trace == nullptr || g_traced_program == nullptr) return;
  // The access the sanitizer reports is this thread's, at this step.
  if (sched::CurrentThreadId() >= 0) sched::Note("violation: the sanitizer's report (above)");
  Report(*g_traced_program,
         NotAProperty("a sanitizer report ended the run (above); the interleaving so far:"),
         g_traced_trace->ToString(), g_traced_trace);
}
#endif

class SchedHost final : public ConcurrentHost {
 public:
  SchedHost(const Program& program, sched::Trace* trace) : program_(program), trace_(trace) {}

  int CurrentThread() override { return sched::CurrentThreadId(); }
  bool Tracing() override { return trace_ != nullptr; }
  void Note(std::string_view text) override { sched::Note(text); }

  void OpBegin(int thread, int index, const Op& op) override {
    if (trace_ == nullptr) return;  // labels only matter in a traced (reported) run
    sched::SetLabel(absl::StrCat(
        thread == ConcurrentWorld::kCleanupThread ? "cleanup" : absl::StrCat("T", thread),
        index < 0 ? (thread == ConcurrentWorld::kCleanupThread ? "" : " cleanup")
                  : absl::StrCat(" op ", index),
        ": ", PrintOp(op)));
  }

  [[noreturn]] void Fail(const Failure& failure) override {
    const std::string_view what = failure.text;
    if (trace_ != nullptr && sched::CurrentThreadId() >= 0) {
      // The violation as an event of the thread that saw it, at this step: the
      // last event of the trace, which the report's step and a timeline point
      // at (the callback or op return that broke the property, not the yield
      // before it).
      sched::Note(absl::StrCat("violation: ", std::string(what.substr(0, what.find('\n')))));
    }
    if (trace_ != nullptr || sched::CurrentThreadId() < 0) {
      // The traced run (or no run to stop): report now, with the trace so far.
      Report(program_, failure,
             trace_ == nullptr ? std::string("(no trace)\n")
                               : absl::StrCat(trace_->ToString(), "# stopped here\n"),
             trace_);
      std::abort();
    }
    if (failure_.empty()) failure_ = failure;
    Stop();
  }

  void CheckNotFailed() override {
    if (!failure_.empty()) Stop();
  }

  const Failure& failure() const { return failure_; }

 private:
  // Blocks the calling fiber for good: the other threads stop at their next op
  // or callback, the run ends as a deadlock, and the executor re-runs the input
  // with the trace on. The abandoned fibers' objects are never touched again.
  [[noreturn]] void Stop() {
    for (;;) sync::sched_hooks::Block(&failure_, "stopped after a violation");
  }

  const Program& program_;
  sched::Trace* const trace_;
  Failure failure_;
};

// One run. Returns nothing (empty) or what failed (in an untraced run; a traced
// run reports a property violation itself and aborts).
Failure Execute(const Program& program, sched::Trace* trace) {
  SchedHost host(program, trace);
  ConcurrentWorld world(program, &host);
  CallbackSink::Scope scope(&world);
  const int n = static_cast<int>(program.threads.size());
  std::array<std::function<void()>, kMaxThreads> bodies;
  for (int t = 0; t < n; ++t) bodies[t] = [&world, t] { world.RunThread(t); };
  if (trace != nullptr) {
    g_traced_program = &program;
    g_traced_trace = trace;
  }
  const sched::RunResult r = TheScheduler().Run(absl::MakeConstSpan(bodies.data(), n),
                                                sched::ScheduleInput::Decode(program.schedule),
                                                trace);
  g_traced_program = nullptr;
  g_traced_trace = nullptr;
  if (!host.failure().empty()) return host.failure();
  using Ended = RunEnded::Kind;
  const RunEnded ended{.kind = r.outcome == sched::Outcome::kDataRace    ? Ended::kDataRace
                               : r.outcome == sched::Outcome::kLockOrder ? Ended::kLockOrder
                               : !r.ok()                                 ? Ended::kStuck
                                                                         : Ended::kFinished,
                       .description = r.description};
  if (Failure f = CheckRunEnded(ended); !f.empty()) return f;
  if (!world.finished()) {
    return NotAProperty("internal: every thread returned but the world did not finish");
  }
  return Failure{};
}

}  // namespace

void RunConcurrent(const Program& program, const ConcurrentOptions& options) {
  if (options.trace == nullptr && !options.json) {
    const Failure failure = Execute(program, nullptr);
    if (failure.empty()) return;
    // Same bytes, same run: again, with the trace on, to report it.
    sched::Trace trace;
    const Failure again = Execute(program, &trace);
    if (!again.empty()) {
      Report(program, again, trace.ToString(), &trace);
    } else {
      Report(program,
             NotAProperty(absl::StrCat("NONDETERMINISM: the run failed (", failure.text,
                                       ") but the same input run again with the trace on passed")),
             trace.ToString(), &trace);
    }
    std::abort();
  }
#if defined(NF_CONCURRENT_ASAN)
  // Only when tracing (nf_ctrace): libFuzzer installs its own death callback,
  // which saves the crashing input, and there can be only one.
  static const bool installed = [] {
    __sanitizer_set_death_callback(&PrintTraceOnDeath);
    return true;
  }();
  (void)installed;
#endif
  sched::Trace trace;
  if (options.trace != nullptr) {
    std::fprintf(options.trace, "%s", Print(program).c_str());
    std::fprintf(options.trace, "# schedule: %s\n",
                 sched::ScheduleInput::Decode(program.schedule).DebugString().c_str());
  }
  const Failure failure = Execute(program, &trace);
  if (options.trace != nullptr) {
    std::fprintf(options.trace, "%s", trace.ToString().c_str());
    std::fflush(options.trace);
  }
  if (!failure.empty()) {
    Report(program, failure, trace.ToString(), &trace);
    std::abort();
  }
  if (options.json) EmitRunJson(ConcurrentRunRecord(program, Failure{}, &trace));
}

std::string RunConcurrentQuiet(const Program& program) { return Execute(program, nullptr).text; }

std::string ConcurrentTrace(const Program& program) {
  sched::Trace trace;
  const Failure failure = Execute(program, &trace);
  if (!failure.empty()) {
    Report(program, failure, trace.ToString(), &trace);
    std::abort();
  }
  return trace.ToString();
}

}  // namespace nf::fuzz
