// Stress 1: faults against invalidations with the driver model (spec §6), P6.
//
// Faulting threads run Driver::Fault (read_begin, read the page table, lock,
// read_retry, install) over random pages; invalidating threads run
// InvalidateRangeStart, PageTable::Change over the range, InvalidateRangeEnd,
// blockable and non-blockable mixed, over several overlapping subscriptions.
//
// P6 is checked in two places:
//   - at every quiescent point (a barrier between rounds): every mirror entry is
//     0 (no entry) or equals the page table, and lies inside its subscription;
//     the space is idle (P1, P2);
//   - during the run, after each fault, under each driver's user lock
//     (Driver::HoldLock): every entry is 0 or equals the page table. This holds
//     at any moment, not only when no invalidation covers the page: a page
//     changes only after every overlapping callback erased it under the lock and
//     set the subscription's seq, and from then until the end a fault either
//     waits in read_begin or fails read_retry, so no entry for the page can be
//     installed until the epoch is over; the lock orders our reads after the
//     erase, and the change after our reads.
// A lost set_seq, or one stored outside the user lock, lets a fault that read
// the page table before an invalidation install after that invalidation's erase:
// an entry the page table then moves away from.
//
// At a quiescent point the check also refaults some subscriptions: with nothing
// running, a fault must succeed at its first attempt and install the page table
// (so the next round starts from populated mirrors, which invalidations must erase).
#include <array>
#include <atomic>
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_format.h"
#include "gtest/gtest.h"
#include "tsan_tests/stress.h"

