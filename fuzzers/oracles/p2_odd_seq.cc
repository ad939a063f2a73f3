// P2 (docs/contract.md §7): No interval subscription ever has an even seq.
//
// Observed by the concurrent world at every interval callback: the
// subscription's own seq, read before its driver runs.
#include "absl/strings/str_format.h"
#include "fuzzers/oracles/oracles.h"

namespace nf::fuzz {

Failure P2IntervalSeqRead(const IntervalSeqRead& e) {
  if ((e.own_seq & 1) != 0) return {};
  return Violated(Property::kP2,
                  absl::StrFormat("s%d has an even seq %#x in a callback", e.slot, e.own_seq));
}

}  // namespace nf::fuzz
