// sync/race_detector.h: happens-before and data-race detection for one run of
// the deterministic scheduler (scheduler.h). The scheduler owns one and feeds it;
// nothing else calls it.
//
// WHAT IS A RACE. Two accesses to the same bytes, by different logical threads,
// at least one a write and at least one plain (not an operation of the seam's
// Atomic<T>), neither ordered before the other by happens-before. Two marked
// (atomic) accesses never race.
//
// CAUSALITY IS KEPT HERE, APART FROM THE OBJECTS (as Loom's runtime does). The
// seam's primitives (sync_sched.h) only report what they did, through the
// scheduler's hooks; this class alone decides what happens before what:
//
//   report                          happens-before edge
//   LockAcquired(l)                 every earlier LockReleased(l) -> this thread
//   LockReleased(l)                 (the releasing side of the edge above)
//   Wake(waker, woken)              the waker, up to the wake -> the woken thread
//   MarkedLoad, order acquire,      the release sequence the load reads from
//     consume or seq_cst              -> this thread
//   MarkedStore, order release or   starts a release sequence on the object;
//     seq_cst                         relaxed: ends it (orders nothing)
//   MarkedRmw (always acq_rel)      acquires, then extends the release sequence
//   Reset (the start of a run)      nothing before the run is tracked, so every
//                                   thread starts ordered after it
//   Release / Acquire               a release that accumulates into obj's
//                                   clock (as a lock's, without its held
//                                   bit), and its acquire
//
// Threads of a run never join one another in the scheduler; a body that waits
// for the others (the concurrent world's last thread, which runs the global
// cleanup) does so through a lock that reports itself (the world's BookMutex),
// and the run's caller reads results after Run() returns, outside any run.
//
// The kernel shim's spinlocks are built from the Mutex and WaitQueue above. The
// SRCU-like ReadSide (sync.h) is built on a Mutex that orders nothing, so that
// read sections do not order one another, and reports its own edges through
// Release and Acquire: a grace period orders the read sections it waited for
// before what follows Synchronize(), and what preceded its start before the
// sections that begin after it.
//
// Each logical thread has a vector clock of kMaxThreads entries; its own entry
// ticks after each release, so an access is the epoch (thread, own entry).
//
// SHADOW STATE. Per 8-byte word of memory: each thread's last write and last
// read (epoch, step, pc, byte mask, marked or plain). A write checks every other
// thread's write and read; a read checks every other thread's write (FastTrack,
// Flanagan and Freund, PLDI 2009, with per-thread slots: there are at most
// four). Byte masks keep accesses to different bytes of one word apart, so two
// fields sharing a word are two locations. Known miss: a thread's later access
// to other bytes of a word, after a release, replaces its earlier slot there,
// so a conflict with the earlier one is not seen. The shadow lives in 512-byte
// pages, created on first touch in a run and cleared by the next run.
//
// HEAP REUSE. A block the allocator hands out again must not inherit the shadow
// of its previous life (a false race between the old object's last user and the
// new one's first). OnAlloc clears the shadow of every fresh block; the scheduler
// calls it from the sanitizer allocator's malloc hook (see scheduler.cc), which
// is why the detector is on only in the ASan builds (the asan and fuzz presets;
// TSan's runtime stops calling the hook once fibers exist).
//
// CODE LOCATIONS. A report names each access by its symbolized inline chain: the
// innermost frame, and where that is a header (a kernel shim's hlist_unhashed,
// a kernel header inline) also the first frame outside headers, so a kernel
// access reads "hlist_unhashed kernel/shim/nf_kernel_shim.h:265 in
// mmu_notifier_unregister mm/mmu_notifier.c:825".
//
// SUPPRESSIONS. A process may register suppression entries (AddRaceSuppressions,
// e.g. the kernel target's kernel/races.supp, embedded at build time): a race
// whose two accesses match an entry (each entry names functions per side,
// matched against every frame of each access's inline chain, and optionally
// the access's kind; RaceSuppression) is not reported;
// the access is recorded and the run goes on. Verdicts are cached per pair of
// code addresses, so a suppressed race costs one symbolization per process.
// With the environment variable NF_RACE_SURVEY=1 no race ends a run: each
// distinct pair of code addresses is printed once to stderr ("nf-race:
// suppressed (ENTRY): ..." or "nf-race: unsuppressed: ..."), for surveys of a
// corpus or a fuzzing run (docs/results.md).
//
// Determinism: the state depends only on the sequence of calls. Addresses are
// kept, never printed: a report names threads, steps, kinds and code locations.
#ifndef NF_SYNC_RACE_DETECTOR_H_
#define NF_SYNC_RACE_DETECTOR_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <functional>
#include <unordered_map>
#include <utility>
#include <vector>

