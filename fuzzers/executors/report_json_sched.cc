// fuzzers/executors/report_json_sched.cc: the concurrent executor's run document
// (report_json.h), from the scheduler's trace. Part of nf_fuzz_support_sched
// only: it needs the ScheduleInput and Trace of sync/scheduler.h (nf_sync_sched).
#include <string>

#include "absl/strings/str_cat.h"
#include "fuzzers/executors/report_json.h"
#include "sync/scheduler.h"

namespace nf::fuzz {

RunRecord ConcurrentRunRecord(const Program& program, const Failure& failure,
                              const sched::Trace* trace) {
  RunRecord r;
  r.executor = "concurrent";
  r.program = &program;
  r.concurrent_schedule = true;
  r.schedule = sched::ScheduleInput::Decode(program.schedule).DebugString();
  if (!failure.empty()) r.verdict = FailureVerdict(failure);
  if (trace == nullptr) return r;
  r.has_trace = true;
  r.trace_header = trace->header();
  // The end line is only in the text form: "# end <what>\n", last.
  const std::string text = trace->ToString();
  if (const size_t at = text.rfind("\n# end "); at != std::string::npos) {
    r.trace_end = text.substr(at + 7);
    while (!r.trace_end.empty() && r.trace_end.back() == '\n') r.trace_end.pop_back();
  }
  using Kind = sched::Trace::Kind;
  for (const sched::Trace::Event& e : trace->events()) {
    TraceEvent out;
    out.step = e.step;
    out.thread = e.thread;
    switch (e.kind) {
      case Kind::kYield:
        out.kind = "yield";
        out.text = e.point != nullptr ? e.point : "";
        break;
      case Kind::kBlock:
        out.kind = "block";
        out.text = e.point != nullptr ? e.point : "";
        break;
      case Kind::kWake:
        out.kind = "wake";
        out.text = absl::StrCat("t", static_cast<int>(e.other));
        out.other = e.other;
        break;
      case Kind::kDone:
        out.kind = "done";
        break;
      case Kind::kLabel:
        out.kind = "label";
        out.text = e.text;
        break;
      case Kind::kNote:
        out.kind = "note";
        out.text = e.text;
        break;
    }
    r.trace.push_back(std::move(out));
  }
  if (!r.verdict.ok && !r.trace.empty()) {
    const TraceEvent& last = r.trace.back();
    r.verdict.step = static_cast<int64_t>(last.step);
    r.verdict.thread = last.thread;
    for (auto it = r.trace.rbegin(); it != r.trace.rend(); ++it) {
      if (it->thread == last.thread && it->kind == "label") {
        r.verdict.where = it->text;
        break;
      }
    }
  }
  return r;
}

}  // namespace nf::fuzz
