// sync/weak_memory.cc: the store buffers of the weak-memory mode
// (weak_memory.h).
#include "sync/weak_memory.h"

#include <cstring>

namespace nf::sched {

void StoreBuffers::Reset() {
  locs_.clear();
  for (auto& b : buf_) b.clear();
  num_options_ = 0;
}

int StoreBuffers::FindLoc(uintptr_t addr, size_t size) const {
  for (size_t i = 0; i < locs_.size(); ++i) {
    if (locs_[i].pending > 0 && locs_[i].addr == addr && locs_[i].size == size) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

void StoreBuffers::DropLoc(int loc) {
  locs_[loc].pending = 0;
  locs_[loc].owner = -1;
}

void StoreBuffers::FlushLoc(int loc) {
  std::vector<Entry>& b = buf_[locs_[loc].owner];
  size_t kept = 0;
  for (size_t i = 0; i < b.size(); ++i) {
    if (b[i].loc != loc) b[kept++] = b[i];
  }
  b.resize(kept);
  // Memory already holds the owner's newest store (written through).
  DropLoc(loc);
}

void StoreBuffers::FlushOverlapping(uintptr_t addr, size_t size, bool keep_exact,
                                    int keep_owner) {
  for (size_t i = 0; i < locs_.size(); ++i) {
    const Loc& l = locs_[i];
    if (l.pending == 0 || l.addr >= addr + size || addr >= l.addr + l.size) continue;
    if (keep_exact && l.addr == addr && l.size == size &&
        (keep_owner < 0 || l.owner == keep_owner)) {
      continue;
    }
    FlushLoc(static_cast<int>(i));
  }
}

void StoreBuffers::FlushEntry(int t, int index) {
  std::vector<Entry>& b = buf_[t];
  const Entry e = b[index];
  Loc& l = locs_[e.loc];
  std::memcpy(l.visible, e.value, l.size);
  b.erase(b.begin() + index);
  if (--l.pending == 0) DropLoc(e.loc);
}

void StoreBuffers::FlushThread(int t) {
  while (!buf_[t].empty()) FlushEntry(t, 0);
}

void StoreBuffers::Store(int t, const void* addr, size_t size, const void* value,
                         std::memory_order order) {
  const auto a = reinterpret_cast<uintptr_t>(addr);
  // Release (and seq_cst): every earlier store of the thread becomes visible
  // first.
  if (order != std::memory_order_relaxed) FlushThread(t);
  if (order == std::memory_order_seq_cst || size > kMaxValueBytes) {
    FlushOverlapping(a, size, /*keep_exact=*/false, -1);
    return;  // not buffered: visible at once
  }
  FlushOverlapping(a, size, /*keep_exact=*/true, t);
  int loc = FindLoc(a, size);
  if (loc < 0) {
    // A new pending location: what others see is memory before this store.
    size_t slot = 0;
    while (slot < locs_.size() && locs_[slot].pending > 0) ++slot;
    if (slot == locs_.size()) locs_.emplace_back();
    Loc& l = locs_[slot];
    l.addr = a;
    l.size = size;
    l.owner = t;
    l.pending = 0;
    std::memcpy(l.visible, addr, size);
    loc = static_cast<int>(slot);
  }
  ++locs_[loc].pending;
  std::memcpy(locs_[loc].newest, value, size);
  Entry& e = buf_[t].emplace_back();
  e.loc = loc;
  std::memcpy(e.value, value, size);
}

void StoreBuffers::Load(int t, const void* addr, size_t size, void* out) {
  const auto a = reinterpret_cast<uintptr_t>(addr);
  FlushOverlapping(a, size, /*keep_exact=*/true, -1);
  const int loc = FindLoc(a, size);
  if (loc < 0 || locs_[loc].owner == t) return;
  if (std::memcmp(addr, locs_[loc].newest, size) != 0) {
    // A plain store (or a free and a reuse) wrote the bytes since: the
    // pending stores are overtaken; the load reads memory.
    FlushLoc(loc);
    return;
  }
  std::memcpy(out, locs_[loc].visible, size);
}

void StoreBuffers::Rmw(int t, const void* addr, size_t size) {
  FlushThread(t);
  FlushOverlapping(reinterpret_cast<uintptr_t>(addr), size, /*keep_exact=*/false, -1);
}

int StoreBuffers::Options() {
  num_options_ = 0;
  for (int t = 0; t < kWeakThreads; ++t) {
    const std::vector<Entry>& b = buf_[t];
    for (size_t i = 0; i < b.size() && num_options_ < kMaxFlushOptions; ++i) {
      bool oldest = true;
      for (size_t j = 0; j < i && oldest; ++j) oldest = b[j].loc != b[i].loc;
      if (oldest) options_[num_options_++] = Option{t, static_cast<int>(i)};
    }
  }
  return num_options_;
}

void StoreBuffers::FlushOption(int i) { FlushEntry(options_[i].thread, options_[i].index); }

}  // namespace nf::sched
