// P1 (docs/contract.md §7): `active_invalidate_ranges == 0` implies: global seq
// even, nothing deferred.
//
// Observed by the concurrent world (deterministic flavour) at a quiescent point:
// an end or a failed start left no invalidation in progress and no PutUser runs
// (so no RELEASE walk), and none began while the seq was read. The end of a run
// checks it again as part of P7's final state (seq even, deferred list empty).
#include "absl/strings/str_format.h"
#include "fuzzers/oracles/oracles.h"

namespace nf::fuzz {

Failure P1QuiescentPoint(const QuiescentPoint& e) {
  if ((e.global_seq & 1) == 0) return {};
  return Violated(Property::kP1,
                  absl::StrFormat("no invalidation in progress but the global seq is odd (%#x)",
                                  e.global_seq));
}

}  // namespace nf::fuzz
