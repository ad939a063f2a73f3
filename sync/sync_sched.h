// sync/sync_sched.h: the deterministic flavour of the sync seam (see sync/sync.h),
// chosen with NF_SYNC_SCHED. Include sync/sync.h, not this file.
//
// Logical threads are fibers of sync/scheduler.h, all on one OS thread,
// and only one runs at a time. Every primitive operation below is a yield point:
// the scheduler may switch to another runnable thread there, as the schedule
// input dictates. Between two yield points a thread runs alone, so the
// primitives' own state needs no atomics. Every interleaving the scheduler
// produces is sequentially consistent, so memory orders do not change values;
// they do change happens-before, which the race detector tracks.
//
// HAPPENS-BEFORE. Each primitive reports what it did to the scheduler
// (LockAcquired/LockReleased, MarkedLoad/MarkedStore/MarkedRmw with the order
// passed; a WaitQueue wake is seen by the scheduler's WakeAll), and the
// scheduler's race detector (race_detector.h) alone decides what that orders.
// The primitives' own fields are touched only through SeamLoad/SeamStore, which
// the load/store instrumentation of the code under test never sees (so a
// Mutex's owner, read unlocked by design, is not a race of the core's).
//
// Blocking is real. A thread that finds a Mutex held, or whose WaitUntil
// condition is false, blocks: it is not runnable until Unlock() or WakeAll()
// wakes it. If no thread can run while some are blocked, the scheduler ends the
// run and reports a deadlock (or lost wakeup) with every thread's position.
//
// With no scheduler running (plain calls from an OS thread, e.g. a unit test of
// the core built in this flavour) yield points are no-ops, and anything that
// would block is a hard failure with a message: it could never be woken.
//
// Misuse is a hard failure (message, abort), in and out of a run: unlocking a
// mutex the caller does not hold, locking one it already holds, AssertHeld() on
// a mutex the caller does not hold (this flavour checks what sync_std.h's only
// tells the analysis).
//
// The hooks below are implemented in sync/scheduler.cc (nf_sched, this library).
// Yield point names must be string literals (the trace keeps the pointer).
#ifndef NF_SYNC_SYNC_SCHED_H_
#define NF_SYNC_SYNC_SCHED_H_

#if !defined(NF_SYNC_SYNC_H_)
#error "include sync/sync.h, not sync/sync_sched.h"
#endif

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "absl/base/thread_annotations.h"

namespace nf::sync {

inline constexpr bool kDeterministic = true;

namespace sched_hooks {

// A decision point named `point`. No-op outside a run.
void Yield(const char* point);
// Blocks the calling thread on `key` (any address identifying the wait) until
// WakeAll(key). Hard failure outside a run.
void Block(const void* key, const char* point);
// Makes every thread blocked on `key` runnable. Does not yield. No-op outside a
// run or when nobody waits.
void WakeAll(const void* key);
// The calling logical thread's block: the running fiber's, or the OS thread's own
// outside a run.
ThreadLocalBlock& Current();
// A nonzero token naming the calling logical thread, unique across runs (a thread
// of a later run never matches a holder left behind by an abandoned one).
uint64_t OwnerToken();
// Prints `what` and the calling thread's position, then aborts.
[[noreturn]] void Fail(const char* what);

// Reports for the race detector (no-ops outside a run or without detection).
// A lock (any address naming it) was acquired / is being released. A lock
// that `orders` nothing (Mutex::kNoHappensBefore) is still seen by explore's
// dependence tracking, not by the race detector.
void LockAcquired(const void* lock, bool orders = true);
void LockReleased(const void* lock, bool orders = true);
// A release to obj that accumulates (obj's clock joins the caller's), and an
// acquire of obj: happens-before for what the detector does not see as a lock
// or an atomic (HappensBeforeRelease below).
void HbRelease(const void* obj);
void HbAcquire(const void* obj);
// Names a lock for race reports ("t1 held a lock t0 did not (NAME)"); `name`
// must outlive the run (a string literal).
void NameLock(const void* lock, const char* name);
// A marked (atomic) access of `size` bytes at obj with the given order; an
// RMW is always acq_rel. Ends the run if the access races with a plain one.
// `pc`: the code location the report names (a return address into the code
// under test, e.g. the kernel shim's READ_ONCE passes its caller's); 0: the
// hook's caller.
void MarkedLoad(const void* obj, size_t size, std::memory_order order, uintptr_t pc = 0);
void MarkedStore(const void* obj, size_t size, std::memory_order order, uintptr_t pc = 0);
void MarkedRmw(const void* obj, size_t size, uintptr_t pc = 0);

// Reports for the lock-order detector (lock_order.h; no-ops outside a run or
// without detection, and for a null lock_class). Neither is a yield point.
// Thread t is taking (trylock: has taken, without waiting) `lock` of class
// `lock_class`, at file:line or, where file is null, at the return address pc.
// Ends the run if the acquisition closes a cycle of lock classes.
void LockOrderAcquire(const void* lock, const char* lock_class, bool trylock, const char* file,
                      int line, uintptr_t pc);
void LockOrderRelease(const void* lock);

}  // namespace sched_hooks

// A mutex made with a lock class (a string literal naming what kind of lock it
// is, e.g. "driver.user_lock") takes part in lock-order detection (lock_order.h);
// one made without is not tracked. Lock's file and line default to its caller's.
// One made with kNoHappensBefore orders nothing for the race detector: the
// internal lock of a primitive whose users it must not order (ReadSide's: SRCU
// readers do not order one another), which then reports its own edges.
class ABSL_LOCKABLE Mutex {
 public:
  struct NoHappensBefore {};
  static constexpr NoHappensBefore kNoHappensBefore{};

