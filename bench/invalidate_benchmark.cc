// bench/invalidate_benchmark.cc: invalidate start + end, and insert + remove, over
// n subscriptions, for the core and the three baselines (variants.h).
//
// Each variant's n subscriptions are built once per n (Cached) and reused by every
// benchmark and repetition of that n; only the loop body is timed.
#include <cstddef>
#include <string>

#include "absl/strings/str_format.h"
#include "bench/benchmarks.h"
#include "bench/driver_state.h"
#include "bench/variants.h"
#include "benchmark/benchmark.h"

namespace nf::bench {
namespace {

// Fast variants run for this long per repetition; the O(n) ones at n = 1e6 take
// milliseconds an iteration, so a repetition still gets tens of iterations.
constexpr double kMinTime = 0.1;

template <typename V>
void BM_Invalidate(benchmark::State& state, size_t n, size_t k) {
  V& v = Cached<V>(n);
  const Span range = CoverK(FirstCovered(n, k), k);
  // Not a speed check: the range must really cover k subscriptions.
  const uint64_t before = g_callbacks;
  v.Invalidate(range);
  if (g_callbacks - before != k) {
    state.SkipWithError("the range does not cover exactly k subscriptions");
    return;
  }
  for (auto _ : state) v.Invalidate(range);
  state.counters["n"] = static_cast<double>(n);
  state.counters["k"] = static_cast<double>(k);
}

template <typename V>
void BM_InsertRemove(benchmark::State& state, size_t n) {
  V& v = Cached<V>(n);
  for (auto _ : state) {
    if (!v.InsertRemoveSpare()) {
      state.SkipWithError("insert failed");
      return;
    }
  }
  state.counters["n"] = static_cast<double>(n);
}

template <typename V>
void RegisterInvalidateOf(size_t n) {
  for (size_t k : kOverlaps) {
    if (k > n) continue;
    const std::string name = absl::StrFormat("Invalidate/%s/n:%d/k:%d", V::kName, n, k);
    benchmark::RegisterBenchmark(name.c_str(), BM_Invalidate<V>, n, k)->MinTime(kMinTime);
  }
}

template <typename V>
void RegisterInsertRemoveOf(size_t n) {
  const std::string name = absl::StrFormat("InsertRemove/%s/n:%d", V::kName, n);
  benchmark::RegisterBenchmark(name.c_str(), BM_InsertRemove<V>, n)->MinTime(kMinTime);
}

}  // namespace

void RegisterInvalidate(size_t n) {
  AllVariants::ForEach([n]<typename V>() { RegisterInvalidateOf<V>(n); });
}

void RegisterInsertRemove(size_t n) {
  AllVariants::ForEach([n]<typename V>() { RegisterInsertRemoveOf<V>(n); });
}

}  // namespace nf::bench
