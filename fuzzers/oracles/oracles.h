// fuzzers/oracles/oracles.h: the oracles of the contract's properties
// (docs/contract.md §7), one file each, and the typed events they decide on.
//
// The executors and worlds keep execution and bookkeeping; at each point where
// a property can be observed they fill in an event (what they saw: a callback
// entered, a start returned, a quiescent point, the state at the end) and ask
// the property's oracle, which decides and returns a Failure (empty: it holds).
// An oracle keeps no state of its own and reads the target's Traits it needs
// itself, so that each property is decided in one place for every executor
// (fuzzers/executors/sequential.cc, the concurrent world under
// fuzzers/executors/concurrent.cc and fuzzers/executors/threaded.cc) and both
// targets; oracles_test.cc makes each of them fail and pass.
//
//   file                              property            events
//   p1_quiescence.cc                  P1                  QuiescentPoint
//   p2_odd_seq.cc                     P2                  IntervalSeqRead
//   p3_callbacks.cc                   P3                  IntervalCallbackEntered,
//                                                         StartReturned,
//                                                         SequentialCallback
//   p5_no_callback_after_remove.cc    P5                  IntervalCallbackEntered,
//                                                         ClassicCallbackEntered,
//                                                         SequentialCallback
//   p6_no_stale_mapping.cc            P6                  MirrorRead
//   p7_liveness.cc                    P7                  FinalState, RunEnded
//   p8_failed_start.cc                P8                  StartReturned,
//                                                         FailedStartStates
//   p9_release.cc                     P9                  IntervalCallbackEntered,
//                                                         ClassicCallbackEntered,
//                                                         ReleaseDone
//   p10_data_race.cc                  P10                 RunEnded
//   p11_lock_order.cc                 P11                 RunEnded
//   s10_kernel_api.cc                 §10 (not of §7)     SecondaryCallbackEntered,
//                                                         SecondaryCallReturned,
//                                                         ReadOnlyReturned,
//                                                         SynchronizeReturned
//   report_text.cc                    the texts the reports share
//
// P4 (the tree's contents) is the reference model's (fuzzers/oracles/model.h):
// the sequential executor compares every state with it. Where several checks
// observe one event, the Check* functions below ask them in the order a report
// names the first that fails.
#ifndef NF_FUZZERS_ORACLES_ORACLES_H_
#define NF_FUZZERS_ORACLES_ORACLES_H_

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "fuzzers/oracles/property.h"
#include "fuzzers/program/program.h"
#include "harness/geometry.h"
#include "target/target.h"

