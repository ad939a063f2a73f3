// kernel/shim/primitives.cc: the kernel primitives of nf_kernel_shim.h, on
// nf's sync seam. Compiled once per flavour: real threads (nf_kernel) and,
// with NF_SYNC_SCHED, the deterministic scheduler (nf_kernel_sched), where
// every lock, wait and marked access below is a yield point.
//
// The mapping (kernel primitive -> seam):
//   spinlock_t              nf::sync::Mutex, placement-new'd into the C
//                           struct's storage, plus the holder's token (for
//                           lockdep_assert_held); never destroyed (the kernel
//                           frees the memory with kfree, nothing else).
//   rw_semaphore            Mutex + WaitQueue + reader count + writer flag;
//                           reader-preferring (a waiting writer does not stop
//                           new readers, as the core's registration exclusion)
//   wait_queue_head_t       Mutex-guarded wake generation + WaitQueue; see
//                           wait_event in the shim header
//   srcu_struct             nf::sync::ReadSide (Lock/Unlock/Synchronize/
//                           CallAfterGracePeriod), created on first use
//   READ_ONCE ...           relaxed / acquire / release __atomic builtins
//   atomic_t                seq_cst __atomic builtins
//
// Race detection (deterministic flavour, sync/race_detector.h): the kernel C
// objects are compiled with the detector's load/store callbacks where
// NF_RACE_DETECTION is on (kernel/CMakeLists.txt), and everything here reports
// what it is to the detector: READ_ONCE/WRITE_ONCE as relaxed marked accesses,
// smp_load_acquire/smp_store_release as acquire/release ones, atomic_t as
// seq_cst read-modify-writes, each at its caller's code location (a line of
// mm/mmu_notifier.c); spinlocks and rw_semaphores as locks named after their
// initializer's argument ("&subscriptions->lock"), held from acquisition to
// release; wait queues, rwsems and SRCU order through the seam's Mutex and
// WaitQueue they are built from. The races the project classifies are in
// kernel/races.supp, registered below.
//   yield points            nf::sync::YieldPoint before every marked access
//                           and atomic (locks and waits yield by themselves)
//
// Per logical thread the shim keeps what lockdep and might_sleep need (held
// spinlock count, held rw_semaphores and lockdep maps, non_block and SRCU
// depth) in the seam's ThreadLocal storage: a fiber's own, zeroed when it
// starts, so a run's abandoned threads leave nothing behind.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "sync/sync.h"
#if defined(NF_SYNC_SCHED)
#include "sync/race_detector.h"
#endif

extern "C" {
#include "kernel/nf_kernel.h"
#include "kernel/shim/nf_kernel_shim.h"
}

