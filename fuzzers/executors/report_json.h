// fuzzers/executors/report_json.h: the machine-readable form of a program and
// of a run's verdict, for the tools (tools/triage.py, tools/mutants.py): they
// read this, never the text reports, which stay as they are for people.
//
// Who writes it:
//   nf_tool decode --json FILE      one "program" document (below), stdout
//   nf_tool replay --json FILE...   one "run" document per file (executor
//                                   "sequential"), one per line, stdout
//   nf_ctrace --json FILE...        the same for the concurrent checks (executor
//   (nf_tool creplay --json ...)    "concurrent", with the scheduler trace)
//   any executor's failure report   when $NF_REPORT_JSON names a file: the "run"
//                                   document of the failing run is written there
//                                   (truncated first) just before abort(): the
//                                   sequential executor (sequential_fuzzer,
//                                   nf_tool replay), the concurrent one
//                                   (concurrent_fuzzer, nf_ctrace) and the
//                                   real-thread one (tsan_replay, naive_baseline);
//                                   codec_fuzzer and interval_tree_fuzzer write
//                                   none (their checks are not about programs)
// A tool's --json sends a failing run's document to stdout as well (one line,
// before the text report on stderr and the abort). A sanitizer report ends the
// process without a document (the tools recognise the sanitizer's own lines),
// except in a traced concurrent run (nf_ctrace) under ASan, whose death callback
// writes one with property "sanitizer".
//
// Schema, version 1 (every document is one line of JSON; integers are exact
// 64-bit values, which Python reads as such; strings are escaped per RFC 8259,
// bytes >= 0x80 as \u00XX):
//
//   program document (nf_tool decode --json):
//     {"nf": "program", "version": 1, "file": "PATH", "form": "bytes" | "text",
//      "size": BYTES,                  (form: how FILE was read; text: a .nfp)
//      "schedule_description": "direct, 3 choice bytes",   (ScheduleInput)
//      "program": PROGRAM}
//   PROGRAM:
//     {"threads": N, "initial_seq": "default" | "near_wrap",
//      "order": [thread of each op, in program order],
//      "ops": [OP, ...]                      (in program order),
//      "schedule": "01ff3a" (hex, possibly ""), "text": "<Print(): the .nfp form>"}
//   OP:
//     {"thread": T, "index": I (in its thread's list), "code": "insert" ...,
//      "text": "insert s1 0x1000+0x4000" (PrintOp),
//      and the operands the op has: "slot" (interval, s<slot>), "classic"
//      (c<slot>), "start", "length", "page", "pages" (ranges; the boundary
//      ops: "start", "length" only), "misbehaviour" (misbehave), "shape"
//      ("normal" | "zero_length" | "overflow", inserts), "blockable", "event"
//      (invalidate, inv_start), "behaviour" (text, e.g. "release,start")}
//
//   run document:
//     {"nf": "run", "version": 1, "executor": "sequential" | "concurrent" |
//        "threaded", "file": "PATH" | null, "program": PROGRAM,
//      "schedule": "direct, 3 choice bytes" | null      (concurrent only),
//      "trace": null | {"header": "nf-sched trace v1: ..." | "",
//                       "end": "ok after 12 steps" | "deadlock ..." | "",
//                       "events": [EVENT, ...]},
//      "verdict": VERDICT}
//   EVENT:
//     {"step": S, "thread": T, "kind": K, "text": "..."}, and "other": T2 for a
//     wake. Concurrent (the scheduler's trace, S its step): K is yield | block
//     (text: the point) | wake (text: "t2") | done | label (text: "T0 op 1: ...")
//     | note. Sequential (S: the 1-based step in program order, cleanup steps
//     after the program's): K is op (text: "T0 op 1: insert ... -> OK") | skip
//     (text: the reason) | callback (text: the callback record).
//   VERDICT:
//     {"ok": true|false, "property": null | "P1".."P11" | "model" | "cleanup" |
//        "internal" | "nondeterminism" | "sanitizer",
//      "detail": "" | "sub seq" (model: the first difference is a
//        subscription's seq),
//      "message": "<what failed, as the text report's first lines>" | "",
//      "step": S | null, "thread": T | null, "op": I | null (index in the thread's
//        list; null for a cleanup step), "cleanup": true|false,
//      "where": "T0 op 2: inv_start ..." | "end of program (after cleanup)" | ""}
//     property: the Property the failing check names
//     (fuzzers/oracles/property.h; never parsed from the message); for a
//     failure of no property: "model" (the core and the model differ, or the
//     state differs), "cleanup" (the end-of-program checks), "internal", "nondeterminism", "sanitizer". Sequential: step is
//     the failing step, thread and op the failing op, where its text (as the
//     text report's `step:` line). Concurrent: step and thread are the trace's
//     last event (where the run stopped), op is null, where is that thread's
//     last label. Threaded: step, thread and op are null, where lists the last
//     op begun per thread. "file" is the input's path when a tool ran it (null
//     in a fuzz target: the caller knows the file).
#ifndef NF_FUZZERS_REPORT_JSON_H_
#define NF_FUZZERS_REPORT_JSON_H_

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "fuzzers/oracles/property.h"
#include "fuzzers/program/program.h"

