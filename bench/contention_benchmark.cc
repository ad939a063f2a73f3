// bench/contention_benchmark.cc: faulting threads against an invalidating thread
// on one address space, with the driver pattern of spec §6.
//
//   Contention/faulters:F/invalidators:I/hold_ns:H
//
// kSubs one-page subscriptions share a page table of one value per subscription.
//   fault (each of F threads, on a subscription picked by its own seeded
//   generator): seq = ReadBegin(); v = page table; lock(user);
//   ReadRetry(seq) ? unlock and retry (at most kMaxTries) : install v; unlock.
//   invalidate (each of I threads): start over kSpan consecutive subscriptions
//   (the callback: lock(user); SetSeq; erase the mirror; unlock), change their
//   page-table values, then, if H > 0, keep the range invalidated for H ns more
//   (a busy wait, standing in for the kernel's unmap and TLB flush between start
//   and end), end; the next range slides by one subscription. With H = 0 the odd
//   epoch lasts a few lock hand-offs and collisions are rare.
//
// Each repetition runs the threads for kRunFor of wall time (bounded: a stop flag,
// and every retry loop is bounded too) and reports
//   faults_per_s, invalidations_per_s   completed operations per second of wall time
//   retries_per_fault                   ReadRetry collisions per completed fault
//   sleeps_per_fault                    the faulters' voluntary context switches per
//                                       completed fault: ReadBegin waiting for an
//                                       epoch to end, or a contended lock (Linux
//                                       RUSAGE_THREAD; costs nothing on the fast path)
//   sleeps_per_invalidation             the same for the invalidating side
//   gave_up                             faults that hit kMaxTries (expected 0)
//   stale                               mirror entries that differ from the page
//                                       table once all threads stopped (must be 0:
//                                       it is property P6, checked, not timed)
// F:2 I:0 and F:0 I:1 run the same code with one side missing: the uncontended
// rates to compare with. On a machine with fewer than 3 cores the threads also
// share CPUs: compare rates with that in mind.
#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_format.h"
#include "bench/benchmarks.h"
#include "bench/driver_state.h"
#include "benchmark/benchmark.h"
#include "core/notifier.h"
#include "sync/sync.h"

