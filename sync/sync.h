// sync/sync.h: the one synchronization seam of the notifier core (and of
// everything else that must run both on real threads and under the
// deterministic scheduler: the kernel target's shim, the test driver model).
//
// The core never names a concrete primitive (no std::mutex, no std::atomic, no
// thread_local). Everything it synchronizes with comes from this header, so the
// same core source runs in two flavours, chosen at compile time:
//
//   real threads (default)       sync/sync_std.h, on std::mutex,
//                                std::condition_variable and std::atomic. Used by
//                                the unit tests, the TSan stress tests, the TSan
//                                replay and the benchmarks.
//   deterministic (NF_SYNC_SCHED) sync/sync_sched.h: cooperative fibers on one OS
//                                thread, run by sync/. Every primitive
//                                operation below is a point where the scheduler may
//                                switch threads, chosen by the fuzzer's input bytes.
//                                Outside a scheduler run yields do nothing and a
//                                block is a hard failure (it would never end), so
//                                OS threads must not block in this flavour.
//
// Each flavour provides, in namespace nf::sync:
//
//   class Mutex          Lock(), Unlock(), TryLock(), AssertHeld(). A thread-safety
//                        capability: fields it guards carry ABSL_GUARDED_BY.
//                        AssertHeld checks at run time only in the deterministic
//                        flavour.
//   class WaitQueue      WaitUntil(cond): returns once cond() is true. cond is
//                        called with no lock held by the waiter and may take locks
//                        itself (as the kernel's wait_event). No lost wakeups: a
//                        WakeAll() that follows a change making cond() true always
//                        ends the wait. WakeAll(): re-evaluates every waiter.
//   template Atomic<T>   Load, Store, FetchAdd, FetchSub, Exchange. Sequentially
//                        consistent unless an order is passed.
//   YieldPoint(name)     A named point where another thread may run. A no-op on
//                        real threads.
//   HappensBeforeRelease(obj), HappensBeforeAcquire(obj)
//                        Race-detector edges of a primitive built on a Mutex
//                        made with Mutex::kNoHappensBefore (ReadSide's); no-ops
//                        on real threads.
//   CurrentThreadBlock() The calling logical thread's ThreadLocalBlock (a fiber's
//                        own under the scheduler, zeroed when the fiber starts;
//                        an OS thread's own thread_local otherwise).
//
// On top of those, this header builds the pieces both flavours share: MutexLock,
// ThreadLocal<T> (per logical thread storage for the libraries above) and
// ReadSide (an SRCU-like read side).
//
// This library knows nothing of notifiers: what a library keeps per logical
// thread it declares itself, as a ThreadLocal<T> (the core's is in
// core/internal/thread_state.h).
#ifndef NF_SYNC_SYNC_H_
#define NF_SYNC_SYNC_H_

#include <cstdint>

#include "absl/base/thread_annotations.h"

#include <atomic>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <type_traits>

namespace nf::sync {

// Storage of one logical thread for the libraries above the seam: a fixed block,
// zeroed when the logical thread starts (each fiber of a scheduler run, each OS
// thread). Carved up by ThreadLocal<T> at static initialization.
inline constexpr size_t kThreadLocalBytes = 64;
struct alignas(alignof(std::max_align_t)) ThreadLocalBlock {
  unsigned char bytes[kThreadLocalBytes] = {};
};

// Reserves `size` bytes (aligned to `align`) of every logical thread's block and
// returns their offset. Aborts when the block is full: raise kThreadLocalBytes.
inline size_t ReserveThreadLocal(size_t size, size_t align) {
  static std::atomic<size_t> next{0};
  size_t offset = next.load();
  size_t aligned;
  do {
    aligned = (offset + align - 1) / align * align;
  } while (!next.compare_exchange_weak(offset, aligned + size));
  if (aligned + size > kThreadLocalBytes) {
    std::fprintf(stderr, "nf::sync: ThreadLocalBlock is full (%zu bytes)\n", kThreadLocalBytes);
    std::abort();
  }
  return aligned;
}

// The seam's own state is read and written through these two, out of line and
// without SanitizerCoverage's load/store callbacks (clang), so that the race
// detector (sync/race_detector.h), which sees the plain accesses of code
// compiled with those callbacks, does not take the seam's internals for the
// core's: a Mutex's owner or a WaitQueue's generation (read unlocked by
// design), an Atomic's value (a marked access, reported as such), a
// ThreadLocal's offset (written once by a function-local static's
// initialization, which the C++ runtime's guard orders and the detector does
// not see). Without the instrumentation they are ordinary accesses.
#if defined(__clang__)
#define NF_SEAM_UNTRACKED __attribute__((noinline, no_sanitize("coverage")))
#else
#define NF_SEAM_UNTRACKED
#endif
template <typename T>
NF_SEAM_UNTRACKED T SeamLoad(const T* p) {
  return *p;
}
template <typename T>
NF_SEAM_UNTRACKED void SeamStore(T* p, T v) {
  *p = v;
}
#undef NF_SEAM_UNTRACKED

}  // namespace nf::sync

