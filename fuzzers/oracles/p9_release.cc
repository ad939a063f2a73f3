// P9 (docs/contract.md §7): Release invalidates each interval subscription
// once, with event RELEASE, and calls each classic subscriber's `release` no
// more than once; once release is over, no callback runs.
//
// Concurrent world: at every callback of the RELEASE walk (range [0,
// UINT64_MAX), event RELEASE) the subscription had no RELEASE before; once a
// RELEASE walk has called anything, no other interval callback and no classic
// start or end runs; each classic release at most once per subscriber (a
// target whose unregister and release may both call it,
// Traits::release_once_against_unregister false, may give a second one to a
// subscriber whose unregister has begun); after the program's user is dropped
// in the global cleanup, every live subscription has had exactly one RELEASE
// (none for a subscription of the top byte alone on a target whose RELEASE walk
// stops below it: Traits::release_walk_covers_top_address). The sequential
// executor: the reference model predicts every release callback
// (fuzzers/oracles/model.cc).
#include <limits>

#include "absl/strings/str_format.h"
#include "fuzzers/oracles/oracles.h"

namespace nf::fuzz {

Failure P9IntervalCallback(const IntervalCallbackEntered& e) {
  if (e.release_walk && e.releases > 1) {
    return Violated(Property::kP9, absl::StrFormat("s%d got a second RELEASE invalidate (%d so far)",
                                                   e.slot, e.releases));
  }
  if (!e.release_walk && e.after_release_walk) {
    return Violated(Property::kP9,
                    absl::StrFormat("interval callback on s%d for %s after the RELEASE walk",
                                    e.slot, RangeText(e.range)));
  }
  return {};
}

Failure P9ClassicCallback(const ClassicCallbackEntered& e, const Traits& traits) {
  using Kind = ClassicCallbackEntered::Kind;
  switch (e.kind) {
    case Kind::kRelease:
      // The target's unregister and the space's release may each call it
      // (Traits::release_once_against_unregister): expected, nothing more.
      if (e.releases > 1 &&
          (traits.release_once_against_unregister || !e.may_unlink || e.releases > 2)) {
        return Violated(Property::kP9, absl::StrFormat("classic subscriber %s got a second release",
                                                       ClassicName(e.sub)));
      }
      return {};
    case Kind::kStart:
    case Kind::kEnd:
      if (!e.after_release_walk) return {};
      return Violated(Property::kP9,
                      absl::StrFormat("classic %s of %s for %s after the RELEASE walk",
                                      e.kind == Kind::kStart ? "start" : "end",
                                      ClassicName(e.sub), RangeText(e.range)));
    case Kind::kFree:
      return {};
  }
  return {};
}

Failure P9ReleaseDone(const ReleaseDone& e, const Traits& traits) {
  // Traits::release_walk_covers_top_address false: the walk stops below
  // ULONG_MAX, so a subscription of that one byte gets none.
  const int want =
      !traits.release_walk_covers_top_address && e.start == std::numeric_limits<uint64_t>::max()
          ? 0
          : 1;
  if (e.releases == want || (e.may_miss && e.releases == 0)) return {};
  return Violated(Property::kP9,
                  absl::StrFormat("s%d [0x%x,0x%x] was in the tree at release and got %d RELEASE "
                                  "invalidate(s), not %d",
                                  e.slot, e.start, e.last, e.releases, want));
}

}  // namespace nf::fuzz
