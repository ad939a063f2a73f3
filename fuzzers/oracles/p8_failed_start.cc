// P8 (docs/contract.md §7): A start that failed has changed nothing: the
// active count, the parity of the seq and the pairing of classic starts with
// ends are as they were before it. (§8.2 says when parity can be restored.)
//
// Concurrent world, after every failed start: every classic subscriber with an
// end whose start succeeded in that call, and on which no put or unregister
// began meanwhile (that may unlink it before the failure path walks the list),
// got its end in that call; in a start without a user (§10.8), none is owed
// once a put of a user began meanwhile (it may run release, which unlinks them
// all). (The parity: P1 at the quiescent point the failed
// start may leave; a leaked active count shows at the end, or as a deadlock:
// P7.) Sequential executor, after every failed start: the active count, the
// open count (Traits::counts_open_invalidations), the users, the tree, the
// deferred list and the seq's parity as before it; the parity may stay odd when
// the failed walk opened the odd epoch while other invalidations were active
// (closing it "as by an end", §3.1, leaves it odd until their last end).
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "fuzzers/oracles/oracles.h"

namespace nf::fuzz {

Failure P8StartReturned(const StartReturned& e) {
  if (e.code == absl::StatusCode::kOk || e.classic_unended == 0) return {};
  return Violated(Property::kP8,
                  absl::StrFormat("the start of %s failed (EAGAIN) but classic subscriber id %d, "
                                  "whose start succeeded and which has an end, got no end",
                                  RangeText(e.range), __builtin_ctzll(e.classic_unended)));
}

Failure P8FailedStartStates(const FailedStartStates& e, const Traits& traits) {
  const Snapshot& b = *e.before;
  const Snapshot& a = *e.after;
  auto same_members = [](const auto& x, const auto& y) {
    if (x.size() != y.size()) return false;
    for (const auto& i : x) {
      bool found = false;
      for (const auto& j : y) found = found || j.sub == i.sub;
      if (!found) return false;
    }
    return true;
  };
  auto odd = [](Seq s) { return (s & 1) != 0; };
  std::string what;
  if (a.active_invalidate_ranges != b.active_invalidate_ranges) what += " active";
  if (traits.counts_open_invalidations && a.open_invalidations != b.open_invalidations) {
    what += " open";
  }
  if (a.users != b.users) what += " users";
  if (!same_members(a.tree, b.tree)) what += " tree";
  if (!same_members(a.deferred, b.deferred)) what += " deferred";
  const bool opened_under_others = b.active_invalidate_ranges > 0 && !odd(b.invalidate_seq);
  if (!opened_under_others && odd(a.invalidate_seq) != odd(b.invalidate_seq)) {
    what += " seq-parity";
  }
  if (what.empty()) return {};
  return Violated(Property::kP8, absl::StrCat("a failed start changed:", what, "\n  before: ",
                                              StateLine(b), "\n  after:  ", StateLine(a)));
}

}  // namespace nf::fuzz
