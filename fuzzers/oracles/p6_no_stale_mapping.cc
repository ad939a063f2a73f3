// P6 (docs/contract.md §7): No stale mapping: at any moment when no
// invalidation under way covers an address, a mirror entry for it (if there is
// one) holds the page table's current value.
//
// Concurrent world: after every op of every thread (deterministic flavour),
// for every live slot and every page that no invalidation in progress covers
// (one whose start has begun and whose end, or failed start, has not
// returned); both flavours: every page at the end. The world reads the mirrors
// without their locks only where no other thread can run meanwhile. The
// sequential executor compares every mirror with the reference model's
// (fuzzers/oracles/model.h), which the model derives from the same rule.
#include "absl/strings/str_format.h"
#include "fuzzers/oracles/oracles.h"

namespace nf::fuzz {

Failure P6MirrorRead(const MirrorRead& e) {
  const auto& m = *e.mirror;
  const auto& table = *e.table;
  for (int p = 0; p < harness::kTablePages; ++p) {
    if (m[p] == 0 || m[p] == table[p]) continue;
    if (!e.all_pages && (*e.covered)[p] != 0) continue;
    return Violated(
        Property::kP6,
        absl::StrFormat("mirror of s%d has page %d (0x%x) = %d, but the page table has %d and no "
                        "invalidation covering it is in progress",
                        e.slot, p, p * kPageSize, m[p], table[p]));
  }
  return {};
}

}  // namespace nf::fuzz