namespace {

using nf::sync::Mutex;
using nf::sync::MutexLock;
using nf::sync::ReadSide;
using nf::sync::WaitQueue;
using nf::sync::YieldPoint;

// The race detector's reports (no-ops on real threads). kPc: the code
// location of the kernel's call.
#define NF_KERNEL_CALLER_PC reinterpret_cast<uintptr_t>(__builtin_return_address(0))
#if defined(NF_SYNC_SCHED)
namespace hooks = nf::sync::sched_hooks;
void ReportLoad(const volatile void* p, size_t size, std::memory_order order, uintptr_t pc) {
  hooks::MarkedLoad(const_cast<const void*>(p), size, order, pc);
}
void ReportStore(volatile void* p, size_t size, std::memory_order order, uintptr_t pc) {
  hooks::MarkedStore(const_cast<void*>(p), size, order, pc);
}
void ReportRmw(void* p, size_t size, uintptr_t pc) { hooks::MarkedRmw(p, size, pc); }
// The weak-memory mode (sync/weak_memory.h): a marked store is offered to the
// store buffers before memory is written, a marked load's value after it is
// read.
void WeakStore(volatile void* p, const void* in, size_t size, std::memory_order order) {
  hooks::WeakStore(const_cast<void*>(p), size, in, order);
}
void WeakLoad(const volatile void* p, void* out, size_t size, std::memory_order order) {
  hooks::WeakLoad(const_cast<const void*>(p), size, out, order);
}
void WeakRmw(void* p, size_t size) { hooks::WeakRmw(p, size); }
void WeakFence() { hooks::Fence(); }
// A lock is named for reports by the expression it was initialized with, less
// the '&' ("subscriptions->lock").
void ReportLockName(const void* lock, const char* name) {
  if (name != nullptr) hooks::NameLock(lock, name[0] == '&' ? name + 1 : name);
}
void ReportLockAcquired(const void* lock, const char* name) {
  ReportLockName(lock, name);
  hooks::LockAcquired(lock);
}
void ReportLockReleased(const void* lock) { hooks::LockReleased(lock); }

extern "C" const char* nf_kernel_races_supp(void);
const bool g_suppressions_registered = [] {
  nf::sched::AddRaceSuppressions(nf_kernel_races_supp(), "kernel/races.supp");
  return true;
}();
#else
void ReportLoad(const volatile void*, size_t, std::memory_order, uintptr_t) {}
void ReportStore(volatile void*, size_t, std::memory_order, uintptr_t) {}
void ReportRmw(void*, size_t, uintptr_t) {}
void WeakStore(volatile void*, const void*, size_t, std::memory_order) {}
void WeakLoad(const volatile void*, void*, size_t, std::memory_order) {}
void WeakRmw(void*, size_t) {}
void WeakFence() { std::atomic_thread_fence(std::memory_order_seq_cst); }
void ReportLockName(const void*, const char*) {}
void ReportLockAcquired(const void*, const char*) {}
void ReportLockReleased(const void*) {}
#endif

// ---- reports -------------------------------------------------------------------

// Not a seam mutex: reporting is no synchronization point of the program
// under test, and must not yield.
std::mutex g_report_mu;
std::vector<nfk_report>& ReportLog() {
  static auto* log = new std::vector<nfk_report>();
  return *log;
}
nfk_report_fn g_report_fn = nullptr;
void* g_report_cookie = nullptr;

// ---- per logical thread state --------------------------------------------------

// What lockdep and might_sleep need of the calling logical thread, in the
// seam's ThreadLocal storage (zeroed when a fiber or OS thread starts; the
// block is small, hence the packing). A held lock is its address with the
// mode in the low bits (locks are at least 8-aligned).
enum HeldMode : uintptr_t { kRead = 1, kWrite = 2, kMap = 3 };
constexpr int kMaxHeld = 5;  // mmap_lock + rmap locks + lockdep map + nesting

struct KThread {
  int16_t spin_depth;
  int16_t nonblock_depth;
  int16_t srcu_depth;
  int8_t num_held;
  int8_t map_trylock_depth;  // nf_kernel_lock_map_trylock_begin nesting
  uintptr_t held[kMaxHeld];

