// sync/sync_std.h: the real-thread flavour of the sync seam (see sync/sync.h).
// Include sync/sync.h, not this file.
//
// Built on std::mutex, std::condition_variable and std::atomic, deliberately not on
// Abseil's mutex: the Abseil we build against is not TSan-instrumented and gives false
// race reports (see the README section on why the seam avoids it).
#ifndef NF_SYNC_SYNC_STD_H_
#define NF_SYNC_SYNC_STD_H_

#if !defined(NF_SYNC_SYNC_H_)
#error "include sync/sync.h, not sync/sync_std.h"
#endif

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>

#include "absl/base/thread_annotations.h"

namespace nf::sync {

inline constexpr bool kDeterministic = false;

// The lock class and the caller's file and line are for the deterministic
// flavour's lock-order detector (sync_sched.h); ignored here.
class ABSL_LOCKABLE Mutex {
 public:
  struct NoHappensBefore {};
  static constexpr NoHappensBefore kNoHappensBefore{};

  Mutex() = default;
  explicit Mutex(const char* /*lock_class*/) {}
  explicit Mutex(NoHappensBefore) {}
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void Lock(const char* /*file*/ = nullptr, int /*line*/ = 0) ABSL_EXCLUSIVE_LOCK_FUNCTION() {
    mu_.lock();
  }
  void Unlock() ABSL_UNLOCK_FUNCTION() { mu_.unlock(); }
  bool TryLock(const char* /*file*/ = nullptr, int /*line*/ = 0)
      ABSL_EXCLUSIVE_TRYLOCK_FUNCTION(true) {
    return mu_.try_lock();
  }
  // Tells the analysis the lock is held; checks nothing at run time.
  void AssertHeld() const ABSL_ASSERT_EXCLUSIVE_LOCK() {}

 private:
  std::mutex mu_;
};

// A lockdep map: only the deterministic flavour's lock-order detector reads it
// (sync_sched.h); nothing here.
class LockMap {
 public:
  explicit constexpr LockMap(const char* /*name*/) {}
  LockMap(const LockMap&) = delete;
  LockMap& operator=(const LockMap&) = delete;
  void Acquire(bool /*trylock*/ = false, const char* /*file*/ = nullptr, int /*line*/ = 0) {}
  void Release() {}
  void AcquireRelease(const char* /*file*/ = nullptr, int /*line*/ = 0) {}
};

// WaitUntil reads a generation counter under the queue's mutex, evaluates cond()
// without it, then sleeps only while the generation is unchanged; WakeAll bumps
// the generation under the same mutex. The mutex orders the two, so no wakeup is
// lost: either the wake's critical section came before the read, and cond()
// (evaluated after it) sees the change, or it came after, and the sleep ends.
//
// WakeAll always takes the mutex. A lock-free "no waiter" check would need a
// store-load fence on the waker's side, which costs more than this uncontended
// lock on x86 (an mfence: about 19 ns on these machines, against 3 ns for a lock
// and unlock), and which ThreadSanitizer does not model. Callers that wake often
// and rarely have waiters skip the call themselves, under their own lock (see
// AddressSpace::IntervalInvalidateEnd).
class WaitQueue {
 public:
  WaitQueue() = default;
  WaitQueue(const WaitQueue&) = delete;
  WaitQueue& operator=(const WaitQueue&) = delete;

  template <typename Cond>
  void WaitUntil(Cond cond) {
    if (cond()) return;
    for (;;) {
      uint64_t seen;
      {
        std::lock_guard<std::mutex> g(mu_);
        seen = generation_;
      }
      if (cond()) return;
      std::unique_lock<std::mutex> lk(mu_);
      cv_.wait(lk, [&] { return generation_ != seen; });
    }
  }

  void WakeAll() {
    // Notify under the lock: a waiter that returns may destroy this queue.
    std::lock_guard<std::mutex> g(mu_);
    ++generation_;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t generation_ = 0;
};

template <typename T>
class Atomic {
 public:
  constexpr Atomic() : v_() {}
  constexpr explicit Atomic(T v) : v_(v) {}
  Atomic(const Atomic&) = delete;
  Atomic& operator=(const Atomic&) = delete;

  T Load(std::memory_order o = std::memory_order_seq_cst) const { return v_.load(o); }
  void Store(T v, std::memory_order o = std::memory_order_seq_cst) { v_.store(v, o); }
  T Exchange(T v) { return v_.exchange(v); }
  T FetchAdd(T d) { return v_.fetch_add(d); }
  T FetchSub(T d) { return v_.fetch_sub(d); }

 private:
  std::atomic<T> v_;
};

inline void YieldPoint(const char* /*name*/) {}

// The deterministic flavour's race-detector edges (sync_sched.h); here the
// std::mutex itself orders, as TSan sees it.
inline void HappensBeforeRelease(const void* /*obj*/) {}
inline void HappensBeforeAcquire(const void* /*obj*/) {}

inline ThreadLocalBlock& CurrentThreadBlock() {
  thread_local ThreadLocalBlock block;
  return block;
}

}  // namespace nf::sync

#endif  // NF_SYNC_SYNC_STD_H_
