// sync/race_detector.cc: see race_detector.h.
#include "sync/race_detector.h"

#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>
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

// One frame of a code address's inline chain.
struct Frame {
  std::string function, file;  // file: the last two components of the path
  std::string line;
};

// The last two components of a path ("mm/mmu_notifier.c").
std::string ShortPath(std::string path) {
  size_t cut = path.rfind('/');
  if (cut != std::string::npos && cut > 0) cut = path.rfind('/', cut - 1);
  if (cut != std::string::npos) path.erase(0, cut + 1);
  return path;
}

// The inline chain of the instruction before return address `pc`, innermost
// first; empty without a symbolizer. The sanitizer runtimes' symbolizer writes
// one NUL-terminated string per frame into the buffer.
std::vector<Frame> Symbolize(uintptr_t pc) {
  std::vector<Frame> out;
  if (pc == 0 || &__sanitizer_symbolize_pc == nullptr) return out;
  char buf[4096];
  std::memset(buf, 0, sizeof buf);
  __sanitizer_symbolize_pc(reinterpret_cast<void*>(pc - 1), "%f\t%s\t%l", buf, sizeof buf - 1);
  for (const char* p = buf; *p != '\0' && p < buf + sizeof buf; p += std::strlen(p) + 1) {
    const std::string f = p;
    const size_t t1 = f.find('\t');
    const size_t t2 = t1 == std::string::npos ? std::string::npos : f.find('\t', t1 + 1);
    if (t2 == std::string::npos) continue;
    out.push_back(Frame{f.substr(0, t1), ShortPath(f.substr(t1 + 1, t2 - t1 - 1)), f.substr(t2 + 1)});
  }
  return out;
}

bool IsHeader(const std::string& file) {
  return file.size() > 2 && file.compare(file.size() - 2, 2, ".h") == 0;
}

// "function file:line" of the innermost frame; where that is in a header, also
// " in function file:line" of the first frame outside headers. Without a
// symbolizer "module+0xoffset". Never an absolute address: the same run prints
// the same text in any process.
std::string Where(uintptr_t pc) {
  if (pc == 0) return "an unknown place";
  const std::vector<Frame> chain = Symbolize(pc);
  if (!chain.empty()) {
    std::string s = absl::StrCat(chain[0].function, " ", chain[0].file, ":", chain[0].line);
    if (IsHeader(chain[0].file)) {
      for (size_t i = 1; i < chain.size(); ++i) {
        if (IsHeader(chain[i].file)) continue;
        absl::StrAppend(&s, " in ", chain[i].function, " ", chain[i].file, ":", chain[i].line);
        break;
      }
    }
    return s;
  }
  void* call = reinterpret_cast<void*>(pc - 1);  // inside the call instruction
  Dl_info info;
  if (dladdr(call, &info) != 0 && info.dli_fname != nullptr) {
    const char* base = std::strrchr(info.dli_fname, '/');
    return absl::StrFormat("%s+0x%x", base != nullptr ? base + 1 : info.dli_fname,
                           reinterpret_cast<uintptr_t>(call) -
                               reinterpret_cast<uintptr_t>(info.dli_fbase));
  }
  return "an unknown module";
}

std::vector<RaceSuppression>& Suppressions() {
  static auto* v = new std::vector<RaceSuppression>();
  return *v;
}

bool ChainHas(const std::vector<Frame>& chain, std::string_view function) {
  for (const Frame& f : chain) {
    if (f.function == function) return true;
  }
  return false;
}