  int Mode(const void* lock) const {
    for (int i = 0; i < num_held; ++i) {
      if ((held[i] & ~uintptr_t{3}) == reinterpret_cast<uintptr_t>(lock)) {
        return static_cast<int>(held[i] & 3);
      }
    }
    return 0;
  }
  void Push(const void* lock, HeldMode mode) {
    if (num_held == kMaxHeld) {
      nf_kernel_report(NF_KERNEL_BUG, __FILE__, __LINE__, "the shim tracks at most kMaxHeld locks a thread");
    }
    held[num_held++] = reinterpret_cast<uintptr_t>(lock) | mode;
  }
  void Drop(const void* lock) {
    for (int i = num_held - 1; i >= 0; --i) {
      if ((held[i] & ~uintptr_t{3}) == reinterpret_cast<uintptr_t>(lock)) {
        for (int j = i; j + 1 < num_held; ++j) held[j] = held[j + 1];
        --num_held;
        return;
      }
    }
  }
};

KThread& Self() {
  static const nf::sync::ThreadLocal<KThread> state;
  return state.Get();
}

#if defined(NF_SYNC_SCHED)
uint64_t SelfToken() { return nf::sync::sched_hooks::OwnerToken(); }
#else
uint64_t SelfToken() {
  return static_cast<uint64_t>(reinterpret_cast<uintptr_t>(&nf::sync::CurrentThreadBlock()));
}
#endif

// ---- lock order (sync/lock_order.h) -------------------------------------------------
// The deterministic flavour's scheduler keeps the lock-order graph; each
// acquisition names its class and where the kernel took it (file:line where the
// macro passes it, else the return address into the kernel's code).
void OrderAcquire(const void* lock, const char* lock_class, bool trylock, const char* file,
                  int line, const void* pc) {
#if defined(NF_SYNC_SCHED)
  nf::sync::sched_hooks::LockOrderAcquire(lock, lock_class, trylock, file, line,
                                          reinterpret_cast<uintptr_t>(pc));
#else
  (void)lock, (void)lock_class, (void)trylock, (void)file, (void)line, (void)pc;
#endif
}
void OrderRelease(const void* lock) {
#if defined(NF_SYNC_SCHED)
  nf::sync::sched_hooks::LockOrderRelease(lock);
#else
  (void)lock;
#endif
}
#define NF_KERNEL_CALLER __builtin_return_address(0)

// ---- storage casts ---------------------------------------------------------------

template <typename T, size_t N>
T* Placed(unsigned char (&storage)[N]) {
  static_assert(sizeof(T) <= N, "grow the storage in nf_kernel_shim.h");
  static_assert(alignof(T) <= 16, "the shim's storage is 16-aligned");
  return std::launder(reinterpret_cast<T*>(storage));
}
template <typename T, size_t N>
const T* Placed(const unsigned char (&storage)[N]) {
  return std::launder(reinterpret_cast<const T*>(storage));
}

struct Spin {
  Mutex mu;
  const char* lock_class;
};
Spin* SpinOf(spinlock_t* l) { return Placed<Spin>(l->nf_impl); }
Mutex* SpinMutex(spinlock_t* l) { return &SpinOf(l)->mu; }
std::atomic_ref<unsigned long long> Owner(const spinlock_t* l) {
  return std::atomic_ref<unsigned long long>(const_cast<spinlock_t*>(l)->nf_owner);
}

class RwSem {
 public:
  explicit RwSem(const char* lock_class) : lock_class_(lock_class) {}
  const char* lock_class() const { return lock_class_; }

  void DownRead() {
    wq_.WaitUntil([this] {
      MutexLock l(&mu_);
      if (writer_) return false;
      ++readers_;
      return true;
    });
  }
  bool TryDownRead() {
    MutexLock l(&mu_);
    if (writer_) return false;
    ++readers_;
    return true;
  }
  void UpRead() {
    {
      MutexLock l(&mu_);
      --readers_;
    }
    wq_.WakeAll();
  }
  void DownWrite() {
    wq_.WaitUntil([this] {
      MutexLock l(&mu_);
      if (writer_ || readers_ > 0) return false;
      writer_ = true;
      return true;
    });
  }
  void UpWrite() {
    {
      MutexLock l(&mu_);
      writer_ = false;
    }
    wq_.WakeAll();
  }

 private:
  const char* const lock_class_;
  Mutex mu_;
  long readers_ ABSL_GUARDED_BY(mu_) = 0;
  bool writer_ ABSL_GUARDED_BY(mu_) = false;
  WaitQueue wq_;
};
RwSem* Sem(struct rw_semaphore* s) { return Placed<RwSem>(s->nf_impl); }

class Wq {
 public:
  uint64_t Prepare() {
    MutexLock l(&mu_);
    return generation_;
  }
  void Sleep(uint64_t seen) {
    wq_.WaitUntil([this, seen] {
      MutexLock l(&mu_);
      return generation_ != seen;
    });
  }
  void WakeAll() {
    {
      MutexLock l(&mu_);
      ++generation_;
    }
    wq_.WakeAll();
  }

