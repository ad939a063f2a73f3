// fuzzers/executors/sequential_steps.h: for tests, a text program's run through
// the sequential checker, one string per op step (sequential_test,
// sequential_api_test). The run itself aborts on any disagreement with the
// reference model.
#ifndef NF_FUZZERS_EXECUTORS_SEQUENTIAL_STEPS_H_
#define NF_FUZZERS_EXECUTORS_SEQUENTIAL_STEPS_H_

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "fuzzers/executors/report_json.h"
#include "fuzzers/executors/sequential.h"
#include "fuzzers/program/program_text.h"
#include "gtest/gtest.h"

namespace nf::fuzz {

// Runs text; for each op step in program order (cleanup steps excluded):
// "skipped", or (with `results`) the op's result, then its callbacks, each
// after "; " ("" for an op without callbacks when not `results`).
inline std::vector<std::string> StepTexts(const char* text, bool results) {
  const absl::StatusOr<Program> p = Parse(text, "test.nfp");
  EXPECT_TRUE(p.ok()) << p.status();
  if (!p.ok()) return {};
  std::vector<TraceEvent> events;
  SequentialOptions o;
  o.events = &events;
  TestOneInput(*p, o);
  std::vector<std::string> out;
  for (const TraceEvent& e : events) {
    if (e.kind == "op" || e.kind == "skip") {
      if (absl::StrContains(e.text, " cleanup")) break;
      out.push_back(e.kind == "skip" ? "skipped"
                    : results        ? e.text.substr(e.text.rfind(" -> ") + 4)
                                     : "");
    } else if (e.kind == "callback" && !out.empty()) {
      absl::StrAppend(&out.back(), out.back().empty() ? "" : "; ", e.text);
    }
  }
  return out;
}

}  // namespace nf::fuzz

#endif  // NF_FUZZERS_EXECUTORS_SEQUENTIAL_STEPS_H_
