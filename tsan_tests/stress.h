// tsan_tests/stress.h: what the real-thread stress tests share.
//
// The stress tests run the notifier core (real-thread flavour, nf_core) on OS
// threads, under ThreadSanitizer in the `tsan` preset, and check an invariant of
// docs/contract.md §7 that a bug would break. They never assert a
// duration. A liveness bug (P7) would hang a test: a watchdog (below) turns a
// test that stops making progress into a failure that says so.
//
// Each test
//   - prints its seed ("NF_SEED=<n>") and replays it when NF_SEED is set. The
//     seed fixes every random choice (ranges, roles, delays); the OS still
//     chooses the interleaving, so a replay is likely, not certain, to repeat it;
//   - runs a bounded number of rounds; NF_SOAK=<factor> multiplies them;
//   - collects what its threads find in a Violations (worker threads never use
//     gtest assertions) and expects it empty at the end; a core Warning counts as
//     a violation.
//
// Quiescent points are Barrier rounds: every worker arrives, the last one runs
// the round's check while the others wait, then all go on. The barrier's lock
// orders everything before the check, so the check reads plain fields safely.
#ifndef NF_TSAN_TESTS_STRESS_H_
#define NF_TSAN_TESTS_STRESS_H_

#include <array>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "core/notifier.h"
#include "gtest/gtest.h"
#include "harness/driver.h"

namespace nf::stress {

// --- Seeds and budgets ---------------------------------------------------------

// The calling test's base seed: NF_SEED if set (plus k on the k-th repeat of the
// test in one process, --gtest_repeat), else a fresh random one. Prints it
// with the test's name and records it as the test's "seed" property.
uint64_t TestSeed();
// A seed for stream `stream` of a base seed (SplitMix64): one per thread.
uint64_t SubSeed(uint64_t seed, uint64_t stream);
// NF_SOAK: the factor every round count is multiplied by (default 1).
double SoakFactor();
// n * SoakFactor(), at least 1.
long Scaled(long n);
// Whether a test that planned `planned` rounds (or iterations) and has done `done`
// should stop: when done >= planned, or when the test has run for its time cap,
// NF_STRESS_SECONDS (default 100; times NF_SOAK when that is above 1; 0: no cap).
// The cap keeps a loaded machine within ctest's TIMEOUT (300 s): rounds there can
// be 10x slower (every yield hands the core to another process). It decides how
// much work is done, never whether a test passes; a capped test says so, with
// the rounds it did.
bool Enough(long done, long planned);

// A seeded generator. Not thread-safe: one per thread.
class Rng {
 public:
  explicit Rng(uint64_t seed) : gen_(seed) {}
  // Uniform in [lo, hi], inclusive.
  int Uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(gen_); }
  // True with probability num/den.
  bool Chance(int num, int den) { return Uniform(0, den - 1) < num; }
  std::mt19937_64& gen() { return gen_; }

 private:
  std::mt19937_64 gen_;
};

// Calls std::this_thread::yield() between 0 and max times: widens race windows.
void Yields(Rng& rng, int max);

// --- Ranges over the driver model's page table ---------------------------------

// A random page-aligned range within the page table: [first page, end page).
struct PageRange {
  int first = 0;
  int end = 0;  // exclusive
  uint64_t start() const { return uint64_t(first) * harness::kPageSize; }
  uint64_t length() const { return uint64_t(end - first) * harness::kPageSize; }
};
PageRange RandomPages(Rng& rng);
Range MakeRange(PageRange p, bool blockable, Event event = Event::kUnmap);
// r's [start, end) and the closed interval [start, last] share an address.
bool Overlaps(const Range& r, uint64_t start, uint64_t last);

// --- Violations ----------------------------------------------------------------

// What the threads of a test found. Thread-safe.
class Violations {
 public:
  void Add(std::string what);
  long count() const;
  // The first few messages, one per line, and the total.
  std::string Summary() const;

 private:
  static constexpr int kKept = 20;
  mutable std::mutex mu_;
  long count_ = 0;
  std::vector<std::string> first_;
};

// Expects v empty (else prints the violations and the seed to replay). Returns
// true if it is. On false, a test leaks its space rather than clean up: the
// space may be stuck in an epoch, and removing from it would hang.
bool ExpectNoViolations(const Violations& v, uint64_t seed);

// Gives up ownership without freeing: what a failed test does with its
// subscriptions, which it can neither remove (that may hang) nor destroy while
// inserted (that aborts).
template <typename T>
void Leak(std::unique_ptr<T> p) {
  (void)p.release();
}

// Options whose WarnHandler turns every core Warning into a violation.
AddressSpaceOptions ReportingTo(Violations* v);

// Inserts sub over RandomPages(rng) with ops. On a failure, reports it in v,
// deletes sub and returns false.
template <typename Sub>
bool InsertAtRandom(AddressSpace* space, Sub* sub, Rng& rng, const IntervalOps* ops,
                    Violations* v) {
  const PageRange p = RandomPages(rng);
  const absl::Status st = space->InsertInterval(sub, p.start(), p.length(), ops);
  if (st.ok()) return true;
  v->Add("InsertInterval failed: " + st.ToString());
  delete sub;
  return false;
}

