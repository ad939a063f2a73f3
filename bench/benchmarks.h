// bench/benchmarks.h: the registration functions of nf_bench, called by main in
// the order the benchmarks should run (see main.cc).
#ifndef NF_BENCH_BENCHMARKS_H_
#define NF_BENCH_BENCHMARKS_H_

#include <cstddef>

namespace nf::bench {

// The subscription counts of the invalidate and insert/remove benchmarks.
inline constexpr size_t kSizes[] = {10, 1000, 100000, 1000000};
// How many subscriptions an invalidated range covers.
inline constexpr size_t kOverlaps[] = {0, 1, 16};

// FastPath/{mutex_lock_unlock, read_begin_retry, fault_pattern}
void RegisterFastPath();
// Memory/{nf, list, multimap, drivertree64}
void RegisterMemory();
// Invalidate/<variant>/n:<n>/k:<k> for every variant and k (k <= n).
void RegisterInvalidate(size_t n);
// InsertRemove/<variant>/n:<n>
void RegisterInsertRemove(size_t n);
// Contention/faulters:<f>/invalidators:<i>
void RegisterContention();

}  // namespace nf::bench

#endif  // NF_BENCH_BENCHMARKS_H_