namespace nf::stress {
namespace {

using harness::Driver;
using harness::kTablePages;
using harness::PagesOf;
using harness::PagesOfRange;
using harness::PageTable;
using harness::PageValue;

constexpr int kFaulters = 2;
constexpr int kInvalidators = 2;
constexpr int kRounds = 45000;
constexpr int kOpsPerRound = 25;
// Overlapping subscriptions; the last covers the whole table.
constexpr std::array<PageRange, 5> kSubPages = {
    {{0, 10}, {6, 18}, {14, 26}, {22, kTablePages}, {0, kTablePages}}};
constexpr int kSubs = kSubPages.size();

// Compares driver i's mirror with the page table. The caller holds the driver's
// user lock, or no other thread runs. Returns the number of entries compared.
long CheckMirror(const Driver& d, int i, const PageTable& pt, Violations* v,
                 const std::string& where) {
  long compared = 0;
  for (int p = 0; p < kTablePages; ++p) {
    const PageValue m = d.MirrorForTesting(p);
    if (m == 0) continue;
    ++compared;
    const PageValue now = pt.Read(p);
    if (p < kSubPages[i].first || p >= kSubPages[i].end) {
      v->Add(
          absl::StrFormat("%s: mirror %d has an entry for page %d, outside its subscription "
                          "[%d,%d)",
                          where, i, p, kSubPages[i].first, kSubPages[i].end));
    } else if (m != now) {
      v->Add(absl::StrFormat("P6 %s: mirror %d page %d holds %u, the page table %u (stale)", where,
                             i, p, m, now));
    }
  }
  return compared;
}

class StressFaults : public SpaceTest {};

TEST_F(StressFaults, NoStaleMirrorEntry) {
  PageTable pt;
  MirroredSubs<kSubs> mirrored;
  ASSERT_TRUE(mirrored.Insert(space, kSubPages, MirrorOps()).ok());
  std::array<Driver, kSubs>& drivers = mirrored.drivers;
  std::array<MirroredSub, kSubs>& subs = *mirrored.subs;

  std::atomic<long> faults_installed{0}, faults_retried{0}, faults_gave_up{0};
  std::atomic<long> invalidations{0}, eagain{0}, compared_running{0};
  long compared_quiet = 0;
  Rounds rounds(Scaled(kRounds), &v);
  Rng check_rng(SubSeed(seed, 0));

  auto at_quiescence = [&] {
    const std::string where = absl::StrFormat("at the end of round %d", rounds.done());
    CheckQuiet(space, &v, where);
    for (int i = 0; i < kSubs; ++i) {
      compared_quiet += CheckMirror(drivers[i], i, pt, &v, where);
      if (!check_rng.Chance(1, 2)) continue;
      const PageRange all = kSubPages[i];
      const int attempts =
          drivers[i].Fault(&subs[i], pt, PagesOf(all.start(), all.start() + all.length() - 1));
      if (attempts != 1) {
        v.Add(absl::StrFormat("%s: a fault with nothing running took %d attempt(s)", where,
                              attempts));
      }
      for (int p = all.first; p < all.end; ++p) {
        if (drivers[i].MirrorForTesting(p) != pt.Read(p)) {
          v.Add(
              absl::StrFormat("%s: a quiescent fault of mirror %d left page %d at %u, the "
                              "page table at %u",
                              where, i, p, drivers[i].MirrorForTesting(p), pt.Read(p)));
        }
      }
    }
  };

  rounds.Run(kFaulters + kInvalidators, seed, at_quiescence, [&](int t, Rng& rng) {
    const bool faulter = t < kFaulters;
    for (int op = 0; op < kOpsPerRound; ++op) {
      if (faulter) {
        const int i = rng.Uniform(0, kSubs - 1);
        const PageRange p = RandomPages(rng);
        const int attempts =
            drivers[i].Fault(&subs[i], pt, PagesOf(p.start(), p.start() + p.length() - 1));
        if (attempts > 0) faults_installed.fetch_add(1, std::memory_order_relaxed);
        if (attempts > 1 || attempts < 0) faults_retried.fetch_add(1, std::memory_order_relaxed);
        if (attempts < 0) faults_gave_up.fetch_add(1, std::memory_order_relaxed);
        // P6 while invalidations run, under each driver's user lock.
        for (int j = 0; j < kSubs; ++j) {
          drivers[j].HoldLock();
          compared_running.fetch_add(CheckMirror(drivers[j], j, pt, &v, "during the run"),
                                     std::memory_order_relaxed);
          drivers[j].DropLock();
        }
      } else {
        const Range r = MakeRange(RandomPages(rng), /*blockable=*/rng.Chance(2, 3));
        const absl::Status st = space->InvalidateRangeStart(r);
        if (st.ok()) {
          pt.Change(PagesOfRange(r));
          Yields(rng, 2);
          space->InvalidateRangeEnd(r);
          invalidations.fetch_add(1, std::memory_order_relaxed);
        } else if (r.blockable || !absl::IsUnavailable(st)) {
          v.Add(absl::StrFormat("InvalidateRangeStart(%s) failed: %s",
                                r.blockable ? "blockable" : "non-blockable", st.ToString()));
        } else {
          eagain.fetch_add(1, std::memory_order_relaxed);
        }
      }
      Yields(rng, 1);
    }
  });

  std::printf(
      "[   info   ] %ld rounds: %ld faults installed, %ld retried, %ld gave up; %ld "
      "invalidations, %ld EAGAIN; mirror entries compared: %ld while running, %ld at "
      "quiescent points\n",
      rounds.done(), faults_installed.load(), faults_retried.load(), faults_gave_up.load(),
      invalidations.load(), eagain.load(), compared_running.load(), compared_quiet);
  CheckQuiet(space, &v, "end");
  // Not vacuous: faults installed entries and the checks compared some.
  EXPECT_GT(faults_installed.load(), 0);
  EXPECT_GT(compared_running.load(), 0);
  EXPECT_GT(compared_quiet, 0);
  if (!ExpectNoViolations(v, seed)) return Leak(std::move(mirrored.subs));
  for (MirroredSub& s : subs) space->RemoveInterval(&s);
  space->PutUser();
}

}  // namespace
}  // namespace nf::stress
