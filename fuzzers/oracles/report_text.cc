// fuzzers/oracles/report_text.cc: the texts the oracles' reports share
// (oracles.h).
#include "absl/strings/str_format.h"
#include "fuzzers/oracles/oracles.h"
#include "fuzzers/program/program_text.h"

namespace nf::fuzz {

std::string RangeText(const Range& r) {
  return absl::StrFormat("[0x%x,0x%x) %s %s", r.start, r.end, r.blockable ? "block" : "nonblock",
                         EventTextName(r.event));
}

std::string ClassicName(const ClassicSub* c) {
  return c->id() < kClassicSlots
             ? absl::StrFormat("c%d", c->id())
             : absl::StrFormat("get(%s)", BehaviourText(c->behaviour()));
}

std::string StateLine(const Snapshot& s) {
  std::string out = absl::StrFormat(
      "seq=%#x active=%d open=%d users=%d refs=%d%s tree=[", s.invalidate_seq,
      s.active_invalidate_ranges, s.open_invalidations, s.users, s.refs,
      s.released ? " released" : "");
  for (const Snapshot::Interval& i : s.tree) {
    absl::StrAppendFormat(&out, " [0x%x,0x%x]@%#x", i.start, i.last, i.seq);
  }
  absl::StrAppendFormat(&out, " ] deferred=%d classic=%d", s.deferred.size(), s.classic.size());
  return out;
}

}  // namespace nf::fuzz