namespace nf::sched {

inline constexpr int kRaceThreads = 4;  // == kMaxThreads (scheduler.h)

enum class AccessKind : uint8_t {
  kPlainRead,
  kPlainWrite,
  kMarkedRead,   // Atomic<T> Load
  kMarkedWrite,  // Atomic<T> Store, and the write of a read-modify-write
};
const char* AccessKindName(AccessKind k);

// "function dir/file:line" of a return address, or "module+0xoffset" without a
// symbolizer; never an absolute address (the lock-order reports use it too).
std::string SymbolizedPlace(uintptr_t pc);

// One side of a race.
struct RaceAccess {
  int thread = -1;
  uint64_t step = 0;  // the scheduler's decision count at the access
  AccessKind kind = AccessKind::kPlainRead;
  uintptr_t pc = 0;   // return address of the instrumentation callback
  size_t size = 0;    // bytes accessed
  // A plain write that follows the same thread's plain read of the same bytes in
  // the same step (no yield point, no release between): the store of a compound
  // read-modify-write such as `--x` or `x += d`.
  bool rmw = false;
  // The locks the thread held at the access (LockAcquired, not yet
  // LockReleased), as a set of the run's lock numbers: bit i is the i-th lock
  // the run acquired, the 32nd and later all share bit 31.
  uint32_t locks = 0;
};

inline constexpr int kRaceLockBits = 32;

struct RaceReport {
  RaceAccess earlier;  // the access already in the shadow
  RaceAccess later;    // the access that found it unordered
  // The name of each lock bit of RaceAccess::locks, where the seam was told one
  // (RaceDetector::NameLock: the kernel shim names its spinlocks and rwsems
  // after the expression they were initialized with); null: unnamed.
  const char* lock_names[kRaceLockBits] = {};
  // The report's last clause: which side held a lock the other did not, e.g.
  // "t1 held a lock t0 did not", "neither held a lock"; named locks follow in
  // parentheses: "t1 held a lock t0 did not (subscriptions->lock)".
  std::string LockClause() const;
  // One line, e.g. "data race (P10): plain write of 8 bytes by t1 at step 40
  // in nf::AddressSpace::PutUser() core/notifier.cc:118, unordered with a plain
  // write of 8 bytes by t0 at step 37 in nf::AddressSpace::GetUser()
  // core/notifier.cc:96; t1 held a lock t0 did not". A plain write that is the
  // store of a read-modify-write says so ("plain write (read-modify-write) of
  // 8 bytes ..."). Code locations are symbolized where a sanitizer
  // runtime offers a symbolizer, else module+offset.
  std::string ToString() const;
};

// One suppression entry: a race whose one access matches side `a` and whose
// other matches side `b`. A side is "*" (any access) or function names joined
// by '+', each of which must be in the access's inline chain, optionally
// followed by ":kind" (plain-read, plain-write, marked-read, marked-write,
// plain, marked, read, write), e.g. "mmu_notifier_unregister+hlist_unhashed"
// or "mn_itree_inv_end:plain-write". `origin` is "file:line".
struct RaceSuppression {
  std::string a, b, reason, origin;
};
// Parses suppression text, one entry a line:
//   race <function> <function> <reason, to the end of the line>
// '#' starts a comment line; blank lines are skipped. Returns "" or the first
// bad line's "origin:line: what".
std::string ParseRaceSuppressions(std::string_view text, std::string_view origin,
                                  std::vector<RaceSuppression>* out);
// Parses and adds entries for every detector of this process (called at static
// initialization by the code that owns them, e.g. the kernel shim). Aborts with
// the parse error on bad text (it is build data).
void AddRaceSuppressions(std::string_view text, std::string_view origin);
// The entries added so far.
const std::vector<RaceSuppression>& RaceSuppressions();
// The index of the entry that matches a race between accesses x and y (either
// order), or -1. Symbolizes their code addresses.
int MatchRaceSuppression(const RaceAccess& x, const RaceAccess& y);

class RaceDetector {
 public:
  RaceDetector();
  ~RaceDetector();
  RaceDetector(const RaceDetector&) = delete;
  RaceDetector& operator=(const RaceDetector&) = delete;

  // A new run of n threads: forgets every clock and all shadow state.
  void Reset(int n);

  // Synchronization, as reported by the seam (see the table above).
  void LockAcquired(int t, const void* lock);
  void LockReleased(int t, const void* lock);
  // Gives `lock` a name for reports (RaceReport::lock_names) in this run.
  void NameLock(const void* lock, const char* name);
  void Wake(int waker, int woken);
  void MarkedLoad(int t, const void* obj, bool acquire);
  void MarkedStore(int t, const void* obj, bool release);
  void MarkedRmw(int t, const void* obj);
  // A release that accumulates: obj's clock becomes the join of every thread
  // released to it (as a lock's), without the lock's held bit. An acquire of
  // obj joins it. For synchronization built from parts the detector does not
  // see as such (the SRCU-like ReadSide, sync.h: each reader releases to its
  // index, a grace period acquires it).
  void Release(int t, const void* obj);
  void Acquire(int t, const void* obj);