#if defined(NF_SYNC_SCHED)
#include "sync/sync_sched.h"
#else
#include "sync/sync_std.h"
#endif

namespace nf::sync {

// Holds a Mutex for its scope.
class ABSL_SCOPED_LOCKABLE MutexLock {
 public:
  explicit MutexLock(Mutex* mu, const char* file = __builtin_FILE(), int line = __builtin_LINE())
      ABSL_EXCLUSIVE_LOCK_FUNCTION(mu)
      : mu_(mu) {
    mu_->Lock(file, line);
  }
  ~MutexLock() ABSL_UNLOCK_FUNCTION() { mu_->Unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex* const mu_;
};

// Per logical thread state of type T: each logical thread sees its own T, which
// starts as all zero bytes (T must be trivial and valid when zeroed). Declare
// one per purpose, with static storage duration (a function-local static):
//
//   struct Depth { int n; };
//   Depth& MyDepth() {
//     static const sync::ThreadLocal<Depth> tl;
//     return tl.Get();
//   }
template <typename T>
class ThreadLocal {
  static_assert(std::is_trivial_v<T>, "ThreadLocal<T> holds zeroed bytes: T must be trivial");

 public:
  ThreadLocal() : offset_(ReserveThreadLocal(sizeof(T), alignof(T))) {}
  ThreadLocal(const ThreadLocal&) = delete;
  ThreadLocal& operator=(const ThreadLocal&) = delete;

  T& Get() const {
    return *reinterpret_cast<T*>(CurrentThreadBlock().bytes + SeamLoad(&offset_));
  }

 private:
  const size_t offset_;
};

// ReadSide: an SRCU-like read side (the kernel's srcu_read_lock and friends).
//
// Readers never block each other or writers. Synchronize() returns only after
// every read-side section that began before it was called has ended. A callback
// passed to CallAfterGracePeriod() runs once every section that was active when it
// was queued has ended; it runs on the thread that ends the last such section (or
// at once, on the calling thread, if no section is active).
//
// Guarantee: anything a reader can reach from inside a section that began before
// an object was unlinked stays valid until Synchronize() returns or the grace
// period callback runs.
//
// Lifetime rule: Unlock() touches nothing of *this after it starts running ready
// callbacks, so a callback may free the object that owns this ReadSide.
//
// Happens-before (what the deterministic flavour's race detector sees), as
// SRCU's: read sections do not order one another (the kernel's readers touch
// per-CPU counters only), so the internal mutex orders nothing and the edges
// are explicit. What precedes a grace period's start (Synchronize's flip of
// the index) is ordered before every section that begins after it; every
// section of the index a grace period waits for is ordered before what
// follows it; a callback runs ordered after its queuer and after every
// section that ended before it runs.
class ReadSide {
 public:
  // An intrusive node, embedded in whatever is to be freed after a grace period.
  struct Callback {
    void (*fn)(Callback*) = nullptr;
    Callback* next = nullptr;
  };

  ReadSide() = default;
  ReadSide(const ReadSide&) = delete;
  ReadSide& operator=(const ReadSide&) = delete;

