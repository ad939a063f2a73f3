// P7 (docs/contract.md §7): Liveness: when no more invalidations come, all
// `read_begin` and remove calls return, `active_invalidate_ranges` drops back
// to zero, and the deferred work is all carried out.
//
// A concurrent run that stops making progress (the scheduler finds no thread
// runnable while some are blocked, or its step bound runs out; the OS-thread
// executor's watchdog) breaks it: the skip rule of
// fuzzers/world/concurrent_world.h makes every wait one on a thread that does
// not wait back. At the end of a concurrent run, after the global cleanup: no
// users, released, only the world's reference, no active range, no open
// invalidation, an even seq, empty tree, deferred list and classic list, no
// pending frees, every warning one an armed misbehaviour owed and each owed
// one given, every subscription and subscriber freed, nothing left in
// progress. (The sequential executor checks its end state against the
// reference model: fuzzers/executors/sequential.cc, "after cleanup".)
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "fuzzers/oracles/oracles.h"

namespace nf::fuzz {

Failure P7FinalState(const FinalState& e) {
  const Snapshot& s = *e.snapshot;
  std::string what;
  if (s.users != 0) absl::StrAppend(&what, " users=", s.users);
  if (!s.released) what += " not-released";
  if (s.refs != 1) absl::StrAppend(&what, " refs=", s.refs, " (want 1: the world's)");
  if (s.active_invalidate_ranges != 0) {
    absl::StrAppend(&what, " active=", s.active_invalidate_ranges);
  }
  if (s.open_invalidations != 0) absl::StrAppend(&what, " open=", s.open_invalidations);
  if (s.has_subscriptions && (s.invalidate_seq & 1) != 0) {
    absl::StrAppendFormat(&what, " seq-odd(%#x)", s.invalidate_seq);
  }
  if (!s.tree.empty()) absl::StrAppend(&what, " tree-not-empty(", s.tree.size(), ")");
  if (!s.deferred.empty()) absl::StrAppend(&what, " deferred-not-empty(", s.deferred.size(), ")");
  if (!s.classic.empty()) absl::StrAppend(&what, " classic-list-not-empty");
  if (s.pending_frees != 0) absl::StrAppend(&what, " pending-frees=", s.pending_frees);
  // Every warning is one an armed misbehaviour owed, and each owed one came.
  for (int w = 0; w < kNumWarnings; ++w) {
    if (s.warnings[w] != (*e.accepted_warnings)[w] || (*e.owed_warnings)[w] != 0) {
      const std::string_view name = WarningName(static_cast<Warning>(w));
      absl::StrAppend(&what, " warning-", absl::string_view(name.data(), name.size()));
    }
  }
  for (int i = 0; i < e.subscriptions_not_freed; ++i) what += " subscription-not-freed";
  for (int i = 0; i < e.classics_not_freed; ++i) what += " classic-subscriber-not-freed";
  if (e.bookkeeping_open) what += " world-bookkeeping";
  if (what.empty()) return {};
  return Violated(Property::kP7, absl::StrCat("after the cleanup:", what));
}

Failure P7RunEnded(const RunEnded& e) {
  switch (e.kind) {
    case RunEnded::Kind::kStuck:
      return Violated(Property::kP7, e.description);
    case RunEnded::Kind::kWatchdog:
      return Violated(Property::kP7, absl::StrCat("the run did not finish within ",
                                                  e.watchdog_seconds, " s"));
    case RunEnded::Kind::kFinished:
    case RunEnded::Kind::kDataRace:
    case RunEnded::Kind::kLockOrder:
      return {};
  }
  return {};
}

}  // namespace nf::fuzz