  // An access by thread t at `step`. Returns true if it races with an access
  // already recorded: then report() names both (the first race of the run).
  bool Access(int t, uint64_t step, const void* addr, size_t size, AccessKind kind,
              uintptr_t pc);

  // [p, p + n) is a fresh heap block: forget its shadow.
  void OnAlloc(const void* p, size_t n);

  const RaceReport& report() const { return report_; }

  // No race ends a run; each distinct one is printed once (NF_RACE_SURVEY=1).
  void set_survey(bool on) { survey_ = on; }

 private:
  struct VectorClock {
    uint32_t c[kRaceThreads] = {};
    void Join(const VectorClock& o) {
      for (int i = 0; i < kRaceThreads; ++i) c[i] = c[i] > o.c[i] ? c[i] : o.c[i];
    }
  };
  // One recorded access (the shadow's unit).
  struct Slot {
    uintptr_t pc;
    uint32_t clock;
    uint32_t step;
    uint32_t locks;   // RaceAccess::locks
    uint8_t thread1;  // thread + 1; 0: empty
    uint8_t mask;     // bytes of the word
    uint8_t marked;
    uint8_t rmw;      // RaceAccess::rmw
  };
  static_assert(sizeof(Slot) == 24, "the lock set and rmw bit fit the slot's padding");
  // Each thread's last write and last read of the word.
  struct Cell {
    Slot writes[kRaceThreads];
    Slot reads[kRaceThreads];
  };
  static constexpr size_t kPageBytes = 512;
  static constexpr size_t kCellsPerPage = kPageBytes / 8;
  static_assert(kCellsPerPage == 64, "Page::live is a 64-bit set of cells");
  // A page's cells are valid only where `live` has their bit: a new page, or a
  // fresh heap block, costs a bit clear, not a memset of its cells.
  struct Page {
    uint64_t live;
    Cell cells[kCellsPerPage];
  };
  struct PageEntry {
    uintptr_t key = 0;   // address / kPageBytes
    uint64_t run = 0;    // valid only when == run_
    uint32_t page = 0;   // index into pages_
  };
  // A sync object's clock, by address.
  struct SyncEntry {
    uintptr_t key = 0;
    uint64_t run = 0;
    VectorClock clock;
    uint32_t lock_bit = 0;  // as a lock: its bit in RaceAccess::locks; 0: none yet
    const char* name = nullptr;  // NameLock
  };

  Cell* CellFor(uintptr_t word, bool create);
  PageEntry* FindPage(uintptr_t key, bool create);
  void GrowPages();
  VectorClock* SyncClock(const void* obj) { return &SyncFor(obj)->clock; }
  SyncEntry* SyncFor(const void* obj);
  uint32_t LockBit(const void* lock);
  void GrowSync();
  bool CheckWord(int t, uint64_t step, uintptr_t word, uint8_t mask, AccessKind kind,
                 uintptr_t pc, size_t size);
  void Tick(int t) { ++vc_[t].c[t]; }
  // A conflict was found (report_ filled): true if it is not to be reported
  // (suppressed, or survey mode).
  bool Skip();

  int n_ = 0;
  uint64_t run_ = 0;
  VectorClock vc_[kRaceThreads];
  uint32_t held_[kRaceThreads] = {};  // the locks each thread holds (RaceAccess::locks)
  int locks_seen_ = 0;                // locks numbered in this run
  const char* lock_names_[kRaceLockBits] = {};  // by bit index, this run
  std::vector<PageEntry> page_table_;  // open addressing, power of two
  size_t page_count_ = 0;              // entries of this run
  std::vector<std::unique_ptr<Page>> pages_;  // stable addresses
  size_t pages_used_ = 0;
  // The last page looked up (most accesses fall in the page of the one before).
  uintptr_t last_key_ = 0;
  Page* last_page_ = nullptr;
  std::vector<SyncEntry> sync_table_;
  size_t sync_count_ = 0;
  RaceReport report_;
  bool survey_ = false;
  // Skip()'s verdict per pair of (code address, kind) (smaller first): the
  // matching suppression entry, or -1; kept across runs (code does not move).
  struct PcPairHash {
    size_t operator()(const std::pair<uintptr_t, uintptr_t>& p) const {
      return std::hash<uintptr_t>()(p.first * 0x9e3779b97f4a7c15ULL ^ p.second);
    }
  };
  std::unordered_map<std::pair<uintptr_t, uintptr_t>, int, PcPairHash> verdicts_;
};

}  // namespace nf::sched

#endif  // NF_SYNC_RACE_DETECTOR_H_
