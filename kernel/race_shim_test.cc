// kernel/race_shim_test.cc: what the kernel shim reports to the scheduler's race
// detector (sync/race_detector.h), on kernel C compiled as the kernel target's
// deterministic flavour is (kernel/race_shim_bodies.c: the shim force-included,
// the detector's load/store callbacks on). Built where NF_RACE_DETECTION is on
// (the asan preset). Two logical threads, every schedule of the first choice
// bytes; each run on a fresh heap object.
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "kernel/race_shim_bodies.h"
#include "sync/race_detector.h"
#include "sync/scheduler.h"

namespace {

using nf::sched::Outcome;
using nf::sched::RunResult;
using nf::sched::Scheduler;
using nf::sched::ScheduleInput;

using Side = std::function<void(nfk_rt*)>;

// The runs of t0 = a, t1 = b over every schedule whose first 8 choices are 0 or 1.
std::vector<RunResult> Runs(const Side& a, const Side& b) {
  Scheduler s;  // detects races: this test is built only where that is the default
  std::vector<RunResult> out;
  for (uint32_t bits = 0; bits < 256; ++bits) {
    std::vector<uint8_t> choices(64);
    for (int i = 0; i < 8; ++i) choices[i] = (bits >> i) & 1;
    auto* st = static_cast<nfk_rt*>(std::aligned_alloc(64, NFK_RT_BYTES));
    nfk_rt_init(st);
    const std::vector<std::function<void()>> bodies = {[&] { a(st); }, [&] { b(st); }};
    out.push_back(s.Run(bodies, ScheduleInput::Direct(choices)));
    std::free(st);
  }
  return out;
}

// The report of the first run that ended in a race, or "" (every run ok).
std::string FirstRace(const std::vector<RunResult>& runs) {
  for (const RunResult& r : runs) {
    if (r.outcome == Outcome::kDataRace) return r.description;
    EXPECT_EQ(r.outcome, Outcome::kOk) << r.description;
  }
  return "";
}

bool Has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

void ReadOnce(nfk_rt* s) { nfk_rt_read_once(s); }

TEST(KernelRaceShimTest, ThisBuildDetectsRaces) { ASSERT_TRUE(nf::sched::kRaceDetectionBuilt); }

TEST(KernelRaceShimTest, WriteOnceAgainstReadOnceIsNoRace) {
  EXPECT_EQ(FirstRace(Runs(nfk_rt_write_once, ReadOnce)), "");
}

TEST(KernelRaceShimTest, LockedIncrementAgainstLockedReadIsNoRace) {
  EXPECT_EQ(FirstRace(Runs(nfk_rt_locked_increment, [](nfk_rt* s) { nfk_rt_locked_read(s); })),
            "");
}

// Some schedule of a and b races, and its report has every one of `parts`
// and none of `absent`.
void ExpectRace(const Side& a, const Side& b, const std::vector<std::string>& parts,
                const std::vector<std::string>& absent = {}) {
  const std::string r = FirstRace(Runs(a, b));
  ASSERT_NE(r, "");
  for (const std::string& p : parts) EXPECT_TRUE(Has(r, p)) << p << " not in: " << r;
  for (const std::string& p : absent) EXPECT_FALSE(Has(r, p)) << p << " in: " << r;
}

// F2's pattern: the plain ++ under the lock against an unlocked READ_ONCE. Both
// accesses named, in the bodies' file; the writer's lock named; the ++ a
// read-modify-write; the READ_ONCE marked, and not also seen as a plain load.
TEST(KernelRaceShimTest, LockedPlainIncrementAgainstUnlockedReadOnceRaces) {
  ExpectRace(nfk_rt_locked_increment, ReadOnce,
             {"plain write (read-modify-write) of 8 bytes", "marked read of 8 bytes",
              "nfk_rt_locked_increment kernel/race_shim_bodies.c:",
              "nfk_rt_read_once kernel/race_shim_bodies.c:", "held a lock", "(s->lock)"},
             {"plain read"});
}

TEST(KernelRaceShimTest, DroppingTheLockMakesAPlainRaceBetweenWriters) {
  ExpectRace(nfk_rt_unlocked_increment, nfk_rt_locked_increment, {"nfk_rt_unlocked_increment"});
}

// Measured (clang 14): SanitizerCoverage reports a volatile load like a plain
// one. Why the shim's READ_ONCE is an out-of-line call, not the kernel's
// volatile access.
TEST(KernelRaceShimTest, AVolatileLoadInTheInstrumentedFileIsSeenAsPlain) {
  ExpectRace(nfk_rt_write_once, [](nfk_rt* s) { nfk_rt_volatile_read(s); },
             {"plain read of 8 bytes", "nfk_rt_volatile_read"});
}

TEST(KernelRaceShimTest, SmpStoreReleaseOrdersThePayloadForSmpLoadAcquire) {
  EXPECT_EQ(FirstRace(Runs(nfk_rt_publish, [](nfk_rt* s) { nfk_rt_consume(s); })), "");
}

TEST(KernelRaceShimTest, WriteOnceAndReadOncePublishNothing) {
  ExpectRace(nfk_rt_publish_relaxed, [](nfk_rt* s) { nfk_rt_consume_relaxed(s); },
             {"plain read of 8 bytes", "nfk_rt_publish_relaxed"});
}

// kernel/races.supp is registered by the shim (embedded at build time), every
// entry with a reason; an entry added here suppresses the race it names, by
// function and kind, and nothing else.
TEST(KernelRaceShimTest, SuppressionsMatchByFunctionAndKind) {
  bool kernel_entries = false;
  for (const nf::sched::RaceSuppression& s : nf::sched::RaceSuppressions()) {
    if (Has(s.origin, "kernel/races.supp")) kernel_entries = true;
    EXPECT_FALSE(s.reason.empty()) << s.origin;
  }
  EXPECT_TRUE(kernel_entries);
  nf::sched::AddRaceSuppressions(
      "race nfk_rt_unlocked_increment:plain-write nfk_rt_read_once:marked-read test entry\n",
      "race_shim_test");
  EXPECT_EQ(FirstRace(Runs(nfk_rt_unlocked_increment, ReadOnce)),
            "");
  // Not the locked writer, nor a plain reader.
  EXPECT_NE(FirstRace(Runs(nfk_rt_locked_increment, ReadOnce)),
            "");
  EXPECT_NE(FirstRace(Runs(nfk_rt_unlocked_increment, nfk_rt_locked_increment)), "");
}

TEST(KernelRaceShimTest, BadSuppressionTextIsRefusedWithItsLine) {
  std::vector<nf::sched::RaceSuppression> out;
  EXPECT_EQ(nf::sched::ParseRaceSuppressions("# c\n\nrace a b why\n", "f", &out), "");
  EXPECT_EQ(out.size(), 1u);
  EXPECT_EQ(nf::sched::ParseRaceSuppressions("race a b\n", "f", &out), "f:1: an entry needs a reason");
  EXPECT_EQ(nf::sched::ParseRaceSuppressions("\nsuppress a b c\n", "f", &out),
            "f:2: expected 'race <function> <function> <reason>'");
  EXPECT_EQ(nf::sched::ParseRaceSuppressions("race a:sometimes b why\n", "f", &out),
            "f:1: unknown access kind (plain-read, plain-write, marked-read, marked-write, plain, "
            "marked, read, write)");
}

}  // namespace
