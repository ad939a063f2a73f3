// fuzzers/executors/concurrent.h: runs a Program's threads at the same time, as fibers of
// the deterministic scheduler (sync/scheduler.h), interleaved by the
// program's schedule bytes, on the core's deterministic flavour (nf_core_sched).
// What is checked, the slot states and the skip rule: concurrent_world.h.
//
// Threads: the program's own count, 1 to 4 (codec.h, header bits 0-1). A
// 1-thread program runs as is: a single fiber consumes no schedule byte, so it is
// a sequential run with the concurrent oracles (uninteresting, but valid; the
// fuzzer's mutations of the header byte reach the others).
//
// Determinism: the same program (ops and schedule bytes) gives the same run, the
// same trace and the same verdict, every time, in any process. The Scheduler and
// its fiber stacks live across inputs; nothing else survives an input.
//
// On a violation (a property, a deadlock or the step bound) the input is run
// again with the trace on (the same run: fuzzing runs do not format traces), and
// the report is printed to stderr:
//
//   ==== nf concurrent_fuzzer: CHECK FAILED ====
//   <what failed, e.g. "P6: mirror of s1 has page 3 ...">
//   program (text form): ...            (Print(), with its schedule: lines)
//   schedule: direct, 12 choice bytes   (ScheduleInput::DebugString)
//   interleaving (<step> t<thread> <event>):
//   # ... the scheduler's trace, with notes: op begin, result, callbacks
//   ==== end ====
//
// (and, when asked for, its JSON form: report_json.h) then abort(), so that
// libFuzzer keeps the input. A sanitizer report (e.g. an
// ASan use-after-free) ends the process at once; with tracing on (nf_ctrace) the
// trace up to that point is printed by the sanitizer's death callback.
#ifndef NF_FUZZERS_CONCURRENT_H_
#define NF_FUZZERS_CONCURRENT_H_

#include <cstdio>
#include <string>

#include "fuzzers/program/program.h"

namespace nf::fuzz {

struct ConcurrentOptions {
  // If set: trace the run and print the program, the trace and the verdict here.
  FILE* trace = nullptr;
  // If set: trace the run and write its JSON run document (report_json.h) to
  // the report stream, passed or failed (a failure also prints the text report).
  bool json = false;
};

// Runs program; returns if every check passed, else reports and aborts.
void RunConcurrent(const Program& program, const ConcurrentOptions& options = {});

// Runs program once, untraced, and returns "" if every check passed, else what
// failed (P<n>: ..., as the report's first line). Never reports and never
// aborts: the systematic explorer's run (sync/explore.h, nf_explore). A
// sanitizer report still ends the process.
std::string RunConcurrentQuiet(const Program& program);

// Runs program with the trace on and returns the trace text (the determinism
// test compares two of them). Reports and aborts on a violation.
std::string ConcurrentTrace(const Program& program);

}  // namespace nf::fuzz

#endif  // NF_FUZZERS_CONCURRENT_H_
