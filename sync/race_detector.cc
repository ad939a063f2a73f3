// sync/race_detector.cc: see race_detector.h.
#include "sync/race_detector.h"

#include <dlfcn.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

// The sanitizer runtimes' symbolizer, when one is linked in.
extern "C" void __sanitizer_symbolize_pc(void* pc, const char* fmt, char* out_buf,
                                         size_t out_buf_size) __attribute__((weak));

namespace nf::sched {
namespace {

constexpr uint64_t kGolden = 0x9e3779b97f4a7c15ULL;

size_t HashSlot(uintptr_t key, size_t mask) {
  return static_cast<size_t>((static_cast<uint64_t>(key) * kGolden) >> 20) & mask;
}

// "function file:line" (the last two components of the path), or
// "module+0xoffset" without a symbolizer. Never an absolute address: the same
// run prints the same text in any process.
std::string Where(uintptr_t pc) {
  if (pc == 0) return "an unknown place";
  void* call = reinterpret_cast<void*>(pc - 1);  // inside the call instruction
  if (&__sanitizer_symbolize_pc != nullptr) {
    char buf[1024];
    buf[0] = '\0';
    __sanitizer_symbolize_pc(call, "%f %s:%l", buf, sizeof buf);
    std::string s = buf;
    // Keep "dir/file.cc:line" of the path.
    const size_t colon = s.rfind(':');
    const size_t space = s.rfind(' ', colon);
    if (colon != std::string::npos && space != std::string::npos) {
      size_t cut = s.rfind('/', colon);
      if (cut != std::string::npos && cut > space) cut = s.rfind('/', cut - 1);
      if (cut != std::string::npos && cut > space) s.erase(space + 1, cut - space);
    }
    if (!s.empty()) return s;
  }
  Dl_info info;
  if (dladdr(call, &info) != 0 && info.dli_fname != nullptr) {
    const char* base = std::strrchr(info.dli_fname, '/');
    return absl::StrFormat("%s+0x%x", base != nullptr ? base + 1 : info.dli_fname,
                           reinterpret_cast<uintptr_t>(call) -
                               reinterpret_cast<uintptr_t>(info.dli_fbase));
  }
  return "an unknown module";
}

std::string Describe(const RaceAccess& a) {
  return absl::StrCat(AccessKindName(a.kind), a.rmw ? " (read-modify-write)" : "", " of ", a.size, " byte", a.size == 1 ? "" : "s",
                      " by t", a.thread, " at step ", a.step, " in ", Where(a.pc));
}

bool IsWrite(AccessKind k) {
  return k == AccessKind::kPlainWrite || k == AccessKind::kMarkedWrite;
}
bool IsMarked(AccessKind k) {
  return k == AccessKind::kMarkedRead || k == AccessKind::kMarkedWrite;
}

}  // namespace

std::string SymbolizedPlace(uintptr_t pc) { return Where(pc); }

const char* AccessKindName(AccessKind k) {
  switch (k) {
    case AccessKind::kPlainRead:
      return "plain read";
    case AccessKind::kPlainWrite:
      return "plain write";
    case AccessKind::kMarkedRead:
      return "marked read";
    case AccessKind::kMarkedWrite:
      return "marked write";
  }
  return "access";
}

std::string RaceReport::ToString() const {
  return absl::StrCat("data race: ", Describe(later), ", unordered with an earlier ",
                      Describe(earlier), "; ", LockClause());
}

std::string RaceReport::LockClause() const {
  const uint32_t only_later = later.locks & ~earlier.locks;
  const uint32_t only_earlier = earlier.locks & ~later.locks;
  const std::string l = absl::StrCat("t", later.thread), e = absl::StrCat("t", earlier.thread);
  if (only_later != 0 && only_earlier != 0) return "each held a lock the other did not";
  if (only_later != 0) return absl::StrCat(l, " held a lock ", e, " did not");
  if (only_earlier != 0) return absl::StrCat(e, " held a lock ", l, " did not");
  if (later.locks == 0) return "neither held a lock";
  return "both held the same locks";
}

RaceDetector::RaceDetector() : page_table_(1024), sync_table_(256) {}
RaceDetector::~RaceDetector() = default;

void RaceDetector::Reset(int n) {
  n_ = n;
  ++run_;  // invalidates every page and sync entry of the last run
  page_count_ = 0;
  pages_used_ = 0;
  last_page_ = nullptr;
  sync_count_ = 0;
  for (int t = 0; t < kRaceThreads; ++t) {
    vc_[t] = VectorClock{};
    vc_[t].c[t] = 1;
    held_[t] = 0;
  }
  locks_seen_ = 0;
  report_ = RaceReport{};
}

// --- synchronization --------------------------------------------------------

RaceDetector::SyncEntry* RaceDetector::SyncFor(const void* obj) {
  const uintptr_t key = reinterpret_cast<uintptr_t>(obj);
  size_t mask = sync_table_.size() - 1;
  for (size_t i = HashSlot(key, mask);; i = (i + 1) & mask) {
    SyncEntry& e = sync_table_[i];
    if (e.run == run_ && e.key == key) return &e;
    if (e.run != run_) {
      if (2 * (sync_count_ + 1) > sync_table_.size()) {
        GrowSync();
        return SyncFor(obj);
      }
      e.run = run_;
      e.key = key;
      e.clock = VectorClock{};
      e.lock_bit = 0;
      ++sync_count_;
      return &e;
    }
  }
}

void RaceDetector::GrowSync() {
  std::vector<SyncEntry> old(sync_table_.size() * 2);
  old.swap(sync_table_);
  const size_t mask = sync_table_.size() - 1;
  for (const SyncEntry& e : old) {
    if (e.run != run_) continue;
    size_t i = HashSlot(e.key, mask);
    while (sync_table_[i].run == run_) i = (i + 1) & mask;
    sync_table_[i] = e;
  }
}

uint32_t RaceDetector::LockBit(const void* lock) {
  SyncEntry* e = SyncFor(lock);
  if (e->lock_bit == 0) {
    e->lock_bit = uint32_t{1} << (locks_seen_ < 31 ? locks_seen_ : 31);
    ++locks_seen_;
  }
  return e->lock_bit;
}

void RaceDetector::LockAcquired(int t, const void* lock) {
  held_[t] |= LockBit(lock);
  vc_[t].Join(*SyncClock(lock));
}

void RaceDetector::LockReleased(int t, const void* lock) {
  held_[t] &= ~LockBit(lock);
  SyncClock(lock)->Join(vc_[t]);
  Tick(t);
}

void RaceDetector::Wake(int waker, int woken) {
  if (waker == woken) return;
  vc_[woken].Join(vc_[waker]);
  Tick(waker);
}

void RaceDetector::MarkedLoad(int t, const void* obj, bool acquire) {
  if (acquire) vc_[t].Join(*SyncClock(obj));
}

void RaceDetector::MarkedStore(int t, const void* obj, bool release) {
  VectorClock* c = SyncClock(obj);
  if (release) {
    *c = vc_[t];  // a new release sequence headed by this store
    Tick(t);
  } else {
    *c = VectorClock{};  // a relaxed store ends the release sequence
  }
}

void RaceDetector::MarkedRmw(int t, const void* obj) {
  VectorClock* c = SyncClock(obj);
  vc_[t].Join(*c);
  c->Join(vc_[t]);  // an RMW continues the release sequence it read from
  Tick(t);
}

// --- shadow -----------------------------------------------------------------

RaceDetector::PageEntry* RaceDetector::FindPage(uintptr_t key, bool create) {
  size_t mask = page_table_.size() - 1;
  for (size_t i = HashSlot(key, mask);; i = (i + 1) & mask) {
    PageEntry& e = page_table_[i];
    if (e.run == run_ && e.key == key) return &e;
    if (e.run != run_) {
      if (!create) return nullptr;
      if (2 * (page_count_ + 1) > page_table_.size()) {
        GrowPages();
        return FindPage(key, create);
      }
      if (pages_used_ == pages_.size()) pages_.push_back(std::make_unique<Page>());
      e.run = run_;
      e.key = key;
      e.page = static_cast<uint32_t>(pages_used_++);
      pages_[e.page]->live = 0;
      ++page_count_;
      return &e;
    }
  }
}

void RaceDetector::GrowPages() {
  std::vector<PageEntry> old(page_table_.size() * 2);
  old.swap(page_table_);
  const size_t mask = page_table_.size() - 1;
  for (const PageEntry& e : old) {
    if (e.run != run_) continue;
    size_t i = HashSlot(e.key, mask);
    while (page_table_[i].run == run_) i = (i + 1) & mask;
    page_table_[i] = e;
  }
}

RaceDetector::Cell* RaceDetector::CellFor(uintptr_t word, bool create) {
  const uintptr_t key = word / kCellsPerPage;
  Page* page = last_page_;
  if (page == nullptr || last_key_ != key) {
    PageEntry* e = FindPage(key, create);
    if (e == nullptr) return nullptr;
    page = pages_[e->page].get();
    last_key_ = key;
    last_page_ = page;
  }
  const size_t i = word % kCellsPerPage;
  Cell* cell = &page->cells[i];
  if ((page->live & (uint64_t{1} << i)) == 0) {
    std::memset(static_cast<void*>(cell), 0, sizeof(Cell));
    page->live |= uint64_t{1} << i;
  }
  return cell;
}

void RaceDetector::OnAlloc(const void* p, size_t n) {
  if (n == 0) return;
  const uintptr_t first = reinterpret_cast<uintptr_t>(p) / 8;
  const uintptr_t last = (reinterpret_cast<uintptr_t>(p) + n - 1) / 8;
  for (uintptr_t w = first; w <= last;) {
    const uintptr_t page_end = (w / kCellsPerPage + 1) * kCellsPerPage;  // exclusive
    const uintptr_t stop = page_end - 1 < last ? page_end - 1 : last;
    if (PageEntry* e = FindPage(w / kCellsPerPage, /*create=*/false)) {
      const size_t lo = w % kCellsPerPage, cells = stop - w + 1;
      const uint64_t bits = cells == 64 ? ~uint64_t{0} : ((uint64_t{1} << cells) - 1) << lo;
      pages_[e->page]->live &= ~bits;
    }
    w = stop + 1;
  }
}

bool RaceDetector::Access(int t, uint64_t step, const void* addr, size_t size, AccessKind kind,
                          uintptr_t pc) {
  const uintptr_t a = reinterpret_cast<uintptr_t>(addr);
  const uintptr_t end = a + size;
  for (uintptr_t w = a / 8; w * 8 < end; ++w) {
    const uintptr_t lo = w * 8 > a ? w * 8 : a;
    const uintptr_t hi = w * 8 + 8 < end ? w * 8 + 8 : end;
    const uint8_t mask = static_cast<uint8_t>(((1u << (hi - lo)) - 1) << (lo - w * 8));
    if (CheckWord(t, step, w, mask, kind, pc, size)) return true;
  }
  return false;
}

bool RaceDetector::CheckWord(int t, uint64_t step, uintptr_t word, uint8_t mask, AccessKind kind,
                             uintptr_t pc, size_t size) {
  Cell* cell = CellFor(word, /*create=*/true);
  const bool write = IsWrite(kind);
  const bool marked = IsMarked(kind);
  const VectorClock& now = vc_[t];
  auto races = [&](const Slot& s, bool s_write) {
    if (s.thread1 == 0 || s.thread1 - 1 == t || (s.mask & mask) == 0) return false;
    if (!write && !s_write) return false;
    if (marked && s.marked) return false;
    return s.clock > now.c[s.thread1 - 1];  // not ordered before this access
  };
  // The store of a read-modify-write: this thread read these bytes, plainly, in
  // this step and epoch.
  const Slot& own_read = cell->reads[t];
  const bool rmw = kind == AccessKind::kPlainWrite && own_read.thread1 == t + 1 &&
                   !own_read.marked && (own_read.mask & mask) != 0 &&
                   own_read.clock == now.c[t] && own_read.step == static_cast<uint32_t>(step);
  auto report = [&](const Slot& s, bool s_write) {
    report_.earlier = RaceAccess{
        s.thread1 - 1, s.step,
        s_write ? (s.marked ? AccessKind::kMarkedWrite : AccessKind::kPlainWrite)
                : (s.marked ? AccessKind::kMarkedRead : AccessKind::kPlainRead),
        s.pc, static_cast<size_t>(__builtin_popcount(s.mask)), s.rmw != 0, s.locks};
    report_.later = RaceAccess{t, step, kind, pc, size, rmw, held_[t]};
    return true;
  };
  for (int u = 0; u < kRaceThreads; ++u) {
    if (races(cell->writes[u], true)) return report(cell->writes[u], true);
    if (write && races(cell->reads[u], false)) return report(cell->reads[u], false);
  }
  // Record it. Two accesses of one thread in one epoch (no release between them)
  // share a slot, their bytes merged; a later epoch replaces the slot.
  Slot& dst = write ? cell->writes[t] : cell->reads[t];
  if (dst.thread1 != 0 && dst.clock == now.c[t] && dst.marked == marked) {
    dst.mask |= mask;
    dst.pc = pc;
    dst.step = static_cast<uint32_t>(step);
    dst.locks = held_[t];
    dst.rmw = rmw;
  } else {
    dst = Slot{pc,   now.c[t], static_cast<uint32_t>(step), held_[t], static_cast<uint8_t>(t + 1),
               mask, static_cast<uint8_t>(marked), static_cast<uint8_t>(rmw)};
  }
  return false;
}

}  // namespace nf::sched