namespace nf::fuzz {

using harness::PageValue;
using target::ClassicSub;
using target::IntervalSub;
using target::Snapshot;
using target::Traits;

// --- Events ------------------------------------------------------------------

// P1: a quiescent point of the concurrent world: no invalidation in progress and
// no user put running (so no RELEASE walk), and none began while the global seq
// was read.
struct QuiescentPoint {
  Seq global_seq = 0;
};

// P2: a subscription's own seq, read in its interval callback.
struct IntervalSeqRead {
  int slot = 0;
  Seq own_seq = 0;
};

// An interval callback entered, in the concurrent world: what the world knows
// of the subscription and of the walk of the calling thread.
struct IntervalCallbackEntered {
  int slot = -1;  // -1: no subscription the world knows (removed and freed, or never inserted)
  Range range{};
  Seq cur_seq = 0;
  Seq global_seq = 0;         // Target::GlobalSeq, read in the callback
  bool release_walk = false;  // range is the RELEASE walk's (IsReleaseWalk)
  bool in_walk = false;  // the thread is inside a walk: a start of its own, or the RELEASE walk
  // The rest is meaningful when slot >= 0 and the thread is in a walk (a start,
  // or the RELEASE walk this callback begins or continues).
  uint64_t start = 0;  // the subscription's interval [start, last]
  uint64_t last = 0;
  Range walk_range{};           // the range of the thread's walk
  Seq walk_cur_seq = 0;        // the cur_seq of the walk's earlier callbacks; 0: none yet
  bool called_before = false;  // this walk called the subscription already
  int releases = 0;            // RELEASE callbacks of the subscription, this one included
  // A RELEASE walk called something before, and the calling thread holds a
  // user (an invalidation holding only a reference to the mm, invalidate_mm,
  // may run after release: docs/contract.md §10).
  bool after_release_walk = false;
};

// A classic callback entered (concurrent world).
struct ClassicCallbackEntered {
  enum class Kind : uint8_t { kRelease, kStart, kEnd, kFree };
  Kind kind = Kind::kStart;
  const ClassicSub* sub = nullptr;  // nullptr: not a live subscriber of the world
  Range range{};                      // kStart, kEnd
  // A RELEASE walk called something before, and the calling thread holds a
  // user (an invalidation holding only a reference to the mm, invalidate_mm,
  // may run after release: docs/contract.md §10).
  bool after_release_walk = false;
  int releases = 0;                 // kRelease: its releases, this one included
  bool may_unlink = false;          // a put or unregister of it has begun
};

// An invalidate start returned (concurrent world), with what its walk did.
struct StartReturned {
  Range range{};
  absl::StatusCode code = absl::StatusCode::kOk;
  // The interval walk ran to its end (the start succeeded, or only its classic
  // side failed).
  bool walked_to_end = false;
  // The first slot the walk had to call (P3: overlapping, live and not a pending
  // deferred insert when the start began, no remove begun) and did not: -1 none.
  int missed_slot = -1;
  uint64_t missed_start = 0;
  uint64_t missed_last = 0;
  // Classic ids whose start succeeded in this call, that have an end and no
  // put or unregister began meanwhile, and that got no end in this call.
  uint64_t classic_unended = 0;
};

// P6: a live slot's mirror against the page table (the world's copy), pages
// that an invalidation in progress covers exempt unless all_pages.
struct MirrorRead {
  int slot = 0;
  const std::array<PageValue, harness::kTablePages>* mirror = nullptr;
  const std::array<PageValue, harness::kTablePages>* table = nullptr;
  const std::array<int, harness::kTablePages>* covered = nullptr;  // invalidations per page
  bool all_pages = false;
};

// P9: the program's user dropped in the global cleanup (the RELEASE walk over):
// a subscription that was live then and its RELEASE callbacks.
struct ReleaseDone {
  int slot = 0;
  uint64_t start = 0;
  uint64_t last = 0;
  int releases = 0;
  // The subscription may have been a deferred insert when a put that could
  // run release began, an invalidation holding the epoch open: only an
  // invalidation without a user can be open across release (contract §10.8),
  // and the RELEASE walk covers the tree, not the deferred list, so it may get
  // none (it enters the tree when that invalidation ends). At most one then.
  bool may_miss = false;
};

// P7: the world after its global cleanup.
struct FinalState {
  const Snapshot* snapshot = nullptr;
  // Per Warning: the warnings an armed misbehaviour made owed and the core gave
  // (accepted), and those still owed.
  const std::array<long, kNumWarnings>* accepted_warnings = nullptr;
  const std::array<long, kNumWarnings>* owed_warnings = nullptr;
  int subscriptions_not_freed = 0;  // slots not Empty, or with a handle
  int classics_not_freed = 0;
  bool bookkeeping_open = false;  // invalidations or puts still counted in progress
};

// How a concurrent run ended, as the executor saw it.
struct RunEnded {
  enum class Kind : uint8_t { kFinished, kDataRace, kLockOrder, kStuck, kWatchdog };
  Kind kind = Kind::kFinished;
  std::string_view description{};  // the scheduler's, for kDataRace, kLockOrder and kStuck
  int watchdog_seconds = 0;      // kWatchdog
};

// §10: a secondary-MMU callback (a young call, change_pte, the secondary-TLB
// invalidate) entered (concurrent world).
struct SecondaryCallbackEntered {
  const ClassicSub* sub = nullptr;  // nullptr: not a live subscriber of the world (P5)
  target::SecondaryCall call = target::SecondaryCall::kClearFlushYoung;
  bool in_secondary_op = false;  // the calling thread runs a secondary-MMU op
};

// §10: a young call, change_pte or the secondary-TLB invalidate returned
// (concurrent world), with the callbacks it made.
struct SecondaryCallReturned {
  const Op* op = nullptr;  // the op (its text is in the reports)
  target::SecondaryCall call = target::SecondaryCall::kClearFlushYoung;  // the op's
  uint64_t start = 0;  // the op's range [start, end); the address for test_young, change_pte
  uint64_t end = 0;
  bool young = false;  // what a young call returned
  // The callbacks: how many, how many answered young, whether the last did;
  // the range of the last one; one of another kind than the op's; the name
  // of a subscriber called twice (the last such call's; "": none).
  int n = 0;
  int young_answers = 0;
  bool last_young = false;
  uint64_t called_start = 0;
  uint64_t called_end = 0;
  bool other_call = false;
  std::string called_twice;
};

// §10.4: range_update_to_read_only returned.
struct ReadOnlyReturned {
  Range range{};
  bool result = false;
};

// §10.7: synchronize returned; alone: no other thread was inside an op (then
// pending_frees is the target's queue of frees, else 0 and unread).
struct SynchronizeReturned {
  bool alone = false;
  int pending_frees = 0;
};

// The sequential executor: an interval callback, with the target's state read
// in it.
struct SequentialCallback {
  const IntervalSub* sub = nullptr;  // only compared, never dereferenced
  int slot = -1;                     // its slot (World: the handle's)
  bool live = true;  // the world has the subscription (World's own lookup)
  Range range{};
  Seq cur_seq = 0;
  const Snapshot* snapshot = nullptr;  // when the executor checks at callbacks
};

// The sequential executor: the state before and after a start that failed.
struct FailedStartStates {
  const Snapshot* before = nullptr;
  const Snapshot* after = nullptr;
};

// --- Oracles -----------------------------------------------------------------

// p1_quiescence.cc
Failure P1QuiescentPoint(const QuiescentPoint& e);

// p2_odd_seq.cc
Failure P2IntervalSeqRead(const IntervalSeqRead& e);

// p3_callbacks.cc
Failure P3OutsideStart(const IntervalCallbackEntered& e);  // a callback outside any walk
Failure P3IntervalCallback(const IntervalCallbackEntered& e);
Failure P3StartReturned(const StartReturned& e);
Failure P3SequentialCallback(const SequentialCallback& e);

// p5_no_callback_after_remove.cc
Failure P5IntervalCallback(const IntervalCallbackEntered& e);
Failure P5ClassicCallback(const ClassicCallbackEntered& e);
Failure P5SequentialCallback(const SequentialCallback& e);
Failure P5SecondaryCallback(const SecondaryCallbackEntered& e);

// p6_no_stale_mapping.cc
Failure P6MirrorRead(const MirrorRead& e);

// p7_liveness.cc
Failure P7FinalState(const FinalState& e);
Failure P7RunEnded(const RunEnded& e);

// p8_failed_start.cc
Failure P8StartReturned(const StartReturned& e);
Failure P8FailedStartStates(const FailedStartStates& e, const Traits& traits);

// p9_release.cc
Failure P9IntervalCallback(const IntervalCallbackEntered& e);
Failure P9ClassicCallback(const ClassicCallbackEntered& e, const Traits& traits);
Failure P9ReleaseDone(const ReleaseDone& e, const Traits& traits);

// p10_data_race.cc
Failure P10RunEnded(const RunEnded& e);

// p11_lock_order.cc
Failure P11RunEnded(const RunEnded& e);

// s10_kernel_api.cc (docs/contract.md §10; NotAProperty failures)
Failure S10SecondaryCallback(const SecondaryCallbackEntered& e, const Traits& traits);
Failure S10SecondaryCallReturned(const SecondaryCallReturned& e, const Traits& traits);
Failure S10ReadOnlyReturned(const ReadOnlyReturned& e, const Traits& traits);
Failure S10SynchronizeReturned(const SynchronizeReturned& e);

// --- Several oracles on one event, in report order ---------------------------

// An interval callback (concurrent world): P5, then a callback outside any walk
// (P3), then P9, then the rest of P3.
inline Failure CheckIntervalCallback(const IntervalCallbackEntered& e) {
  Failure f = P5IntervalCallback(e);
  if (f.empty()) f = P3OutsideStart(e);
  if (f.empty() && e.slot >= 0) f = P9IntervalCallback(e);
  if (f.empty() && e.slot >= 0) f = P3IntervalCallback(e);
  return f;
}

// A classic callback (concurrent world): P5, then P9.
inline Failure CheckClassicCallback(const ClassicCallbackEntered& e, const Traits& traits) {
  Failure f = P5ClassicCallback(e);
  if (f.empty()) f = P9ClassicCallback(e, traits);
  return f;
}

// A secondary-MMU callback (concurrent world): P5, then §10.
inline Failure CheckSecondaryCallback(const SecondaryCallbackEntered& e, const Traits& traits) {
  Failure f = P5SecondaryCallback(e);
  if (f.empty()) f = S10SecondaryCallback(e, traits);
  return f;
}

// A start returned (concurrent world): P3 (whom it had to call), then P8.
inline Failure CheckStartReturned(const StartReturned& e) {
  Failure f = P3StartReturned(e);
  if (f.empty()) f = P8StartReturned(e);
  return f;
}

// A concurrent run's end: P10 (a data race), P11 (a lock-order inversion),
// then P7 (no progress).
inline Failure CheckRunEnded(const RunEnded& e) {
  Failure f = P10RunEnded(e);
  if (f.empty()) f = P11RunEnded(e);
  if (f.empty()) f = P7RunEnded(e);
  return f;
}

// --- Shared by the oracles' reports -----------------------------------------

// "[0x1000,0x3000) block unmap".
std::string RangeText(const Range& r);
// "c2", or "get(<behaviour>)" for a get/put subscriber.
std::string ClassicName(const ClassicSub* c);
// One line of a snapshot: seq, counts, the tree, the lists.
std::string StateLine(const Snapshot& s);

}  // namespace nf::fuzz

#endif  // NF_FUZZERS_ORACLES_ORACLES_H_
