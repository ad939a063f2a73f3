// Stress 6: non-blocking failures mixed with blocking invalidations (spec §3.3),
// P8 and P1.
//
// Interval subscriptions are mirrored by drivers whose user lock a "fault"
// thread keeps taking and holding (Driver::HoldLock, as a fault stuck between its
// lock and unlock), so non-blocking starts that reach a busy driver fail with
// Unavailable. Classic subscribers are of two kinds: pairing ones (start and end;
// they never fail) count, per thread, the starts not yet ended; failing ones
// (start only, as §3.2 requires) fail every other non-blocking start.
// Invalidating threads mix blockable and non-blockable starts. The checks:
//   - after every failed start, the calling thread holds nothing: its count of
//     classic starts not yet ended is 0 (start/end pairing, P8);
//   - after every successful start it is the number of pairing subscribers, and
//     after the end 0 again; a blockable start never fails;
//   - at every quiescent point and at the end: active == 0, the seq even, no
//     deferred work, no open invalidation (P1, P8: a failed start gave back its
//     epoch and its active count).
// The fault thread takes no core path that waits for an epoch, so a leaked epoch
// shows as a failed check rather than a hang.
#include <array>
#include <atomic>
#include <memory>
#include <utility>

#include "absl/strings/str_format.h"
#include "gtest/gtest.h"
#include "tsan_tests/stress.h"

namespace nf::stress {
namespace {

using harness::Driver;
using harness::kTablePages;
using harness::PagesOfRange;
using harness::PageTable;

constexpr int kInvalidators = 2;
constexpr int kRounds = 50000;
constexpr int kOpsPerRound = 30;
constexpr std::array<PageRange, 4> kSubPages = {{{0, 10}, {8, 20}, {18, kTablePages}, {4, 28}}};
constexpr int kSubs = kSubPages.size();
constexpr int kPairing = 2;
constexpr int kFailing = 2;

// Classic starts of this thread not yet ended (pairing subscribers only).
thread_local int tl_open_classic_starts = 0;

struct CountingClassic : ClassicSubscription {
  using ClassicSubscription::ClassicSubscription;
  std::atomic<unsigned> nonblock_calls{0};
  std::atomic<long> failures{0};
};

bool PairingStart(ClassicSubscription*, const Range&) {
  ++tl_open_classic_starts;
  return true;
}
void PairingEnd(ClassicSubscription*, const Range&) { --tl_open_classic_starts; }
bool FailingStart(ClassicSubscription* s, const Range& r) {
  auto* c = static_cast<CountingClassic*>(s);
  if (r.blockable || c->nonblock_calls.fetch_add(1) % 2 != 0) return true;
  c->failures.fetch_add(1);
  return false;
}
constexpr ClassicOps kPairingOps = {nullptr, &PairingStart, &PairingEnd, nullptr, nullptr};
constexpr ClassicOps kFailingOps = {nullptr, &FailingStart, nullptr, nullptr, nullptr};

// Counts the interval callbacks that fail (the driver's lock was busy).
std::atomic<long> g_interval_failures{0};
bool CountingMirrorInvalidate(IntervalSubscription* sub, const Range& r, Seq cur_seq) {
  const bool ok = MirrorOps()->invalidate(sub, r, cur_seq);
  if (!ok) g_interval_failures.fetch_add(1);
  return ok;
}
constexpr IntervalOps kCountingMirrorOps = {&CountingMirrorInvalidate};

class StressNonBlocking : public SpaceTest {};

TEST_F(StressNonBlocking, FailedStartsLeaveNothingBehind) {
  PageTable pt;
  MirroredSubs<kSubs> mirrored;
  ASSERT_TRUE(mirrored.Insert(space, kSubPages, &kCountingMirrorOps).ok());
  std::array<MirroredSub, kSubs>& subs = *mirrored.subs;
  // Registered in an interleaved order, so failing and pairing ones alternate on
  // the list.
  std::array<CountingClassic, kPairing> pairing = {CountingClassic(&kPairingOps),
                                                   CountingClassic(&kPairingOps)};
  std::array<CountingClassic, kFailing> failing = {CountingClassic(&kFailingOps),
                                                   CountingClassic(&kFailingOps)};
  for (int i = 0; i < kPairing; ++i) {
    ASSERT_TRUE(space->RegisterClassic(&pairing[i]).ok());
    ASSERT_TRUE(space->RegisterClassic(&failing[i]).ok());
  }
  g_interval_failures = 0;

  std::atomic<long> ok_starts{0}, failed_starts{0};
  Rounds rounds(Scaled(kRounds), &v);
  auto at_quiescence = [&] { CheckQuiet(space, &v, absl::StrFormat("round %d", rounds.done())); };
  rounds.Run(kInvalidators + 1, seed, at_quiescence, [&](int t, Rng& rng) {
    if (t == kInvalidators) {  // the "fault" thread: holds driver locks
      for (int op = 0; op < kOpsPerRound; ++op) {
        Driver& d = mirrored.drivers[rng.Uniform(0, kSubs - 1)];
        d.HoldLock();
        Yields(rng, 6);
        d.DropLock();
        Yields(rng, 2);
      }
    } else {
      for (int op = 0; op < kOpsPerRound; ++op) {
        const Range r = MakeRange(RandomPages(rng), /*blockable=*/rng.Chance(1, 2));
        const absl::Status st = space->InvalidateRangeStart(r);
        if (!st.ok()) {
          failed_starts.fetch_add(1, std::memory_order_relaxed);
          if (r.blockable || !absl::IsUnavailable(st)) {
            v.Add(absl::StrFormat("InvalidateRangeStart(%s) failed: %s",
                                  r.blockable ? "blockable" : "non-blockable", st.ToString()));
          }
          if (tl_open_classic_starts != 0) {
            v.Add(
                absl::StrFormat("P8: after a failed start this thread still holds %d "
                                "classic start(s) without an end",
                                tl_open_classic_starts));
            tl_open_classic_starts = 0;
          }
          continue;
        }
        ok_starts.fetch_add(1, std::memory_order_relaxed);
        if (tl_open_classic_starts != kPairing) {
          v.Add(
              absl::StrFormat("after a successful start this thread holds %d classic "
                              "start(s), want %d",
                              tl_open_classic_starts, kPairing));
        }
        pt.Change(PagesOfRange(r));
        Yields(rng, 2);
        space->InvalidateRangeEnd(r);
        if (tl_open_classic_starts != 0) {
          v.Add(absl::StrFormat("after an end this thread holds %d classic start(s)",
                                tl_open_classic_starts));
          tl_open_classic_starts = 0;
        }
      }
    }
  });

  long classic_failures = 0;
  for (const CountingClassic& c : failing) classic_failures += c.failures.load();
  std::printf(
      "[   info   ] %ld rounds: %ld starts ok, %ld failed (%ld interval callbacks "
      "refused, %ld classic starts refused)\n",
      rounds.done(), ok_starts.load(), failed_starts.load(), g_interval_failures.load(),
      classic_failures);
  CheckQuiet(space, &v, "end");
  // Not vacuous: both kinds of failure happened.
  EXPECT_GT(g_interval_failures.load(), 0);
  EXPECT_GT(classic_failures, 0);
  if (!ExpectNoViolations(v, seed)) return Leak(std::move(mirrored.subs));
  for (int i = 0; i < kPairing; ++i) {
    space->UnregisterClassic(&pairing[i]);
    space->UnregisterClassic(&failing[i]);
  }
  for (MirroredSub& s : subs) space->RemoveInterval(&s);
  space->PutUser();
}

}  // namespace
}  // namespace nf::stress
