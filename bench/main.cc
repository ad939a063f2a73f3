// bench/main.cc: nf_bench's entry point. Registers the benchmarks in the order
// they run: the cheap ones first, then the invalidate and insert/remove
// benchmarks grouped by n (each n's subscriptions are built once and reused,
// variants.h), then the threaded ones.
//
// Run with repetitions and read the medians, e.g.
//   nf_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
// or through tools/bench_report.py, which prints the ratio table.
#include <string>

#include "bench/benchmarks.h"
#include "bench/variants.h"
#include "benchmark/benchmark.h"
#include "core/notifier.h"

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("sizeof(IntervalSubscription)",
                              std::to_string(sizeof(nf::IntervalSubscription)));

  nf::bench::RegisterFastPath();
  nf::bench::RegisterMemory();
  for (size_t n : nf::bench::kSizes) {
    nf::bench::RegisterInvalidate(n);
    nf::bench::RegisterInsertRemove(n);
  }
  nf::bench::RegisterContention();

  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  nf::bench::ReleaseCachedVariants();
  return 0;
}