 private:
  Mutex mu_;
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
  WaitQueue wq_;
};
Wq* Queue(wait_queue_head_t* wq) { return Placed<Wq>(wq->nf_impl); }

// ---- SRCU -----------------------------------------------------------------------

struct Srcu;
struct Pending {
  ReadSide::Callback cb;  // first: the ReadSide hands back &cb
  struct rcu_head* head;
  void (*func)(struct rcu_head*);
  Srcu* srcu;
};
struct Srcu {
  ReadSide rs;
  Mutex mu;  // guards pending
  std::vector<Pending*> pending ABSL_GUARDED_BY(mu);
};

// Every srcu_struct seen, so that nfk_forget_threads can replace their read
// sides; and the replaced ones, kept reachable on purpose (their readers may
// never leave, their callbacks never run).
std::mutex g_srcu_mu;
std::vector<struct srcu_struct*>& SrcuStructs() {
  static auto* v = new std::vector<struct srcu_struct*>();
  return *v;
}
std::vector<Srcu*>& SrcuGraveyard() {
  static auto* v = new std::vector<Srcu*>();
  return *v;
}

Srcu* GetSrcu(struct srcu_struct* ssp) {
  std::atomic_ref<void*> impl(ssp->nf_impl);
  void* p = impl.load(std::memory_order_acquire);
  if (p != nullptr) return static_cast<Srcu*>(p);
  std::lock_guard<std::mutex> g(g_srcu_mu);
  p = impl.load(std::memory_order_acquire);
  if (p == nullptr) {
    p = new Srcu();
    impl.store(p, std::memory_order_release);
    if (std::find(SrcuStructs().begin(), SrcuStructs().end(), ssp) == SrcuStructs().end()) {
      SrcuStructs().push_back(ssp);
    }
  }
  return static_cast<Srcu*>(p);
}

void RunPending(ReadSide::Callback* cb) {
  Pending* p = reinterpret_cast<Pending*>(cb);
  {
    MutexLock l(&p->srcu->mu);
    auto& v = p->srcu->pending;
    v.erase(std::find(v.begin(), v.end(), p));
  }
  p->func(p->head);
  delete p;
}

// ---- marked accesses --------------------------------------------------------------

template <int kOrder>
void Load(const volatile void* p, void* out, size_t size) {
  void* q = const_cast<void*>(p);
  switch (size) {
    case 1: *static_cast<uint8_t*>(out) = __atomic_load_n(static_cast<uint8_t*>(q), kOrder); break;
    case 2: *static_cast<uint16_t*>(out) = __atomic_load_n(static_cast<uint16_t*>(q), kOrder); break;
    case 4: *static_cast<uint32_t*>(out) = __atomic_load_n(static_cast<uint32_t*>(q), kOrder); break;
    case 8: *static_cast<uint64_t*>(out) = __atomic_load_n(static_cast<uint64_t*>(q), kOrder); break;
    default: std::memcpy(out, q, size); break;
  }
}
template <int kOrder>
void Store(volatile void* p, const void* in, size_t size) {
  void* q = const_cast<void*>(p);
  switch (size) {
    case 1: __atomic_store_n(static_cast<uint8_t*>(q), *static_cast<const uint8_t*>(in), kOrder); break;
    case 2: __atomic_store_n(static_cast<uint16_t*>(q), *static_cast<const uint16_t*>(in), kOrder); break;
    case 4: __atomic_store_n(static_cast<uint32_t*>(q), *static_cast<const uint32_t*>(in), kOrder); break;
    case 8: __atomic_store_n(static_cast<uint64_t*>(q), *static_cast<const uint64_t*>(in), kOrder); break;
    default: std::memcpy(q, in, size); break;
  }
}

std::atomic<unsigned> g_fail_allocations{0};

}  // namespace

