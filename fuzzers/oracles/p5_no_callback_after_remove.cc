// P5 (docs/contract.md §7): A subscription gets no callback after its remove
// has returned.
//
// Every callback must find its subscriber live in the world: an interval
// subscription inserted and not yet removed (the world deletes it as soon as
// remove returns), a classic subscriber registered and not unregistered, or
// got and not yet freed. Their memory is really freed, so ASan reports a touch
// even where this check cannot run. Concurrent world: every interval and classic
// callback, free_notifier and secondary-MMU callback; sequential executor: every
// interval callback (the world's lookup).
#include "absl/strings/str_format.h"
#include "fuzzers/oracles/oracles.h"

namespace nf::fuzz {

Failure P5IntervalCallback(const IntervalCallbackEntered& e) {
  if (e.slot >= 0) return {};
  return Violated(
      Property::kP5,
      absl::StrFormat(
          "interval callback for %s cur_seq=%#x on a subscription that is not live (removed "
          "and freed, or never inserted)",
          RangeText(e.range), e.cur_seq));
}

Failure P5ClassicCallback(const ClassicCallbackEntered& e) {
  if (e.sub != nullptr) return {};
  using Kind = ClassicCallbackEntered::Kind;
  switch (e.kind) {
    case Kind::kRelease:
      return Violated(Property::kP5,
                      "classic release callback on a subscriber that is not live (unregistered "
                      "or freed)");
    case Kind::kStart:
      return Violated(Property::kP5,
                      absl::StrFormat("classic invalidate_range_start for %s on a subscriber "
                                      "that is not live (unregistered or freed)",
                                      RangeText(e.range)));
    case Kind::kEnd:
      return Violated(Property::kP5,
                      absl::StrFormat("classic invalidate_range_end for %s on a subscriber that "
                                      "is not live (unregistered or freed)",
                                      RangeText(e.range)));
    case Kind::kFree:
      return Violated(Property::kP5,
                      "free_notifier of a subscriber that is not live (freed twice?)");
  }
  return Violated(Property::kP5, "a callback on a subscriber that is not live");
}

Failure P5SequentialCallback(const SequentialCallback& e) {
  if (e.live) return {};
  return Violated(Property::kP5,
                  absl::StrFormat("interval callback on %p, which is not a live subscription "
                                  "(removed and freed, or never inserted); range [0x%x,0x%x) "
                                  "cur_seq=%#x",
                                  static_cast<const void*>(e.sub), e.range.start, e.range.end,
                                  e.cur_seq));
}

Failure P5SecondaryCallback(const SecondaryCallbackEntered& e) {
  if (e.sub != nullptr) return {};
  return Violated(Property::kP5,
                  "a secondary-MMU callback on a subscriber that is not live (unregistered or "
                  "freed)");
}

}  // namespace nf::fuzz