// P1 and P2 on a space nobody is invalidating: active == 0, seq even, deferred
// list empty, no open invalidation, every tree subscription's seq odd.
void CheckQuiet(AddressSpace* space, Violations* v, std::string_view where);

// P4 at a quiescent point: the tree holds exactly the subscriptions in `live`
// (one list per thread of the ones it inserted and has not removed).
void CheckTreeHolds(AddressSpace* space, const std::set<const IntervalSubscription*>& live,
                    Violations* v, std::string_view where);
template <typename Lists>
void CheckTreeHoldsLive(AddressSpace* space, const Lists& live, Violations* v,
                        std::string_view where) {
  std::set<const IntervalSubscription*> want;
  for (const auto& l : live) want.insert(l.begin(), l.end());
  CheckTreeHolds(space, want, v, where);
}

// Takes a driver's user lock as an interval callback must: waits for it when r is
// blockable, else only tries. False: a non-blockable r found it busy (the callback
// fails, and must not touch what the lock guards).
bool LockForRange(std::mutex& mu, const Range& r);

// The fixture of a test on one space: its seed (TestSeed), what its threads find,
// and the space, which reports its Warnings there. The test ends the space:
// PutUser once it passed, or leaks it (ExpectNoViolations).
class SpaceTest : public ::testing::Test {
 protected:
  const uint64_t seed = TestSeed();
  Violations v;
  AddressSpace* const space = AddressSpace::Create(ReportingTo(&v));
};

// --- Synchronization of the test itself ------------------------------------------

// A reusable barrier for n threads. The last to arrive runs `at_quiescence`
// before anyone leaves.
class Barrier {
 public:
  explicit Barrier(int n) : n_(n) {}
  void ArriveAndWait(const std::function<void()>& at_quiescence);

 private:
  const int n_;
  std::mutex mu_;
  std::condition_variable cv_;
  int arrived_ = 0;
  uint64_t generation_ = 0;
};

// A counter that threads wait on: a protocol step.
class Signal {
 public:
  void Add(int n = 1);
  void WaitFor(int at_least);
  void Reset();  // only when no thread waits

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int value_ = 0;
};

// Runs fn(0) .. fn(n - 1) on n threads and joins them.
void RunThreads(int n, const std::function<void(int)>& fn);

// A test's rounds on n threads: in each, every thread does its part of the work,
// then all meet at a Barrier, whose last arrival checks the quiescent state before
// anyone goes on. They stop once Enough(rounds done, planned) or v holds a
// violation; there is always at least one round.
class Rounds {
 public:
  Rounds(long planned, const Violations* v) : planned_(planned), v_(v) {}
  // Runs work(t, rng) on threads t = 0 .. n - 1, round after round (rng is thread
  // t's own, seeded SubSeed(seed, t + 1), kept across rounds); at each quiescent
  // point runs at_quiescence(), then counts the round.
  void Run(int n, uint64_t seed, const std::function<void()>& at_quiescence,
           const std::function<void(int t, Rng& rng)>& work);
  // The rounds done; while a round runs (and in its at_quiescence), its index.
  long done() const { return done_; }

 private:
  const long planned_;
  const Violations* const v_;
  long done_ = 0;
  bool stop_ = false;  // written at the quiescent point only
};

// --- The liveness watchdog (P7) -------------------------------------------------------
//
// While a test runs, a watchdog thread (started and joined around every test by a
// gtest listener in stress.cc) watches a progress count: Progress() adds one, and
// so do every Barrier round, Signal::Add and thread RunThreads joins. When the
// count does not move for NF_STRESS_WATCHDOG seconds (default 60; 0 turns it
// off) the watchdog prints
//   P7 (liveness): hang: <test> made no progress for N s; replay: NF_SEED=<n>
// and ends the process with status 3. It measures no speed: a round of any test
// takes milliseconds, so a minute without one is a hang, never a slow machine.
void Progress();

// --- The driver model's interval subscription --------------------------------------

// An interval subscription mirrored by a harness::Driver (spec §6): its invalidate
// callback is Driver::Invalidate.
struct MirroredSub : IntervalSubscription {
  harness::Driver* driver = nullptr;
};
const IntervalOps* MirrorOps();

// N interval subscriptions, each mirrored by its own driver (subs[i] by drivers[i]).
template <size_t N>
struct MirroredSubs {
  // Inserts subs[i] over pages[i] with ops, for every i; stops at the first failure.
  absl::Status Insert(AddressSpace* space, const std::array<PageRange, N>& pages,
                      const IntervalOps* ops) {
    for (size_t i = 0; i < N; ++i) {
      (*subs)[i].driver = &drivers[i];
      absl::Status st =
          space->InsertInterval(&(*subs)[i], pages[i].start(), pages[i].length(), ops);
      if (!st.ok()) return st;
    }
    return absl::OkStatus();
  }

  std::array<harness::Driver, N> drivers;
  // On the heap, so that a failed test can Leak them.
  std::unique_ptr<std::array<MirroredSub, N>> subs = std::make_unique<std::array<MirroredSub, N>>();
};

}  // namespace nf::stress

#endif  // NF_TSAN_TESTS_STRESS_H_