namespace nf::bench {
namespace {

constexpr size_t kSubs = 16;
constexpr size_t kSpan = 4;  // subscriptions per invalidated range
constexpr int kMaxTries = 1 << 20;
constexpr auto kRunFor = std::chrono::milliseconds(250);

struct Mirror : IntervalSubscription {
  sync::Mutex user_lock;
  uint64_t value ABSL_GUARDED_BY(user_lock) = 0;
  bool valid ABSL_GUARDED_BY(user_lock) = false;
};

bool EraseMirror(IntervalSubscription* sub, const Range& range, Seq cur_seq) {
  Mirror* m = static_cast<Mirror*>(sub);
  if (range.blockable) {
    m->user_lock.Lock();
  } else if (!m->user_lock.TryLock()) {
    return false;
  }
  sub->SetSeq(cur_seq);
  m->valid = false;
  m->user_lock.Unlock();
  return true;
}
const IntervalOps kMirrorOps = {&EraseMirror};

// xorshift64: a deterministic generator per thread.
uint64_t Next(uint64_t* s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

struct Totals {
  std::atomic<uint64_t> faults{0};
  std::atomic<uint64_t> retries{0};
  std::atomic<uint64_t> gave_up{0};
  std::atomic<uint64_t> invalidations{0};
  std::atomic<uint64_t> fault_sleeps{0};
  std::atomic<uint64_t> invalidate_sleeps{0};
};

// Voluntary context switches of the calling thread so far.
uint64_t Sleeps() {
  rusage ru{};
  getrusage(RUSAGE_THREAD, &ru);
  return static_cast<uint64_t>(ru.ru_nvcsw);
}

class World {
 public:
  World() : space_(AddressSpace::Create()), subs_(std::make_unique<Mirror[]>(kSubs)) {
    for (size_t i = 0; i < kSubs; ++i) {
      ok_ &= space_->InsertInterval(&subs_[i], SubStart(i), kPage, &kMirrorOps).ok();
    }
  }
  ~World() {
    for (size_t i = 0; i < kSubs; ++i) {
      if (subs_[i].address_space() != nullptr) space_->RemoveInterval(&subs_[i]);
    }
    space_->PutUser();
  }
  bool ok() const { return ok_; }

  void Fault(size_t i, Totals* t) {
    Mirror& m = subs_[i];
    for (int tries = 0; tries < kMaxTries; ++tries) {
      const Seq seq = m.ReadBegin();
      const uint64_t v = page_table_[i].load(std::memory_order_acquire);
      m.user_lock.Lock();
      if (m.ReadRetry(seq)) {
        m.user_lock.Unlock();
        t->retries.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      m.value = v;
      m.valid = true;
      m.user_lock.Unlock();
      t->faults.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    t->gave_up.fetch_add(1, std::memory_order_relaxed);
  }

  void Invalidate(size_t first, std::chrono::nanoseconds hold) {
    Range range;
    range.start = SubStart(first);
    range.end = SubLast(first + kSpan - 1) + 1;
    if (!space_->InvalidateRangeStart(range).ok()) return;  // blockable: never
    for (size_t i = first; i < first + kSpan; ++i) {
      page_table_[i].fetch_add(1, std::memory_order_release);
    }
    if (hold.count() > 0) {
      const auto until = std::chrono::steady_clock::now() + hold;
      while (std::chrono::steady_clock::now() < until) {
      }
    }
    space_->InvalidateRangeEnd(range);
  }

  // P6 once every thread has stopped: a valid mirror entry equals the page table.
  uint64_t CountStale() {
    uint64_t stale = 0;
    for (size_t i = 0; i < kSubs; ++i) {
      sync::MutexLock l(&subs_[i].user_lock);
      if (subs_[i].valid && subs_[i].value != page_table_[i].load()) ++stale;
    }
    return stale;
  }

 private:
  AddressSpace* const space_;
  std::unique_ptr<Mirror[]> subs_;
  std::atomic<uint64_t> page_table_[kSubs] = {};
  bool ok_ = true;
};

void BM_Contention(benchmark::State& state, int faulters, int invalidators, int hold_ns) {
  const std::chrono::nanoseconds hold(hold_ns);
  World world;
  if (!world.ok()) {
    state.SkipWithError("insert failed");
    return;
  }
  Totals totals;
  double seconds = 0;
  for (auto _ : state) {
    std::atomic<bool> go{false};
    std::atomic<bool> stop{false};
    std::vector<std::thread> threads;
    for (int f = 0; f < faulters; ++f) {
      threads.emplace_back([&, f] {
        uint64_t rng = 0x9e3779b97f4a7c15ull * static_cast<uint64_t>(f + 1);
        while (!go.load()) std::this_thread::yield();
        const uint64_t sleeps = Sleeps();
        while (!stop.load(std::memory_order_relaxed)) world.Fault(Next(&rng) % kSubs, &totals);
        totals.fault_sleeps.fetch_add(Sleeps() - sleeps);
      });
    }
    for (int i = 0; i < invalidators; ++i) {
      threads.emplace_back([&, i] {
        size_t first = static_cast<size_t>(i) * 7;
        while (!go.load()) std::this_thread::yield();
        const uint64_t sleeps = Sleeps();
        while (!stop.load(std::memory_order_relaxed)) {
          world.Invalidate(first % (kSubs - kSpan + 1), hold);
          ++first;
          totals.invalidations.fetch_add(1, std::memory_order_relaxed);
        }
        totals.invalidate_sleeps.fetch_add(Sleeps() - sleeps);
      });
    }
    const auto t0 = std::chrono::steady_clock::now();
    go.store(true);
    std::this_thread::sleep_for(kRunFor);
    stop.store(true);
    for (std::thread& t : threads) t.join();
    const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - t0;
    seconds += elapsed.count();
    state.SetIterationTime(elapsed.count());
  }
  const uint64_t stale = world.CountStale();
  const double faults = static_cast<double>(totals.faults.load());
  state.counters["faults_per_s"] = faults / seconds;
  state.counters["invalidations_per_s"] =
      static_cast<double>(totals.invalidations.load()) / seconds;
  state.counters["retries_per_fault"] =
      faults > 0 ? static_cast<double>(totals.retries.load()) / faults : 0;
  const double invalidations = static_cast<double>(totals.invalidations.load());
  state.counters["sleeps_per_fault"] =
      faults > 0 ? static_cast<double>(totals.fault_sleeps.load()) / faults : 0;
  state.counters["sleeps_per_invalidation"] =
      invalidations > 0 ? static_cast<double>(totals.invalidate_sleeps.load()) / invalidations
                        : 0;
  state.counters["gave_up"] = static_cast<double>(totals.gave_up.load());
  state.counters["stale"] = static_cast<double>(stale);
  if (stale != 0) state.SkipWithError("stale mirror entries: property P6 broken");
}

}  // namespace

void RegisterContention() {
  // {faulters, invalidators, hold_ns}
  const int shapes[][3] = {{2, 1, 0}, {2, 0, 0}, {0, 1, 0}, {2, 1, 1000}, {0, 1, 1000}};
  for (const auto& s : shapes) {
    const std::string name = absl::StrFormat("Contention/faulters:%d/invalidators:%d/hold_ns:%d",
                                             s[0], s[1], s[2]);
    benchmark::RegisterBenchmark(name.c_str(), BM_Contention, s[0], s[1], s[2])
        ->Iterations(1)
        ->UseManualTime();
  }
}

}  // namespace nf::bench