  Mutex() = default;
  explicit constexpr Mutex(const char* lock_class) : class_(lock_class) {}
  explicit constexpr Mutex(NoHappensBefore) : orders_(false) {}
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  // Yields, then blocks while another thread holds the mutex.
  void Lock(const char* file = __builtin_FILE(), int line = __builtin_LINE())
      ABSL_EXCLUSIVE_LOCK_FUNCTION() {
    sched_hooks::Yield("mutex.lock");
    const uint64_t self = sched_hooks::OwnerToken();
    if (SeamLoad(&owner_) == self) {
      sched_hooks::Fail("Mutex::Lock: the calling thread already holds it");
    }
    if (class_ != nullptr) sched_hooks::LockOrderAcquire(this, class_, false, file, line, 0);
    while (SeamLoad(&owner_) != 0) sched_hooks::Block(&owner_, "mutex.lock");
    SeamStore(&owner_, self);
    sched_hooks::LockAcquired(this, orders_);
  }

  // Releases, wakes every blocked locker (the schedule decides who gets it),
  // then yields. Touches nothing of *this after the wake.
  void Unlock() ABSL_UNLOCK_FUNCTION() {
    if (SeamLoad(&owner_) != sched_hooks::OwnerToken()) {
      sched_hooks::Fail("Mutex::Unlock: the calling thread does not hold it");
    }
    sched_hooks::LockReleased(this, orders_);
    if (class_ != nullptr) sched_hooks::LockOrderRelease(this);
    SeamStore<uint64_t>(&owner_, 0);
    sched_hooks::WakeAll(&owner_);
    sched_hooks::Yield("mutex.unlock");
  }

  // Yields; never blocks.
  bool TryLock(const char* file = __builtin_FILE(), int line = __builtin_LINE())
      ABSL_EXCLUSIVE_TRYLOCK_FUNCTION(true) {
    sched_hooks::Yield("mutex.trylock");
    if (SeamLoad(&owner_) != 0) return false;
    SeamStore(&owner_, sched_hooks::OwnerToken());
    sched_hooks::LockAcquired(this, orders_);
    if (class_ != nullptr) sched_hooks::LockOrderAcquire(this, class_, true, file, line, 0);
    return true;
  }

  // Checks that the calling thread holds the mutex (not a yield point).
  void AssertHeld() const ABSL_ASSERT_EXCLUSIVE_LOCK() {
    if (SeamLoad(&owner_) != sched_hooks::OwnerToken()) {
      sched_hooks::Fail("Mutex::AssertHeld: the calling thread does not hold it");
    }
  }

 private:
  // The holder's OwnerToken(), 0 when free. Its address is the key blocked
  // lockers wait on.
  uint64_t owner_ = 0;
  const char* const class_ = nullptr;  // the lock class, or null: not tracked
  const bool orders_ = true;           // false: kNoHappensBefore
};

// Happens-before edges of a primitive built on a kNoHappensBefore mutex:
// a release to obj that accumulates (every thread released to obj is ordered
// before a later acquire of obj), and that acquire.
inline void HappensBeforeRelease(const void* obj) { sched_hooks::HbRelease(obj); }
inline void HappensBeforeAcquire(const void* obj) { sched_hooks::HbAcquire(obj); }

// A lockdep map (the kernel's struct lockdep_map, e.g.
// __mmu_notifier_invalidate_range_start_map): no lock at all, only an
// annotation for the lock-order detector (lock_order.h) that a region (an
// invalidation's callbacks) is "held" by whoever runs it, and that a wait for
// that region (read_begin, remove) "acquires" it. Nothing here yields, blocks or
// orders memory.
class LockMap {
 public:
  explicit constexpr LockMap(const char* name) : name_(name) {}
  LockMap(const LockMap&) = delete;
  LockMap& operator=(const LockMap&) = delete;