// One side of an entry: "*", or functions joined by '+' (all in the chain),
// optionally ":kind" (plain-read, plain-write, marked-read, marked-write,
// plain, marked, read, write).
bool SideMatches(std::string_view spec, const std::vector<Frame>& chain, AccessKind kind) {
  const size_t colon = spec.find(':');
  if (colon != std::string_view::npos) {
    const std::string_view k = spec.substr(colon + 1);
    const bool write = kind == AccessKind::kPlainWrite || kind == AccessKind::kMarkedWrite;
    const bool marked = kind == AccessKind::kMarkedRead || kind == AccessKind::kMarkedWrite;
    const bool ok = k == "plain-read"     ? kind == AccessKind::kPlainRead
                    : k == "plain-write"  ? kind == AccessKind::kPlainWrite
                    : k == "marked-read"  ? kind == AccessKind::kMarkedRead
                    : k == "marked-write" ? kind == AccessKind::kMarkedWrite
                    : k == "plain"        ? !marked
                    : k == "marked"       ? marked
                    : k == "read"         ? !write
                    : k == "write"        ? write
                                          : false;
    if (!ok) return false;
    spec = spec.substr(0, colon);
  }
  if (spec == "*") return true;
  while (!spec.empty()) {
    const size_t plus = spec.find('+');
    if (!ChainHas(chain, spec.substr(0, plus))) return false;
    if (plus == std::string_view::npos) break;
    spec = spec.substr(plus + 1);
  }
  return true;
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

bool ValidSide(std::string_view spec) {
  const size_t colon = spec.find(':');
  if (colon == std::string_view::npos) return true;
  const std::string_view k = spec.substr(colon + 1);
  return k == "plain-read" || k == "plain-write" || k == "marked-read" || k == "marked-write" ||
         k == "plain" || k == "marked" || k == "read" || k == "write";
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
  // " (t1: a, b; t0: c)": the named locks of each side's own set.
  auto names = [this](uint32_t bits) {
    std::string out;
    for (int i = 0; i < kRaceLockBits; ++i) {
      if ((bits >> i & 1) != 0 && lock_names[i] != nullptr) {
        absl::StrAppend(&out, out.empty() ? "" : ", ", lock_names[i]);
      }
    }
    return out;
  };
  auto named = [&](const std::string& clause, uint32_t first, const std::string& who1,
                   uint32_t second, const std::string& who2) {
    const std::string n1 = names(first), n2 = second != 0 ? names(second) : std::string();
    if (n1.empty() && n2.empty()) return clause;
    std::string out = absl::StrCat(clause, " (");
    if (!n1.empty()) absl::StrAppend(&out, n2.empty() ? "" : absl::StrCat(who1, ": "), n1);
    if (!n2.empty()) absl::StrAppend(&out, n1.empty() ? "" : "; ", who2, ": ", n2);
    return absl::StrCat(out, ")");
  };
  if (only_later != 0 && only_earlier != 0) {
    return named("each held a lock the other did not", only_later, l, only_earlier, e);
  }
  if (only_later != 0) return named(absl::StrCat(l, " held a lock ", e, " did not"), only_later, l, 0, e);
  if (only_earlier != 0) {
    return named(absl::StrCat(e, " held a lock ", l, " did not"), only_earlier, e, 0, l);
  }
  if (later.locks == 0) return "neither held a lock";
  return named("both held the same locks", later.locks, l, 0, e);
}

std::string ParseRaceSuppressions(std::string_view text, std::string_view origin,
                                  std::vector<RaceSuppression>* out) {
  int line_no = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    if (line.empty() || line.front() == '#') continue;
    std::vector<std::string> words;
    std::string_view rest = line;
    for (int i = 0; i < 3; ++i) {
      while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\t')) rest.remove_prefix(1);
      size_t w = 0;
      while (w < rest.size() && rest[w] != ' ' && rest[w] != '\t') ++w;
      if (w == 0) break;
      words.emplace_back(rest.substr(0, w));
      rest.remove_prefix(w);
    }
    while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\t')) rest.remove_prefix(1);
    const std::string where = absl::StrCat(std::string(origin), ":", line_no);
    if (words.empty() || words[0] != "race") {
      return absl::StrCat(where, ": expected 'race <function> <function> <reason>'");
    }
    if (words.size() < 3) return absl::StrCat(where, ": an entry names two functions");
    if (!ValidSide(words[1]) || !ValidSide(words[2])) {
      return absl::StrCat(where, ": unknown access kind (plain-read, plain-write, marked-read, "
                                 "marked-write, plain, marked, read, write)");
    }
    if (rest.empty()) return absl::StrCat(where, ": an entry needs a reason");
    out->push_back(RaceSuppression{words[1], words[2], std::string(rest), where});
  }
  return "";
}

