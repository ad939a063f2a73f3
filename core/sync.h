// core/sync.h: the one synchronization seam of the notifier core.
//
// The core never names a concrete primitive (no std::mutex, no std::atomic, no
// thread_local). Everything it synchronizes with comes from this header, so the
// same core source runs in two flavours, chosen at compile time:
//
//   real threads (default)       core/sync_std.h, on std::mutex,
//                                std::condition_variable and std::atomic. Used by
//                                the unit tests, the TSan stress tests, the TSan
//                                replay and the benchmarks.
//   deterministic (NF_SYNC_SCHED) core/sync_sched.h: cooperative fibers on one OS
//                                thread, run by fuzzers/sched/. Every primitive
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
//   CurrentThread()      The calling logical thread's ThreadState (a fiber's own
//                        under the scheduler).
//
// On top of those, this header builds the pieces both flavours share: MutexLock,
// CallbackScope and ReadSide (the SRCU-like read side of the classic subscribers).
#ifndef NF_CORE_SYNC_H_
#define NF_CORE_SYNC_H_

#include <cstdint>

#include "absl/base/thread_annotations.h"

namespace nf::sync {

// Per logical thread bookkeeping used by the core for its misuse diagnostics.
struct ThreadState {
  // > 0 while a notifier callback (interval invalidate, classic start, end or
  // release) is running on this thread.
  int callback_depth = 0;
  // Successful InvalidateRangeStart calls of this thread not yet ended.
  int open_invalidations = 0;
};

}  // namespace nf::sync

#if defined(NF_SYNC_SCHED)
#include "core/sync_sched.h"
#else
#include "core/sync_std.h"
#endif

namespace nf::sync {

// Holds a Mutex for its scope.
class ABSL_SCOPED_LOCKABLE MutexLock {
 public:
  explicit MutexLock(Mutex* mu) ABSL_EXCLUSIVE_LOCK_FUNCTION(mu) : mu_(mu) {
    mu_->Lock();
  }
  ~MutexLock() ABSL_UNLOCK_FUNCTION() { mu_->Unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex* const mu_;
};

// Marks the calling thread as running a notifier callback for its scope, and
// gives the scheduler a switch point on entry and on exit.
class CallbackScope {
 public:
  CallbackScope() {
    YieldPoint("callback.enter");
    ++CurrentThread().callback_depth;
  }
  ~CallbackScope() {
    --CurrentThread().callback_depth;
    YieldPoint("callback.exit");
  }
  CallbackScope(const CallbackScope&) = delete;
  CallbackScope& operator=(const CallbackScope&) = delete;
};

inline bool InCallback() { return CurrentThread().callback_depth > 0; }

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
    const int idx = current_;
    ++readers_[idx];
    return idx;
  }

  void Unlock(int idx) {
    Callback* ready = nullptr;
    bool drained;
    {
      MutexLock l(&mu_);
      drained = --readers_[idx] == 0;
      if (readers_[0] == 0 && readers_[1] == 0) {
        ready = pending_;
        pending_ = nullptr;
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
      old = current_;
      current_ ^= 1;
    }
    drained_.WaitUntil([this, old] {
      MutexLock l(&mu_);
      return readers_[old] == 0;
    });
  }

  // Runs cb->fn(cb) after a grace period. Never blocks; safe inside a section.
  void CallAfterGracePeriod(Callback* cb) {
    {
      MutexLock l(&mu_);
      if (readers_[0] != 0 || readers_[1] != 0) {
        cb->next = pending_;
        pending_ = cb;
        return;
      }
    }
    cb->next = nullptr;
    RunCallbacks(cb);
  }

  // Number of callbacks queued and not yet run (for oracles).
  int PendingCallbacks() {
    MutexLock l(&mu_);
    int n = 0;
    for (Callback* c = pending_; c != nullptr; c = c->next) ++n;
    return n;
  }

 private:
  static void RunCallbacks(Callback* cb) {
    while (cb != nullptr) {
      Callback* next = cb->next;
      cb->fn(cb);
      cb = next;
    }
  }

  Mutex sync_mu_;  // serializes Synchronize() callers
  Mutex mu_;
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

#endif  // NF_CORE_SYNC_H_
