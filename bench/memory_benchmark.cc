// bench/memory_benchmark.cc: the bytes of notifier state each design keeps per
// subscription, beyond the driver's own state (DriverState: user lock + seq).
//
//   embedded_bytes      bytes the design embeds in the driver's object (for the
//                       core: sizeof(IntervalSubscription), which holds the tree node)
//   allocs_per_sub      heap allocations per subscription, counted by the
//                       replacement operator new (alloc_counter.h) across
//                       inserting kCount subscriptions into a design that has one
//                       already (so one-off allocations are not spread over them)
//   alloc_bytes_per_sub bytes those allocations asked for, per subscription
//   bytes_per_sub       embedded_bytes + alloc_bytes_per_sub + per_structure_bytes / kCount
//   per_structure_bytes what the design allocates once (the core's per-space
//                       Subscriptions object; the baselines' driver array)
//
// Counted, not timed: each runs once (the time reported is meaningless).
#include <cstddef>
#include <memory>

#include "bench/alloc_counter.h"
#include "bench/benchmarks.h"
#include "bench/driver_state.h"
#include "bench/driver_tree_notifier.h"
#include "bench/list_notifier.h"
#include "bench/multimap_notifier.h"
#include "benchmark/benchmark.h"
#include "core/notifier.h"

namespace nf::bench {
namespace {

constexpr size_t kCount = 100000;

void Report(benchmark::State& state, double embedded, AllocCount once, AllocCount per) {
  const double n = static_cast<double>(kCount);
  state.counters["embedded_bytes"] = embedded;
  state.counters["allocs_per_sub"] = static_cast<double>(per.allocations) / n;
  state.counters["alloc_bytes_per_sub"] = static_cast<double>(per.bytes) / n;
  state.counters["per_structure_bytes"] = static_cast<double>(once.bytes);
  state.counters["bytes_per_sub"] = embedded + static_cast<double>(per.bytes) / n +
                                    static_cast<double>(once.bytes) / n;
}

bool NoopInvalidate(IntervalSubscription*, const Range&, Seq) { return true; }
const IntervalOps kNoopOps = {&NoopInvalidate};

void BM_MemoryNf(benchmark::State& state) {
  for (auto _ : state) {
    auto subs = std::make_unique<IntervalSubscription[]>(kCount + 1);
    AllocCounter::Start();
    AddressSpace* space = AddressSpace::Create();
    bool ok = space->InsertInterval(&subs[kCount], SubStart(kCount), kPage, &kNoopOps).ok();
    const AllocCount once = AllocCounter::Stop();
    AllocCounter::Start();
    for (size_t i = 0; i < kCount; ++i) {
      ok &= space->InsertInterval(&subs[i], SubStart(i), kPage, &kNoopOps).ok();
    }
    const AllocCount per = AllocCounter::Stop();
    for (size_t i = 0; i <= kCount; ++i) space->RemoveInterval(&subs[i]);
    space->PutUser();
    if (!ok) {
      state.SkipWithError("insert failed");
      return;
    }
    Report(state, sizeof(IntervalSubscription), once, per);
  }
}

// A single-lock baseline, (a) or (b): ListNotifier or MultimapNotifier.
template <typename Notifier>
void BM_MemoryBaseline(benchmark::State& state) {
  for (auto _ : state) {
    auto entries = std::make_unique<typename Notifier::Entry[]>(kCount + 1);
    AllocCounter::Start();
    auto notifier = std::make_unique<Notifier>();
    notifier->Insert(&entries[kCount], SubStart(kCount), SubLast(kCount));
    const AllocCount once = AllocCounter::Stop();
    AllocCounter::Start();
    for (size_t i = 0; i < kCount; ++i) notifier->Insert(&entries[i], SubStart(i), SubLast(i));
    const AllocCount per = AllocCounter::Stop();
    for (size_t i = 0; i <= kCount; ++i) notifier->Remove(&entries[i]);
    Report(state, sizeof(typename Notifier::Entry) - sizeof(DriverState), once, per);
  }
}

// One driver (group) per 64 subscriptions: the groups are allocated up front,
// so their cost shows in per_structure_bytes.
void BM_MemoryDriverTree(benchmark::State& state) {
  constexpr size_t kGroupSize = 64;
  for (auto _ : state) {
    auto entries = std::make_unique<DriverTreeNotifier::Entry[]>(kCount + 1);
    AllocCounter::Start();
    auto notifier = std::make_unique<DriverTreeNotifier>((kCount + kGroupSize) / kGroupSize);
    notifier->Insert(&entries[kCount], kCount / kGroupSize, SubStart(kCount), SubLast(kCount));
    const AllocCount once = AllocCounter::Stop();
    AllocCounter::Start();
    for (size_t i = 0; i < kCount; ++i) {
      notifier->Insert(&entries[i], i / kGroupSize, SubStart(i), SubLast(i));
    }
    const AllocCount per = AllocCounter::Stop();
    for (size_t i = 0; i <= kCount; ++i) notifier->Remove(&entries[i], i / kGroupSize);
    Report(state, sizeof(DriverTreeNotifier::Entry) - sizeof(DriverState), once, per);
  }
}

}  // namespace

void RegisterMemory() {
  benchmark::RegisterBenchmark("Memory/nf", BM_MemoryNf)->Iterations(1);
  benchmark::RegisterBenchmark("Memory/list", BM_MemoryBaseline<ListNotifier>)->Iterations(1);
  benchmark::RegisterBenchmark("Memory/multimap", BM_MemoryBaseline<MultimapNotifier>)
      ->Iterations(1);
  benchmark::RegisterBenchmark("Memory/drivertree64", BM_MemoryDriverTree)->Iterations(1);
}

}  // namespace nf::bench