extern "C" {

// ---- reports --------------------------------------------------------------------

void nf_kernel_report(int kind, const char* file, int line, const char* what) {
  const nfk_report r{kind, file, line, what};
  nfk_report_fn fn;
  void* cookie;
  {
    std::lock_guard<std::mutex> g(g_report_mu);
    ReportLog().push_back(r);
    fn = g_report_fn;
    cookie = g_report_cookie;
  }
  if (fn != nullptr) fn(cookie, &r);
  if (kind == NF_KERNEL_BUG) {
    std::fprintf(stderr, "nf kernel: BUG at %s:%d: %s\n", file, line, what);
    std::abort();
  }
}

void nfk_set_report_handler(nfk_report_fn fn, void* cookie) {
  std::lock_guard<std::mutex> g(g_report_mu);
  g_report_fn = fn;
  g_report_cookie = cookie;
}

size_t nfk_reports(nfk_report* out, size_t cap) {
  std::lock_guard<std::mutex> g(g_report_mu);
  const std::vector<nfk_report>& log = ReportLog();
  for (size_t i = 0; i < cap && i < log.size(); ++i) out[i] = log[i];
  return log.size();
}

void nfk_reports_clear(void) {
  std::lock_guard<std::mutex> g(g_report_mu);
  ReportLog().clear();
}

const char* nfk_report_kind_name(int kind) {
  switch (kind) {
    case NFK_REPORT_WARN: return "WARN";
    case NFK_REPORT_BUG: return "BUG";
    case NFK_REPORT_MIGHT_SLEEP: return "might_sleep";
    case NFK_REPORT_LOCKDEP: return "lockdep";
    case NFK_REPORT_RCU: return "rcu";
  }
  return "?";
}

void nfk_might_sleep(const char* file, int line) { nf_kernel_might_sleep(file, line); }

void nfk_fail_next_allocations(unsigned n) { g_fail_allocations.store(n); }

void nfk_forget_threads(void) {
  std::lock_guard<std::mutex> g(g_srcu_mu);
  for (struct srcu_struct* ssp : SrcuStructs()) {
    std::atomic_ref<void*> impl(ssp->nf_impl);
    void* old = impl.exchange(nullptr);
    if (old != nullptr) SrcuGraveyard().push_back(static_cast<Srcu*>(old));
  }
}

// ---- marked accesses, atomics, allocation -----------------------------------------

// noinline: each reports its caller's code location.
__attribute__((noinline)) void nf_kernel_read_once(const volatile void* p, void* out, size_t size) {
  YieldPoint("kernel.read_once");
  ReportLoad(p, size, std::memory_order_relaxed, NF_KERNEL_CALLER_PC);
  Load<__ATOMIC_RELAXED>(p, out, size);
  WeakLoad(p, out, size, std::memory_order_relaxed);
}
__attribute__((noinline)) void nf_kernel_write_once(volatile void* p, const void* in, size_t size) {
  YieldPoint("kernel.write_once");
  ReportStore(p, size, std::memory_order_relaxed, NF_KERNEL_CALLER_PC);
  WeakStore(p, in, size, std::memory_order_relaxed);
  Store<__ATOMIC_RELAXED>(p, in, size);
}
__attribute__((noinline)) void nf_kernel_load_acquire(const volatile void* p, void* out, size_t size) {
  YieldPoint("kernel.load_acquire");
  ReportLoad(p, size, std::memory_order_acquire, NF_KERNEL_CALLER_PC);
  Load<__ATOMIC_ACQUIRE>(p, out, size);
  WeakLoad(p, out, size, std::memory_order_acquire);
}
__attribute__((noinline)) void nf_kernel_store_release(volatile void* p, const void* in, size_t size) {
  YieldPoint("kernel.store_release");
  ReportStore(p, size, std::memory_order_release, NF_KERNEL_CALLER_PC);
  WeakStore(p, in, size, std::memory_order_release);
  Store<__ATOMIC_RELEASE>(p, in, size);
}

__attribute__((noinline)) int nf_kernel_atomic_add_return(atomic_t* v, int d) {
  YieldPoint("kernel.atomic");
  ReportRmw(&v->counter, sizeof v->counter, NF_KERNEL_CALLER_PC);
  return __atomic_add_fetch(&v->counter, d, __ATOMIC_SEQ_CST);
}

__attribute__((noinline)) void nf_kernel_smp_mb(void) {
  YieldPoint("kernel.smp_mb");
  WeakFence();
}

__attribute__((noinline)) int nf_kernel_atomic_inc_not_zero(atomic_t* v) {
  YieldPoint("kernel.atomic");
  WeakRmw(&v->counter, sizeof v->counter);
  int old = __atomic_load_n(&v->counter, __ATOMIC_SEQ_CST);
  // A failed attempt is a seq_cst load; a success a read-modify-write.
  if (old == 0) ReportLoad(&v->counter, sizeof v->counter, std::memory_order_seq_cst, NF_KERNEL_CALLER_PC);
  while (old != 0) {
    if (__atomic_compare_exchange_n(&v->counter, &old, old + 1, false, __ATOMIC_SEQ_CST,
                                    __ATOMIC_SEQ_CST)) {
      ReportRmw(&v->counter, sizeof v->counter, NF_KERNEL_CALLER_PC);
      return 1;
    }
  }
  return 0;
}

void* nf_kernel_kmalloc(size_t size, bool zero) {
  unsigned n = g_fail_allocations.load();
  while (n > 0) {
    if (g_fail_allocations.compare_exchange_weak(n, n - 1)) return nullptr;
  }
  return zero ? std::calloc(1, size) : std::malloc(size);
}

// ---- sleeping, non-blocking sections, lockdep maps ------------------------------------

void nf_kernel_might_sleep(const char* file, int line) {
  YieldPoint("kernel.might_sleep");
  const KThread& t = Self();
  if (t.spin_depth > 0) {
    nf_kernel_report(NF_KERNEL_MIGHT_SLEEP, file, line,
                     "sleeping function called with a spinlock held");
  } else if (t.nonblock_depth > 0) {
    nf_kernel_report(NF_KERNEL_MIGHT_SLEEP, file, line,
                     "sleeping function called inside non_block_start()");
  }
}

void non_block_start(void) { ++Self().nonblock_depth; }
void non_block_end(void) {
  --Self().nonblock_depth;
}

void nf_kernel_lock_map_acquire(struct lockdep_map* m, const char* file, int line) {
  KThread& t = Self();
  if (t.Mode(m) != 0) {
    nf_kernel_report(NF_KERNEL_LOCKDEP, file, line,
                     "possible recursive locking of a lockdep map "
                     "(__mmu_notifier_invalidate_range_start_map: called from an invalidation?)");
  }
  t.Push(m, kMap);
  OrderAcquire(m, m->name, t.map_trylock_depth > 0, file, line, nullptr);
}
void nf_kernel_lock_map_release(struct lockdep_map* m) {
  OrderRelease(m);
  Self().Drop(m);
}
void nf_kernel_lock_map_trylock_begin(void) { ++Self().map_trylock_depth; }
void nf_kernel_lock_map_trylock_end(void) { --Self().map_trylock_depth; }

// ---- spinlock_t ------------------------------------------------------------------------

void nf_kernel_spin_lock_init(spinlock_t* l, const char* lock_class) {
  new (l->nf_impl) Spin{{}, lock_class};
  l->nf_owner = 0;
}

void spin_lock(spinlock_t* l) ABSL_NO_THREAD_SAFETY_ANALYSIS {
  const uint64_t self = SelfToken();
  if (Owner(l).load(std::memory_order_relaxed) == self) {
    nf_kernel_report(NF_KERNEL_BUG, __FILE__, __LINE__, "spin_lock: recursive locking (self-deadlock)");
  }
  ReportLockName(l, SpinOf(l)->lock_class);
  OrderAcquire(l, SpinOf(l)->lock_class, false, nullptr, 0, NF_KERNEL_CALLER);
  SpinMutex(l)->Lock();
  Owner(l).store(self, std::memory_order_relaxed);
  ++Self().spin_depth;
}

void spin_unlock(spinlock_t* l) ABSL_NO_THREAD_SAFETY_ANALYSIS {
  if (Owner(l).load(std::memory_order_relaxed) != SelfToken()) {
    nf_kernel_report(NF_KERNEL_BUG, __FILE__, __LINE__, "spin_unlock: the lock is not held by this thread");
  }
  Owner(l).store(0, std::memory_order_relaxed);
  --Self().spin_depth;
  OrderRelease(l);
  SpinMutex(l)->Unlock();
}

bool nf_kernel_spin_is_held(const spinlock_t* l) {
  return Owner(l).load(std::memory_order_relaxed) == SelfToken();
}

void nf_kernel_lockdep_assert_held(const spinlock_t* l, const char* file, int line) {
  if (!nf_kernel_spin_is_held(l)) {
    nf_kernel_report(NF_KERNEL_LOCKDEP, file, line, "lockdep_assert_held: lock not held");
  }
}

// ---- rw_semaphore -------------------------------------------------------------------------

void nf_kernel_init_rwsem(struct rw_semaphore* s, const char* lock_class) {
  new (s->nf_impl) RwSem(lock_class);
}

// A read counts as an acquisition for the lock order like a write
// (sync/lock_order.h: the kernel's rwsem is writer-fair).
void down_read(struct rw_semaphore* s) {
  nf_kernel_might_sleep(__FILE__, __LINE__);
  KThread& t = Self();
  if (t.Mode(s) == 2) nf_kernel_report(NF_KERNEL_BUG, __FILE__, __LINE__, "down_read: this thread holds it for writing");
  if (t.Mode(s) == 1) nf_kernel_report(NF_KERNEL_LOCKDEP, __FILE__, __LINE__, "down_read: recursive read locking");
  OrderAcquire(s, Sem(s)->lock_class(), false, nullptr, 0, NF_KERNEL_CALLER);
  Sem(s)->DownRead();
  Self().Push(s, kRead);
  ReportLockAcquired(s, Sem(s)->lock_class());
}
int down_read_trylock(struct rw_semaphore* s) {
  if (Self().Mode(s) == 2) return 0;
  if (!Sem(s)->TryDownRead()) {
    return 0;
  }
  Self().Push(s, kRead);
  OrderAcquire(s, Sem(s)->lock_class(), true, nullptr, 0, NF_KERNEL_CALLER);
  ReportLockAcquired(s, Sem(s)->lock_class());
  return 1;
}
void up_read(struct rw_semaphore* s) {
  if (Self().Mode(s) != 1) nf_kernel_report(NF_KERNEL_BUG, __FILE__, __LINE__, "up_read: not held for reading by this thread");
  Self().Drop(s);
  OrderRelease(s);
  ReportLockReleased(s);
  Sem(s)->UpRead();
}
void down_write(struct rw_semaphore* s) {
  nf_kernel_might_sleep(__FILE__, __LINE__);
  if (Self().Mode(s) != 0) {
    nf_kernel_report(NF_KERNEL_BUG, __FILE__, __LINE__, "down_write: this thread already holds it (self-deadlock)");
  }
  OrderAcquire(s, Sem(s)->lock_class(), false, nullptr, 0, NF_KERNEL_CALLER);
  Sem(s)->DownWrite();
  Self().Push(s, kWrite);
  ReportLockAcquired(s, Sem(s)->lock_class());
}
void up_write(struct rw_semaphore* s) {
  if (Self().Mode(s) != 2) nf_kernel_report(NF_KERNEL_BUG, __FILE__, __LINE__, "up_write: not held for writing by this thread");
  Self().Drop(s);
  OrderRelease(s);
  ReportLockReleased(s);
  Sem(s)->UpWrite();
}
int nf_kernel_rwsem_held(const struct rw_semaphore* s) {
  const int mode = Self().Mode(s);
  return mode;
}
void nf_kernel_might_lock(const struct rw_semaphore* s, const char* file, int line) {
  if (Self().Mode(s) != 0) {
    nf_kernel_report(NF_KERNEL_LOCKDEP, file, line, "might_lock: this thread already holds it (would deadlock)");
  }
}

// ---- wait queues -----------------------------------------------------------------------------

void init_waitqueue_head(wait_queue_head_t* wq) { new (wq->nf_impl) Wq(); }
void wake_up_all(wait_queue_head_t* wq) { Queue(wq)->WakeAll(); }
unsigned long long nf_kernel_wait_prepare(wait_queue_head_t* wq) { return Queue(wq)->Prepare(); }
void nf_kernel_wait_sleep(wait_queue_head_t* wq, unsigned long long generation) {
  Queue(wq)->Sleep(generation);
}

// ---- SRCU ---------------------------------------------------------------------------------------

int srcu_read_lock(struct srcu_struct* ssp) {
  ++Self().srcu_depth;
  return GetSrcu(ssp)->rs.Lock();
}
void srcu_read_unlock(struct srcu_struct* ssp, int idx) {
  --Self().srcu_depth;
  GetSrcu(ssp)->rs.Unlock(idx);  // may run callbacks whose grace period ended
}
void synchronize_srcu(struct srcu_struct* ssp) {
  nf_kernel_might_sleep(__FILE__, __LINE__);
  if (Self().srcu_depth > 0) {
    nf_kernel_report(NF_KERNEL_BUG, __FILE__, __LINE__,
                     "synchronize_srcu inside an SRCU read-side section (self-deadlock)");
  }
  GetSrcu(ssp)->rs.Synchronize();
}
void call_srcu(struct srcu_struct* ssp, struct rcu_head* head, void (*func)(struct rcu_head*)) {
  Srcu* s = GetSrcu(ssp);
  auto* p = new Pending{{RunPending, nullptr}, head, func, s};
  {
    MutexLock l(&s->mu);
    s->pending.push_back(p);
  }
  s->rs.CallAfterGracePeriod(&p->cb);
}
bool srcu_read_lock_held(const struct srcu_struct* /*ssp*/) {
  const bool held = Self().srcu_depth > 0;
  return held;
}
void nf_kernel_srcu_for_each_pending(struct srcu_struct* ssp,
                                     void (*fn)(void*, struct rcu_head*, void (*)(struct rcu_head*)),
                                     void* ctx) {
  Srcu* s = GetSrcu(ssp);
  MutexLock l(&s->mu);
  for (Pending* p : s->pending) fn(ctx, p->head, p->func);
}
void nf_kernel_rcu_check(bool ok, const char* file, int line) {
  if (!ok) {
    nf_kernel_report(NF_KERNEL_RCU, file, line,
                     "suspicious RCU usage: list walked without its lock or read-side section");
  }
}

// ThreadSanitizer: a READ_ONCE racing a plain write of the same word made
// under a lock is the kernel's own convention (its memory model takes aligned
// plain writes as atomic, KCSAN's default); the kernel file does this on
// invalidate_seq (wait_event in mmu_interval_read_begin). Only races whose
// top frame is the marked read are suppressed; a plain read racing a marked
// write is still reported.
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define NF_KERNEL_TSAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define NF_KERNEL_TSAN 1
#endif
#if defined(NF_KERNEL_TSAN)
const char* __tsan_default_suppressions() { return "race_top:nf_kernel_read_once\n"; }
#endif

}  // extern "C"
