// bench/variants.cc: see variants.h.
#include "bench/variants.h"

#include <cstdio>
#include <cstdlib>

namespace nf::bench {

// ---------------------------------------------------------------------------
// nf

const IntervalOps NfVariant::kOps = {&NfVariant::Callback};

bool NfVariant::Callback(IntervalSubscription* sub, const Range& range, Seq cur_seq) {
  Entry* e = static_cast<Entry*>(sub);
  e->driver.user_lock.Lock();
  sub->SetSeq(cur_seq);
  ++g_callbacks;
  e->driver.user_lock.Unlock();
  return true;
}

NfVariant::NfVariant(size_t n)
    : n_(n), space_(AddressSpace::Create()), entries_(std::make_unique<Entry[]>(n)) {
  for (size_t i = 0; i < n; ++i) {
    absl::Status st = space_->InsertInterval(&entries_[i], SubStart(i), kPage, &kOps);
    if (!st.ok()) {
      std::fprintf(stderr, "nf_bench: InsertInterval: %s\n", st.ToString().c_str());
      std::abort();
    }
  }
}

NfVariant::~NfVariant() {
  for (size_t i = 0; i < n_; ++i) space_->RemoveInterval(&entries_[i]);
  space_->PutUser();  // the last user: release, then the space goes
}

void NfVariant::Invalidate(Span r) {
  Range range;
  range.start = r.start;
  range.end = r.end;
  absl::Status st = space_->InvalidateRangeStart(range);
  if (st.ok()) space_->InvalidateRangeEnd(range);  // blockable: always ok
}

bool NfVariant::InsertRemoveSpare() {
  const size_t mid = n_ / 2;
  if (!space_->InsertInterval(&spare_, SubStart(mid) + kPage, kPage, &kOps).ok()) return false;
  space_->RemoveInterval(&spare_);
  return true;
}

// ---------------------------------------------------------------------------

void ReleaseCachedVariants() {
  AllVariants::ForEach([]<typename V>() { CacheSlot<V>().reset(); });
}

}  // namespace nf::bench