  // The region begins (trylock: one that waits for nothing, a non-blocking
  // invalidation) / ends.
  void Acquire(bool trylock = false, const char* file = __builtin_FILE(),
               int line = __builtin_LINE()) {
    sched_hooks::LockOrderAcquire(this, name_, trylock, file, line, 0);
  }
  void Release() { sched_hooks::LockOrderRelease(this); }
  // Before a wait for the region: lock_map_acquire then lock_map_release.
  void AcquireRelease(const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
    sched_hooks::LockOrderAcquire(this, name_, false, file, line, 0);
    sched_hooks::LockOrderRelease(this);
  }

 private:
  const char* const name_;
};

// Happens-before: a WakeAll orders the waker, up to the wake, before each thread
// it wakes from a block (the scheduler's wake edge). A waiter whose cond() is
// already true gets no edge from the queue (as the kernel's wait_event), only
// from whatever cond() synchronizes with.
//
// No lost wakeups: the generation is read before cond() runs (cond may yield,
// e.g. by taking a lock), and a waiter whose cond() is false blocks only if no
// WakeAll() bumped the generation meanwhile. Between that check and the block
// there is no yield point, so no WakeAll can slip in.
class WaitQueue {
 public:
  WaitQueue() = default;
  WaitQueue(const WaitQueue&) = delete;
  WaitQueue& operator=(const WaitQueue&) = delete;

  template <typename Cond>
  void WaitUntil(Cond cond) {
    sched_hooks::Yield("waitqueue.wait");
    for (;;) {
      const uint64_t seen = SeamLoad(&generation_);
      if (cond()) return;
      if (SeamLoad(&generation_) == seen) sched_hooks::Block(&generation_, "waitqueue.wait");
    }
  }

  // Makes every waiter runnable (each re-evaluates its cond), then yields.
  // Touches nothing of *this after the wake: a woken waiter may destroy it.
  void WakeAll() {
    SeamStore(&generation_, SeamLoad(&generation_) + 1);
    sched_hooks::WakeAll(&generation_);
    sched_hooks::Yield("waitqueue.wake_all");
  }

 private:
  uint64_t generation_ = 0;  // bumped by every WakeAll; its address is the key
};

// A plain value; every operation is a yield point, then happens at once, and is
// reported as a marked access with its order (acquire and seq_cst loads acquire,
// release and seq_cst stores release, relaxed orders nothing; Exchange, FetchAdd
// and FetchSub are seq_cst).
template <typename T>
class Atomic {
 public:
  constexpr Atomic() : v_() {}
  constexpr explicit Atomic(T v) : v_(v) {}
  Atomic(const Atomic&) = delete;
  Atomic& operator=(const Atomic&) = delete;

  T Load(std::memory_order order = std::memory_order_seq_cst) const {
    sched_hooks::Yield("atomic.load");
    sched_hooks::MarkedLoad(&v_, sizeof(T), order);
    return SeamLoad(&v_);
  }
  void Store(T v, std::memory_order order = std::memory_order_seq_cst) {
    sched_hooks::Yield("atomic.store");
    sched_hooks::MarkedStore(&v_, sizeof(T), order);
    SeamStore(&v_, v);
  }
  T Exchange(T v) {
    sched_hooks::Yield("atomic.exchange");
    sched_hooks::MarkedRmw(&v_, sizeof(T));
    const T old = SeamLoad(&v_);
    SeamStore(&v_, v);
    return old;
  }
  T FetchAdd(T d) {
    sched_hooks::Yield("atomic.fetch_add");
    sched_hooks::MarkedRmw(&v_, sizeof(T));
    const T old = SeamLoad(&v_);
    SeamStore(&v_, Add(old, d, false));
    return old;
  }
  T FetchSub(T d) {
    sched_hooks::Yield("atomic.fetch_sub");
    sched_hooks::MarkedRmw(&v_, sizeof(T));
    const T old = SeamLoad(&v_);
    SeamStore(&v_, Add(old, d, true));
    return old;
  }

 private:
  // Integers wrap around, as std::atomic's fetch_add does.
  static T Add(T a, T b, bool subtract) {
    if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
      using U = std::make_unsigned_t<T>;
      const U r = subtract ? static_cast<U>(static_cast<U>(a) - static_cast<U>(b))
                           : static_cast<U>(static_cast<U>(a) + static_cast<U>(b));
      return static_cast<T>(r);
    } else {
      return subtract ? a - b : a + b;
    }
  }

  T v_;
};

inline void YieldPoint(const char* name) { sched_hooks::Yield(name); }

inline ThreadLocalBlock& CurrentThreadBlock() { return sched_hooks::Current(); }

}  // namespace nf::sync

#endif  // NF_SYNC_SYNC_SCHED_H_
