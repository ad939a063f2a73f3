// bench/fast_path_benchmark.cc: the fault path's cost on an idle address space,
// against the floor of one uncontended lock + unlock of the same lock type.
//
//   FastPath/mutex_lock_unlock   nf::sync::Mutex Lock(); Unlock()       (the floor)
//   FastPath/read_begin_retry    ReadBegin(); ReadRetry(seq)            (the core's part)
//   FastPath/fault_pattern       ReadBegin(); lock(user); ReadRetry(seq); unlock(user)
//                                (the whole driver pattern of spec §6, minus the
//                                page-table read and the install)
#include "absl/status/status.h"
#include "bench/benchmarks.h"
#include "bench/driver_state.h"
#include "benchmark/benchmark.h"
#include "core/notifier.h"
#include "sync/sync.h"

namespace nf::bench {
namespace {

constexpr double kMinTime = 0.2;

void BM_MutexLockUnlock(benchmark::State& state) {
  sync::Mutex mu;
  for (auto _ : state) {
    mu.Lock();
    mu.Unlock();
  }
}

bool NoopInvalidate(IntervalSubscription*, const Range&, Seq) { return true; }
const IntervalOps kNoopOps = {&NoopInvalidate};

// One subscription in an otherwise idle space: ReadBegin's cost does not depend
// on how many there are (it locks, compares two seqs, unlocks).
class IdleSpace {
 public:
  IdleSpace() : space_(AddressSpace::Create()) {
    ok_ = space_->InsertInterval(&sub_, SubStart(0), kPage, &kNoopOps).ok();
  }
  ~IdleSpace() {
    if (ok_) space_->RemoveInterval(&sub_);
    space_->PutUser();
  }
  bool ok() const { return ok_; }
  IntervalSubscription* sub() { return &sub_; }

 private:
  AddressSpace* const space_;
  IntervalSubscription sub_;
  bool ok_ = false;
};

// Times body(sub) on the one subscription of an IdleSpace.
template <typename Body>
void TimeOnIdleSpace(benchmark::State& state, Body body) {
  IdleSpace idle;
  if (!idle.ok()) {
    state.SkipWithError("insert failed");
    return;
  }
  IntervalSubscription* sub = idle.sub();
  for (auto _ : state) body(sub);
}

void BM_ReadBeginRetry(benchmark::State& state) {
  TimeOnIdleSpace(state, [](IntervalSubscription* sub) {
    const Seq seq = sub->ReadBegin();
    bool retry = sub->ReadRetry(seq);
    benchmark::DoNotOptimize(retry);
  });
}

void BM_FaultPattern(benchmark::State& state) {
  DriverState driver;
  TimeOnIdleSpace(state, [&driver](IntervalSubscription* sub) {
    const Seq seq = sub->ReadBegin();
    driver.user_lock.Lock();
    bool retry = sub->ReadRetry(seq);
    benchmark::DoNotOptimize(retry);
    driver.user_lock.Unlock();
  });
}

}  // namespace

void RegisterFastPath() {
  benchmark::RegisterBenchmark("FastPath/mutex_lock_unlock", BM_MutexLockUnlock)->MinTime(kMinTime);
  benchmark::RegisterBenchmark("FastPath/read_begin_retry", BM_ReadBeginRetry)->MinTime(kMinTime);
  benchmark::RegisterBenchmark("FastPath/fault_pattern", BM_FaultPattern)->MinTime(kMinTime);
}

}  // namespace nf::bench
