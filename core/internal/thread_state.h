// core/internal/thread_state.h: the notifier core's per logical thread
// bookkeeping, kept in the sync seam's ThreadLocal storage (a fiber's own under
// the deterministic scheduler, an OS thread's own otherwise). Private to core/.
#ifndef NF_CORE_INTERNAL_THREAD_STATE_H_
#define NF_CORE_INTERNAL_THREAD_STATE_H_

#include "sync/sync.h"

namespace nf::internal {

// What the core's misuse diagnostics need to know about the calling thread.
struct ThreadState {
  // > 0 while a notifier callback (interval invalidate, classic start, end or
  // release) is running on this thread.
  int callback_depth;
  // Successful InvalidateRangeStart calls of this thread not yet ended.
  int open_invalidations;
};

inline ThreadState& CurrentThreadState() {
  static const sync::ThreadLocal<ThreadState> state;
  return state.Get();
}

// Marks the calling thread as running a notifier callback for its scope, and
// gives the scheduler a switch point on entry and on exit.
class CallbackScope {
 public:
  CallbackScope() {
    sync::YieldPoint("callback.enter");
    ++CurrentThreadState().callback_depth;
  }
  ~CallbackScope() {
    --CurrentThreadState().callback_depth;
    sync::YieldPoint("callback.exit");
  }
  CallbackScope(const CallbackScope&) = delete;
  CallbackScope& operator=(const CallbackScope&) = delete;
};

inline bool InCallback() { return CurrentThreadState().callback_depth > 0; }

}  // namespace nf::internal

#endif  // NF_CORE_INTERNAL_THREAD_STATE_H_
