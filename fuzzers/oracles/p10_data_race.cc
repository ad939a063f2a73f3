// P10 (docs/contract.md §7): No data race in the code under test: no two
// accesses to the same bytes by different threads, at least one a write and at
// least one plain (not an operation of the seam's `Atomic`), are unordered by
// happens-before.
//
// The deterministic scheduler's race detector (sync/race_detector.h) checks
// every plain load and store of the core against happens-before, where
// NF_RACE_DETECTION is on; a race ends the run (sched::Outcome::kDataRace) and
// the concurrent executor reports its description, which names both accesses.
#include "fuzzers/oracles/oracles.h"

namespace nf::fuzz {

Failure P10RunEnded(const RunEnded& e) {
  if (e.kind != RunEnded::Kind::kDataRace) return {};
  return Violated(Property::kP10, e.description);
}

}  // namespace nf::fuzz
