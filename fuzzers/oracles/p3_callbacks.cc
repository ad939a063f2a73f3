// P3 (docs/contract.md §7): Callbacks happen only during an odd global seq,
// only on subscriptions that are in the tree and overlap the range, and with
// `cur_seq` equal to the global seq. Within one walk every callback receives the
// same `cur_seq`, each overlapping subscription is called exactly once, and no
// other subscription is called.
//
// Concurrent world, at every interval callback: the global seq (read in the
// callback) is odd and equals cur_seq; the calling thread is inside a start (or
// the RELEASE walk); the range is its walk's; the subscription overlaps it (the
// RELEASE walk covers every address, §5); the walk called it not before and
// every callback of the walk had the same cur_seq. After a start returns with
// its interval walk run to the end: the walk called every subscription it had
// to (the world says which: StartReturned::missed_slot). Sequential executor,
// at every interval callback: the global seq, the tree and the overlap, from
// the target's state read in the callback. (The reference model checks the
// rest of P3 for the sequential executor: fuzzers/oracles/model.cc.)
#include "absl/strings/str_format.h"
#include "fuzzers/oracles/oracles.h"

namespace nf::fuzz {
namespace {

bool IsOdd(Seq s) { return (s & 1) != 0; }

bool SameRange(const Range& a, const Range& b) {
  return a.start == b.start && a.end == b.end && a.blockable == b.blockable &&
         a.event == b.event && a.owner == b.owner;
}

// The closed interval [start, last] overlaps the range (an empty range overlaps
// nothing, §3.1).
bool Overlaps(const Range& r, uint64_t start, uint64_t last) {
  return r.end > r.start && start <= r.end - 1 && r.start <= last;
}

}  // namespace

Failure P3OutsideStart(const IntervalCallbackEntered& e) {
  if (e.slot < 0 || e.in_walk || e.release_walk) return {};
  return Violated(Property::kP3,
                  absl::StrFormat("interval callback on s%d for %s outside any start of this thread",
                                  e.slot, RangeText(e.range)));
}

Failure P3IntervalCallback(const IntervalCallbackEntered& e) {
  if (!IsOdd(e.global_seq) || e.global_seq != e.cur_seq) {
    return Violated(Property::kP3,
                    absl::StrFormat("callback on s%d for %s with cur_seq=%#x while the global seq "
                                    "is %#x",
                                    e.slot, RangeText(e.range), e.cur_seq, e.global_seq));
  }
  if (!SameRange(e.range, e.walk_range)) {
    return Violated(Property::kP3, absl::StrFormat("callback on s%d for %s inside the walk of %s",
                                                   e.slot, RangeText(e.range),
                                                   RangeText(e.walk_range)));
  }
  if (!e.release_walk && !Overlaps(e.range, e.start, e.last)) {
    return Violated(Property::kP3,
                    absl::StrFormat("callback on s%d [0x%x,0x%x], which does not overlap %s",
                                    e.slot, e.start, e.last, RangeText(e.range)));
  }
  if (e.walk_cur_seq != 0 && e.walk_cur_seq != e.cur_seq) {
    return Violated(Property::kP3,
                    absl::StrFormat("callback on s%d with cur_seq=%#x in a walk whose callbacks "
                                    "had cur_seq=%#x",
                                    e.slot, e.cur_seq, e.walk_cur_seq));
  }
  if (e.called_before) {
    return Violated(Property::kP3, absl::StrFormat("s%d called twice by one walk of %s", e.slot,
                                                   RangeText(e.range)));
  }
  return {};
}

Failure P3StartReturned(const StartReturned& e) {
  if (!e.walked_to_end || e.missed_slot < 0) return {};
  return Violated(
      Property::kP3,
      absl::StrFormat(
          "the start of %s returned (%s) without calling s%d [0x%x,0x%x]: it overlaps, was "
          "in the tree before the start began, and no remove of it began",
          RangeText(e.range), absl::StatusCodeToString(e.code), e.missed_slot, e.missed_start,
          e.missed_last));
}

Failure P3SequentialCallback(const SequentialCallback& e) {
  const Snapshot& snap = *e.snapshot;
  // Formatted only for a report: this runs on every callback.
  auto where = [&] {
    return absl::StrFormat("in the callback of s%d for [0x%x,0x%x) cur_seq=%#x: ", e.slot,
                           e.range.start, e.range.end, e.cur_seq);
  };
  if (!IsOdd(snap.invalidate_seq) || snap.invalidate_seq != e.cur_seq) {
    return Violated(Property::kP3,
                    absl::StrFormat("%sthe global seq is %#x", where(), snap.invalidate_seq));
  }
  const Snapshot::Interval* in_tree = nullptr;
  for (const Snapshot::Interval& i : snap.tree) {
    if (i.sub == e.sub) {
      in_tree = &i;
      break;
    }
  }
  if (in_tree == nullptr) {
    return Violated(Property::kP3, where() + "the subscription is not in the tree");
  }
  // §5: the RELEASE walk covers every address, the top byte included.
  if (!IsReleaseWalk(e.range) && !Overlaps(e.range, in_tree->start, in_tree->last)) {
    return Violated(Property::kP3, absl::StrFormat("%sits interval [0x%x,0x%x] does not overlap",
                                                   where(), in_tree->start, in_tree->last));
  }
  return {};
}

}  // namespace nf::fuzz
