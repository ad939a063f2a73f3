#include "tsan_tests/stress.h"

#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <thread>
#include <utility>

#include "absl/strings/str_format.h"
#include "gtest/gtest.h"

namespace nf::stress {

uint64_t SubSeed(uint64_t seed, uint64_t stream) {
  // SplitMix64 of (seed, stream): distinct streams give unrelated sequences.
  uint64_t z = seed + (stream + 1) * 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

namespace {
void NoteSeedForWatchdog(uint64_t seed);
}  // namespace

uint64_t TestSeed() {
  const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const std::string name =
      info != nullptr ? absl::StrFormat("%s.%s", info->test_suite_name(), info->name()) : "?";
  // Under --gtest_repeat a test runs again in the same process: its k-th run
  // (from 0) takes NF_SEED + k, so repeats explore new programs, and the seed
  // printed for a run replays it (as a first run) with NF_SEED set to it.
  static std::map<std::string, uint64_t>* runs = new std::map<std::string, uint64_t>;
  const uint64_t run = (*runs)[name]++;
  uint64_t seed;
  const char* env = std::getenv("NF_SEED");
  if (env != nullptr && *env != '\0') {
    char* end = nullptr;
    seed = std::strtoull(env, &end, 0);
    if (end == nullptr || *end != '\0') {
      std::fprintf(stderr, "NF_SEED=%s is not a number\n", env);
      std::abort();
    }
    seed += run;
  } else {
    std::random_device rd;
    seed = (uint64_t(rd()) << 32) ^ rd();
  }
  std::printf("[   seed   ] %s: NF_SEED=%" PRIu64 " NF_SOAK=%g\n", name.c_str(), seed,
              SoakFactor());
  NoteSeedForWatchdog(seed);
  std::fflush(stdout);
  ::testing::Test::RecordProperty("seed", std::to_string(seed));
  return seed;
}

double SoakFactor() {
  const char* env = std::getenv("NF_SOAK");
  if (env == nullptr || *env == '\0') return 1.0;
  char* end = nullptr;
  const double f = std::strtod(env, &end);
  if (end == nullptr || *end != '\0' || !(f > 0)) {
    std::fprintf(stderr, "NF_SOAK=%s is not a positive factor\n", env);
    std::abort();
  }
  return f;
}

long Scaled(long n) {
  const double scaled = double(n) * SoakFactor();
  return scaled < 1 ? 1 : long(scaled);
}

namespace {
// The value of the environment variable `name`, a number of seconds >= 0, or
// `fallback` if it is unset or empty. Anything else aborts with a message.
double EnvSeconds(const char* name, double fallback) {
  const char* env = std::getenv(name);
  if (env == nullptr || *env == '\0') return fallback;
  char* end = nullptr;
  const double seconds = std::strtod(env, &end);
  if (end == nullptr || *end != '\0' || !(seconds >= 0)) {
    std::fprintf(stderr, "%s=%s is not a number of seconds\n", name, env);
    std::abort();
  }
  return seconds;
}

// When the current test started (the watchdog's OnTestStart sets it).
std::atomic<int64_t> g_test_start_ns{0};
int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
}  // namespace

bool Enough(long done, long planned) {
  if (done >= planned) return true;
  static const double cap = [] {
    const double seconds = EnvSeconds("NF_STRESS_SECONDS", 100);
    return SoakFactor() > 1 ? seconds * SoakFactor() : seconds;
  }();
  if (cap == 0) return false;
  const double elapsed = double(NowNs() - g_test_start_ns.load()) * 1e-9;
  if (elapsed < cap) return false;
  std::printf("[   info   ] time cap: stopping after %ld of %ld planned rounds (%.0f s; "
              "NF_STRESS_SECONDS)\n",
              done, planned, cap);
  std::fflush(stdout);
  return true;
}

void Yields(Rng& rng, int max) {
  for (int i = rng.Uniform(0, max); i > 0; --i) std::this_thread::yield();
}

PageRange RandomPages(Rng& rng) {
  PageRange p;
  p.first = rng.Uniform(0, harness::kTablePages - 1);
  p.end = p.first + rng.Uniform(1, harness::kTablePages - p.first);
  return p;
}

Range MakeRange(PageRange p, bool blockable, Event event) {
  Range r;
  r.start = p.start();
  r.end = p.start() + p.length();
  r.blockable = blockable;
  r.event = event;
  return r;
}

bool Overlaps(const Range& r, uint64_t start, uint64_t last) {
  return r.start < r.end && r.start <= last && start <= r.end - 1;
}

// --- Violations ------------------------------------------------------------------

void Violations::Add(std::string what) {
  std::lock_guard<std::mutex> l(mu_);
  ++count_;
  if (first_.size() < kKept) first_.push_back(std::move(what));
}

long Violations::count() const {
  std::lock_guard<std::mutex> l(mu_);
  return count_;
}

std::string Violations::Summary() const {
  std::lock_guard<std::mutex> l(mu_);
  std::string out;
  for (const std::string& s : first_) out += "  " + s + "\n";
  out += absl::StrFormat("  (%d violation(s) in all)", count_);
  return out;
}

bool ExpectNoViolations(const Violations& v, uint64_t seed) {
  EXPECT_EQ(v.count(), 0) << v.Summary() << "\nreplay: NF_SEED=" << seed;
  return v.count() == 0;
}

AddressSpaceOptions ReportingTo(Violations* v) {
  AddressSpaceOptions o;
  o.warn = [v](Warning w, std::string_view detail) {
    v->Add(absl::StrFormat("core warning %s: %s", WarningName(w), detail));
  };
  return o;
}

void CheckQuiet(AddressSpace* space, Violations* v, std::string_view where) {
  const Snapshot s = space->Inspect();
  if (s.active_invalidate_ranges != 0 || (s.invalidate_seq & 1) != 0 || !s.deferred.empty() ||
      s.open_invalidations != 0) {
    v->Add(absl::StrFormat("P1 at %s: active=%d seq=%#x deferred=%d open=%d (want 0, even, 0, 0)",
                           where, s.active_invalidate_ranges, s.invalidate_seq, s.deferred.size(),
                           s.open_invalidations));
  }
  for (const Snapshot::Interval& i : s.tree) {
    if ((i.seq & 1) == 0) {
      v->Add(absl::StrFormat("P2 at %s: subscription [%#x,%#x] has even seq %#x", where, i.start,
                             i.last, i.seq));
    }
  }
}

void CheckTreeHolds(AddressSpace* space, const std::set<const IntervalSubscription*>& live,
                    Violations* v, std::string_view where) {
  std::set<const IntervalSubscription*> got;
  for (const Snapshot::Interval& i : space->Inspect().tree) got.insert(i.sub);
  if (got != live) {
    v->Add(
        absl::StrFormat("P4 at %s: the tree holds %d subscriptions, %d are inserted and not "
                        "removed (or they differ)",
                        where, got.size(), live.size()));
  }
}

bool LockForRange(std::mutex& mu, const Range& r) {
  if (r.blockable) {
    mu.lock();
    return true;
  }
  return mu.try_lock();
}

// --- Barrier, Signal, threads ------------------------------------------------------

void Barrier::ArriveAndWait(const std::function<void()>& at_quiescence) {
  std::unique_lock<std::mutex> l(mu_);
  const uint64_t gen = generation_;
  if (++arrived_ == n_) {
    if (at_quiescence) at_quiescence();
    Progress();
    arrived_ = 0;
    ++generation_;
    cv_.notify_all();
    return;
  }
  cv_.wait(l, [&] { return generation_ != gen; });
}

void Signal::Add(int n) {
  std::lock_guard<std::mutex> l(mu_);
  value_ += n;
  Progress();
  cv_.notify_all();
}

void Signal::WaitFor(int at_least) {
  std::unique_lock<std::mutex> l(mu_);
  cv_.wait(l, [&] { return value_ >= at_least; });
}

void Signal::Reset() {
  std::lock_guard<std::mutex> l(mu_);
  value_ = 0;
}

void RunThreads(int n, const std::function<void(int)>& fn) {
  std::vector<std::thread> threads;
  threads.reserve(n);
  for (int i = 0; i < n; ++i) threads.emplace_back(fn, i);
  for (std::thread& t : threads) {
    t.join();
    Progress();
  }
}

void Rounds::Run(int n, uint64_t seed, const std::function<void()>& at_quiescence,
                 const std::function<void(int t, Rng& rng)>& work) {
  Barrier barrier(n);
  const std::function<void()> end_of_round = [&] {
    at_quiescence();
    ++done_;
    stop_ = Enough(done_, planned_) || v_->count() > 0;
  };
  RunThreads(n, [&](int t) {
    Rng rng(SubSeed(seed, t + 1));
    do {
      work(t, rng);
      barrier.ArriveAndWait(end_of_round);
    } while (!stop_);
  });
}

// --- The watchdog ----------------------------------------------------------------------

namespace {

std::atomic<uint64_t> g_progress{0};
std::atomic<uint64_t> g_seed{0};
std::atomic<bool> g_has_seed{false};

void NoteSeedForWatchdog(uint64_t seed) {
  g_seed.store(seed);
  g_has_seed.store(true);
}

// NF_STRESS_WATCHDOG: whole seconds without progress before a test counts as hung.
long WatchdogSeconds() { return long(EnvSeconds("NF_STRESS_WATCHDOG", 60)); }

// Started by OnTestStart, stopped by OnTestEnd: one watchdog thread per test.
class Watchdog : public ::testing::EmptyTestEventListener {
 public:
  void OnTestStart(const ::testing::TestInfo& info) override {
    g_test_start_ns.store(NowNs());
    const long seconds = WatchdogSeconds();
    if (seconds == 0) return;
    name_ = absl::StrFormat("%s.%s", info.test_suite_name(), info.name());
    g_has_seed.store(false);
    {
      std::lock_guard<std::mutex> l(mu_);
      stop_ = false;
    }
    thread_ = std::thread([this, seconds] { Watch(seconds); });
  }
  void OnTestEnd(const ::testing::TestInfo&) override {
    if (!thread_.joinable()) return;
    {
      std::lock_guard<std::mutex> l(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  void Watch(long seconds) {
    std::unique_lock<std::mutex> l(mu_);
    uint64_t seen = g_progress.load();
    long still = 0;  // whole seconds without progress
    while (!cv_.wait_for(l, std::chrono::seconds(1), [this] { return stop_; })) {
      const uint64_t now = g_progress.load();
      if (now != seen) {
        seen = now;
        still = 0;
        continue;
      }
      if (++still < seconds) continue;
      std::fflush(stdout);
      if (g_has_seed.load()) {
        std::fprintf(stderr,
                     "P7 (liveness): hang: %s made no progress for %ld s; replay: "
                     "NF_SEED=%" PRIu64 "\n",
                     name_.c_str(), seconds, g_seed.load());
      } else {
        std::fprintf(stderr, "P7 (liveness): hang: %s made no progress for %ld s\n",
                     name_.c_str(), seconds);
      }
      std::fflush(stderr);
      std::_Exit(3);  // the hung threads cannot be joined
    }
  }

  std::string name_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

// Registered before main runs (the tests link gtest_main); gtest owns it.
[[maybe_unused]] const bool kWatchdogRegistered = [] {
  ::testing::UnitTest::GetInstance()->listeners().Append(new Watchdog);
  return true;
}();

}  // namespace

void Progress() { g_progress.fetch_add(1, std::memory_order_relaxed); }

// --- MirroredSub ---------------------------------------------------------------------

namespace {
bool InvalidateMirror(IntervalSubscription* sub, const Range& range, Seq cur_seq) {
  return static_cast<MirroredSub*>(sub)->driver->Invalidate(sub, range, cur_seq);
}
constexpr IntervalOps kMirrorOps = {&InvalidateMirror};
}  // namespace

const IntervalOps* MirrorOps() { return &kMirrorOps; }

}  // namespace nf::stress