namespace nf::sched {
class Trace;
}  // namespace nf::sched

namespace nf::fuzz {

// A JSON value built by appending (no dependency, RFC 8259 escaping).
class Json {
 public:
  Json& BeginObject();
  Json& EndObject();
  Json& BeginArray();
  Json& EndArray();
  Json& Key(std::string_view key);
  Json& String(std::string_view s);
  Json& Int(int64_t v);
  Json& UInt(uint64_t v);
  Json& Bool(bool v);
  Json& Null();
  // An already-formatted JSON value.
  Json& Raw(std::string_view json);
  const std::string& str() const { return out_; }

 private:
  void Separate();
  Json& Open(char bracket);   // { or [
  Json& Close(char bracket);  // } or ]
  std::string out_;
  std::vector<bool> first_;  // per open container: nothing written in it yet
  bool after_key_ = false;
};

// s as a JSON string literal, quotes included.
std::string JsonQuote(std::string_view s);

// PROGRAM above.
std::string ProgramJson(const Program& p);

struct TraceEvent {
  uint64_t step = 0;
  int thread = 0;
  std::string kind;
  std::string text;
  int other = -1;  // wake: the woken thread
};

struct Verdict {
  bool ok = true;
  std::string property;
  std::string detail;
  std::string message;
  int64_t step = -1;  // -1: null
  int thread = -1;    // -1: null
  int op = -1;        // -1: null
  bool cleanup = false;
  std::string where;
};

// The verdict of a failure (its text: a report's first lines): property and
// detail as documented above; the rest is the caller's.
Verdict FailureVerdict(const Failure& failure);

struct RunRecord {
  std::string executor;
  const Program* program = nullptr;
  bool concurrent_schedule = false;  // write "schedule" (else null)
  std::string schedule;
  bool has_trace = false;
  std::string trace_header;
  std::string trace_end;
  std::vector<TraceEvent> trace;
  Verdict verdict;
};

// The run document above (one line, no newline).
std::string RunJson(const RunRecord& r);

// The run document of the concurrent executor (report_json_sched.cc, which is
// built only into the deterministic flavour): program, its schedule, the trace
// (if any) and the verdict of `failure` (empty = passed), placed at the trace's
// last event.
RunRecord ConcurrentRunRecord(const Program& program, const Failure& failure,
                              const sched::Trace* trace);

// Where run documents go. A tool's --json: SetJsonReportStream(stdout), and
// SetJsonReportInput(path) before each input (the document's "file").
void SetJsonReportStream(FILE* f);
void SetJsonReportInput(std::string_view path);
// True if a run document would be written: a stream is set or $NF_REPORT_JSON is.
bool JsonReportWanted();
// Writes r (one line) to the stream set, and to the file $NF_REPORT_JSON names
// (truncated); flushed. For the report functions, just before they abort.
void EmitRunJson(const RunRecord& r);

}  // namespace nf::fuzz

#endif  // NF_FUZZERS_REPORT_JSON_H_