void AddRaceSuppressions(std::string_view text, std::string_view origin) {
  const std::string error = ParseRaceSuppressions(text, origin, &Suppressions());
  if (!error.empty()) {
    std::fprintf(stderr, "nf race suppressions: %s\n", error.c_str());
    std::abort();
  }
}

const std::vector<RaceSuppression>& RaceSuppressions() { return Suppressions(); }

int MatchRaceSuppression(const RaceAccess& x, const RaceAccess& y) {
  const std::vector<RaceSuppression>& entries = Suppressions();
  if (entries.empty()) return -1;
  const std::vector<Frame> cx = Symbolize(x.pc), cy = Symbolize(y.pc);
  for (size_t i = 0; i < entries.size(); ++i) {
    const RaceSuppression& s = entries[i];
    if ((SideMatches(s.a, cx, x.kind) && SideMatches(s.b, cy, y.kind)) ||
        (SideMatches(s.b, cx, x.kind) && SideMatches(s.a, cy, y.kind))) {
      return static_cast<int>(i);
    }
  }
  return -1;
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
  for (const char*& n : lock_names_) n = nullptr;
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
      e.name = nullptr;
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
    const int index = locks_seen_ < 31 ? locks_seen_ : 31;
    e->lock_bit = uint32_t{1} << index;
    ++locks_seen_;
    // The shared last bit names no one lock.
    lock_names_[index] = index < 31 ? e->name : nullptr;
  }
  return e->lock_bit;
}

void RaceDetector::NameLock(const void* lock, const char* name) {
  SyncEntry* e = SyncFor(lock);
  e->name = name;
  if (e->lock_bit != 0) {
    const int index = __builtin_ctz(e->lock_bit);
    if (index < 31) lock_names_[index] = name;
  }
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

void RaceDetector::Release(int t, const void* obj) {
  SyncClock(obj)->Join(vc_[t]);
  Tick(t);
}

void RaceDetector::Acquire(int t, const void* obj) { vc_[t].Join(*SyncClock(obj)); }

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
    for (int i = 0; i < kRaceLockBits; ++i) report_.lock_names[i] = lock_names_[i];
    return !Skip();
  };
  for (int u = 0; u < kRaceThreads; ++u) {
    if (races(cell->writes[u], true) && report(cell->writes[u], true)) return true;
    if (write && races(cell->reads[u], false) && report(cell->reads[u], false)) return true;
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

bool RaceDetector::Skip() {
  if (!survey_ && Suppressions().empty()) return false;
  // The verdict depends on the two code addresses and kinds (a marked
  // read-modify-write reports a read and a write at one address); user-space
  // addresses leave the two low bits free for the kind.
  uintptr_t a = report_.earlier.pc << 2 | static_cast<uintptr_t>(report_.earlier.kind),
            b = report_.later.pc << 2 | static_cast<uintptr_t>(report_.later.kind);
  if (a > b) std::swap(a, b);
  auto [it, fresh] = verdicts_.try_emplace({a, b}, -1);
  if (fresh) {
    it->second = MatchRaceSuppression(report_.earlier, report_.later);
    if (survey_) {
      const std::string entry =
          it->second < 0 ? std::string("unsuppressed")
                         : absl::StrCat("suppressed (", Suppressions()[it->second].origin, " ",
                                        Suppressions()[it->second].a, " ",
                                        Suppressions()[it->second].b, ")");
      std::fprintf(stderr, "nf-race: %s: %s\n", entry.c_str(), report_.ToString().c_str());
    }
  }
  const bool skip = survey_ || it->second >= 0;
  if (skip) report_ = RaceReport{};
  return skip;
}

}  // namespace nf::sched