  // Enters a section; pass the result to Unlock().
  int Lock() {
    MutexLock l(&mu_);
    const int idx = SeamLoad(&current_);
    SeamStore(&readers_[idx], SeamLoad(&readers_[idx]) + 1);
    HappensBeforeAcquire(&current_);  // after every grace period begun so far
    return idx;
  }

  void Unlock(int idx) {
    Callback* ready = nullptr;
    bool drained;
    {
      MutexLock l(&mu_);
      HappensBeforeRelease(&readers_[idx]);  // before the grace period that waits
      SeamStore(&readers_[idx], SeamLoad(&readers_[idx]) - 1);
      drained = SeamLoad(&readers_[idx]) == 0;
      if (NoReaders()) {
        ready = SeamLoad(&pending_);
        SeamStore<Callback*>(&pending_, nullptr);
        if (ready != nullptr) AcquireForCallbacks();
      }
    }
    if (drained) drained_.WakeAll();
    RunCallbacks(ready);
  }

  // Waits for every section that began before this call.
  void Synchronize() {
    MutexLock serialize(&sync_mu_);
    int old;
    {
      MutexLock l(&mu_);
      old = SeamLoad(&current_);
      HappensBeforeRelease(&current_);  // before the sections that begin after
      SeamStore(&current_, old ^ 1);
    }
    drained_.WaitUntil([this, old] {
      MutexLock l(&mu_);
      return SeamLoad(&readers_[old]) == 0;
    });
    HappensBeforeAcquire(&readers_[old]);  // after the sections waited for
  }

  // Runs cb->fn(cb) after a grace period. Never blocks; safe inside a section.
  void CallAfterGracePeriod(Callback* cb) {
    {
      MutexLock l(&mu_);
      if (!NoReaders()) {
        HappensBeforeRelease(&pending_);  // the queuer before its callback
        SeamStore(&cb->next, SeamLoad(&pending_));
        SeamStore(&pending_, cb);
        return;
      }
      AcquireForCallbacks();
    }
    SeamStore<Callback*>(&cb->next, nullptr);
    RunCallbacks(cb);
  }

  // Number of callbacks queued and not yet run (for oracles).
  int PendingCallbacks() {
    MutexLock l(&mu_);
    int n = 0;
    for (Callback* c = SeamLoad(&pending_); c != nullptr; c = SeamLoad(&c->next)) ++n;
    return n;
  }

 private:
  bool NoReaders() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return SeamLoad(&readers_[0]) == 0 && SeamLoad(&readers_[1]) == 0;
  }

  // Before callbacks run: after their queuers and after every section ended.
  void AcquireForCallbacks() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    HappensBeforeAcquire(&pending_);
    HappensBeforeAcquire(&readers_[0]);
    HappensBeforeAcquire(&readers_[1]);
  }

  static void RunCallbacks(Callback* cb) {
    while (cb != nullptr) {
      Callback* next = SeamLoad(&cb->next);
      cb->fn(cb);
      cb = next;
    }
  }

  Mutex sync_mu_;  // serializes Synchronize() callers
  // Orders nothing (see the class comment); the fields it guards are read and
  // written through SeamLoad/SeamStore, so the race detector, which no longer
  // sees them ordered, does not take them for the code under test's.
  Mutex mu_{Mutex::kNoHappensBefore};
  int current_ ABSL_GUARDED_BY(mu_) = 0;
  long readers_[2] ABSL_GUARDED_BY(mu_) = {0, 0};
  Callback* pending_ ABSL_GUARDED_BY(mu_) = nullptr;
  WaitQueue drained_;
};

// Holds a read-side section for its scope.
class ReadSection {
 public:
  explicit ReadSection(ReadSide* rs) : rs_(rs), idx_(rs->Lock()) {}
  ~ReadSection() { rs_->Unlock(idx_); }
  ReadSection(const ReadSection&) = delete;
  ReadSection& operator=(const ReadSection&) = delete;

 private:
  ReadSide* const rs_;
  const int idx_;
};

}  // namespace nf::sync

#endif  // NF_SYNC_SYNC_H_
