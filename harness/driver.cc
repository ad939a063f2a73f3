#include "harness/driver.h"

namespace nf::harness {

DriverBugs& FuzzingOnlyDriverBugs() {
  static DriverBugs bugs;
  return bugs;
}

PageTable::PageTable() {
  for (auto& p : pages_) p.Store(1, std::memory_order_relaxed);
}

void PageTable::Change(PageSpan span) {
  // One read-modify-write per page: parallel invalidations over the same page
  // (the concurrent fuzzer) each bump it, as the kernel's page table lock orders
  // their changes.
  for (int p = span.first; p < span.end; ++p) pages_[p].FetchAdd(1);
}

void Driver::HoldLock() ABSL_NO_THREAD_SAFETY_ANALYSIS {
  mu_.Lock();
  held_by_op_.Store(true);
}

void Driver::DropLock() ABSL_NO_THREAD_SAFETY_ANALYSIS {
  held_by_op_.Store(false);
  mu_.Unlock();
}

void Driver::ClearMirror(bool caller_holds_lock) ABSL_NO_THREAD_SAFETY_ANALYSIS {
  if (caller_holds_lock) {
    mirror_.fill(0);
    return;
  }
  sync::MutexLock l(&mu_);
  mirror_.fill(0);
}

}  // namespace nf::harness
