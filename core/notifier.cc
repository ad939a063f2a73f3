// core/notifier.cc: see core/notifier.h for the states, the seq table, the
// locking rule and the guarantees; § refers to docs/contract.md.
//
// Build-time mutants (docs/bugs.md) live here only, each behind
// `#if defined(NF_MUTANT_<name>)` at the one place the historical bug was. The
// default build compiles none of them.
#include "core/notifier.h"

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <string>
#include <utility>

#include "absl/strings/str_format.h"
#include "core/internal/thread_state.h"

namespace nf {
namespace {

bool IsOdd(Seq s) { return (s & 1) != 0; }

// The kernel's lockdep map __mmu_notifier_invalidate_range_start_map, for the
// deterministic flavour's lock-order detector (sync/lock_order.h; nothing in
// the real-thread flavour): an invalidation's start "holds" it across its
// callbacks, and read_begin and remove "acquire" it before they wait for an
// invalidation, so a driver that holds a lock around them which its own
// callback takes is a cycle (P11). A non-blocking start and an end take it as
// a trylock: neither waits for anything (lock_order.h).
sync::LockMap g_invalidate_start_map{"mmu_notifier_invalidate_range_start"};

class InvalidateStartMapHeld {
 public:
  explicit InvalidateStartMapHeld(bool trylock, const char* file = __builtin_FILE(),
                                  int line = __builtin_LINE()) {
    g_invalidate_start_map.Acquire(trylock, file, line);
  }
  ~InvalidateStartMapHeld() { g_invalidate_start_map.Release(); }
  InvalidateStartMapHeld(const InvalidateStartMapHeld&) = delete;
  InvalidateStartMapHeld& operator=(const InvalidateStartMapHeld&) = delete;
};

}  // namespace


// §1 Subscriptions (the kernel's mmu_notifier_subscriptions): created by the
// first registration, freed with the address space.
struct AddressSpace::Subscriptions {
  explicit Subscriptions(Seq initial_seq) : invalidate_seq(initial_seq) {}

  // The short lock of §1. Never held across a callback or a wait. Its lock
  // class is the kernel's name for it (sync/lock_order.h).
  sync::Mutex lock{"&subscriptions->lock"};
  // Written only under `lock`; read without it by ReadBegin's wait (a stale
  // value there only delays the wake-up, which WakeAll re-evaluates).
  sync::Atomic<Seq> invalidate_seq;
  long active ABSL_GUARDED_BY(lock) = 0;  // active_invalidate_ranges
  // Modified only under `lock` and only while invalidate_seq is even; read
  // without `lock` by a walk, which runs only while invalidate_seq is odd.
  internal::IntervalTree itree ABSL_GUARDED_BY(lock);
  // Inserts and removes requested while the seq was odd (LIFO, like hlist_add_head).
  IntervalSubscription* deferred ABSL_GUARDED_BY(lock) = nullptr;
  // Waiters in ReadBegin and RemoveInterval; woken when an odd epoch ends.
  sync::WaitQueue wq;
  // Set, under `lock`, by a thread that is about to wait on `wq` for the odd
  // epoch to end; the end that closes the epoch (also under `lock`) wakes `wq`
  // only if it is set. Most epochs have no waiter, and a wake costs a lock.
  bool epoch_waiters ABSL_GUARDED_BY(lock) = false;
  // The classic subscribers: written under `lock`, read under `srcu`.
  sync::Atomic<ClassicSubscription*> list_head{nullptr};
  sync::ReadSide srcu;
};

// ---------------------------------------------------------------------------
// Diagnostics.

void AddressSpace::Warn(Warning w, std::string_view detail) {
  warnings_[static_cast<int>(w)].FetchAdd(1);
  if (options_.warn) {
    options_.warn(w, detail);
  } else {
    std::fprintf(stderr, "nf: WARNING %s: %.*s\n", std::string(WarningName(w)).c_str(),
                 static_cast<int>(detail.size()), detail.data());
  }
}

void AddressSpace::HardFailure(Warning w, std::string_view detail) {
  Warn(w, detail);
  std::fprintf(stderr, "nf: fatal misuse (%s): %.*s\n", std::string(WarningName(w)).c_str(),
               static_cast<int>(detail.size()), detail.data());
  std::abort();
}

// ---------------------------------------------------------------------------
// Users and references.

AddressSpace* AddressSpace::Create(AddressSpaceOptions options) {
  return new AddressSpace(std::move(options));
}

AddressSpace::AddressSpace(AddressSpaceOptions options) : options_(std::move(options)) {
  if (IsOdd(options_.testing_only_initial_seq)) {
    std::fprintf(stderr, "nf: testing_only_initial_seq must be even\n");
    std::abort();
  }
}

AddressSpace::~AddressSpace() { delete subscriptions_.Load(); }

void AddressSpace::GetUser() {
  bool dead;
  {
    sync::MutexLock l(&users_mu_);
    dead = users_ == 0;
    if (!dead) ++users_;
  }
  if (dead) HardFailure(Warning::kUserAfterExit, "GetUser after the last user exited");
}

bool AddressSpace::TryGetUser() {
  sync::MutexLock l(&users_mu_);
  if (users_ == 0) return false;
  ++users_;
  return true;
}

bool AddressSpace::HasUsers() {
  sync::MutexLock l(&users_mu_);
  return users_ > 0;
}

void AddressSpace::PutUser() {
  bool last;
#if defined(NF_MUTANT_put_user_unlocked)
  // Mutant: the decrement without users_mu_. No yield point falls inside it, so
  // under the deterministic scheduler every value is as in the correct core;
  // only happens-before tells it apart (P10).
  last = [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return --users_ == 0; }();
#else
  {
    sync::MutexLock l(&users_mu_);
    last = --users_ == 0;
  }
#endif
  if (last) {
    ReleaseNotifiers();
    Drop();
  }
}

void AddressSpace::Grab() { refs_.FetchAdd(1); }

void AddressSpace::Drop() {
  if (refs_.FetchSub(1) == 1) delete this;
}

// ---------------------------------------------------------------------------
// The exclusion between invalidations and registration. Reader-preferring: a
// waiting registration does not stop new (or nested) invalidations.

// A thread that finds it must wait says so (exclusion_waiters_, under the lock)
// before WaitUntil reads the queue's generation again, so an end that sees no
// waiter can skip the wake: the common case, an invalidation with no
// registration anywhere near, then costs no wake-up at all.

void AddressSpace::BeginInvalidation() {
  exclusion_wq_.WaitUntil([this] {
    sync::MutexLock l(&exclusion_mu_);
    if (registering_) {
      exclusion_waiters_ = true;
      return false;
    }
    ++running_invalidations_;
    return true;
  });
}

void AddressSpace::EndInvalidationExclusion() {
  bool wake;
  {
    sync::MutexLock l(&exclusion_mu_);
    wake = --running_invalidations_ == 0 && exclusion_waiters_;
    if (wake) exclusion_waiters_ = false;
  }
  if (wake) exclusion_wq_.WakeAll();
}

void AddressSpace::BeginRegistration() {
  exclusion_wq_.WaitUntil([this] {
    sync::MutexLock l(&exclusion_mu_);
    if (registering_ || running_invalidations_ > 0) {
      exclusion_waiters_ = true;
      return false;
    }
    registering_ = true;
    return true;
  });
}

void AddressSpace::EndRegistration() {
  {
    sync::MutexLock l(&exclusion_mu_);
    registering_ = false;
    exclusion_waiters_ = false;
  }
  exclusion_wq_.WakeAll();
}

// ---------------------------------------------------------------------------
// §2 Interval subscriptions.

IntervalSubscription::~IntervalSubscription() {
  if (space_ != nullptr) {
    std::fprintf(stderr, "nf: fatal: an interval subscription was destroyed while inserted\n");
    std::abort();
  }
}

Seq IntervalSubscription::ReadBegin() {
  if (space_ == nullptr) {
    std::fprintf(stderr, "nf: fatal: ReadBegin on a subscription that is not inserted\n");
    std::abort();
  }
  return space_->ReadBegin(this);
}

void IntervalSubscription::SetSeq(Seq cur_seq) {
  if (!IsOdd(cur_seq)) {
    if (space_ != nullptr) space_->Warn(Warning::kSetSeqEven, "SetSeq with an even seq");
    return;
  }
#if defined(NF_MUTANT_skip_set_seq) || defined(NF_MUTANT_set_seq_outside_lock) || \
    defined(NF_EXPERIMENT_v1_set_seq_before_callback)
  // Mutants: the driver's store does not happen (skip_set_seq), or the core made it
  // itself, outside the driver's lock (set_seq_outside_lock and the v1
  // experiment, see Walk).
  return;
#endif
#if defined(NF_MUTANT_set_seq_plain)
  // Mutant: the store is plain (the kernel's WRITE_ONCE dropped). The yield point
  // of Atomic::Store is kept, so the schedules and every value are those of the
  // correct core; the lockless readers of seq_ (ReadBegin under `lock`,
  // CheckRetry, the oracles) now race with it (P10).
  sync::YieldPoint("atomic.store");
  *reinterpret_cast<Seq*>(&seq_) = cur_seq;
#else
  seq_.Store(cur_seq, std::memory_order_release);  // ordered by the user lock
#endif
}

absl::Status AddressSpace::InsertInterval(IntervalSubscription* sub, uint64_t start,
                                          uint64_t length, const IntervalOps* ops) {
  uint64_t last;
  if (length == 0) return absl::OutOfRangeError("interval of length 0");
  if (__builtin_add_overflow(start, length - 1, &last)) {
    return absl::OutOfRangeError(
        absl::StrFormat("interval 0x%x+0x%x overflows the address space", start, length));
  }
  if (ops == nullptr || ops->invalidate == nullptr) {
    return absl::InvalidArgumentError("interval ops without an invalidate callback");
  }
  if (sub->space_ != nullptr) {
    Warn(Warning::kInsertTwice, "InsertInterval of a subscription already inserted");
    return absl::AlreadyExistsError("subscription already inserted");
  }
  if (!HasUsers()) return absl::FailedPreconditionError("address space has no live users");
  if (subscriptions_.Load() == nullptr || !has_itree_.Load()) {
    absl::Status st = RegisterClassic(nullptr);
    if (!st.ok()) return st;
  }
  Subscriptions* s = subscriptions_.Load();

  sub->IntervalNode::start = start;
  sub->IntervalNode::last = last;
  sub->space_ = this;
  sub->deferred_next_ = nullptr;
#if !defined(NF_MUTANT_ops_after_insert)
  sub->ops_ = ops;  // before any walk can see the subscription
#endif
  Grab();
  {
    sync::MutexLock l(&s->lock);
    const Seq global = s->invalidate_seq.Load();
    if (s->active > 0) {
      if (IsOdd(global)) {
        // Full exclusion: the tree is frozen; the last end inserts it.
        sub->deferred_next_ = s->deferred;
        s->deferred = sub;
        sub->state_ = IntervalSubscription::State::kDeferredInsert;
      } else {
        // Partial exclusion: a running invalidation may cover the new range, so
        // open an odd epoch; the new subscription sees a collision until it ends.
        s->invalidate_seq.Store(global | 1, std::memory_order_release);
        s->itree.Insert(sub->node());
        sub->state_ = IntervalSubscription::State::kInTree;
      }
      sub->seq_.Store(s->invalidate_seq.Load(), std::memory_order_release);
    } else {
      s->itree.Insert(sub->node());
      sub->state_ = IntervalSubscription::State::kInTree;
      // Odd, and not equal to the global seq.
      sub->seq_.Store(global - 1, std::memory_order_release);
    }
  }
#if defined(NF_MUTANT_ops_after_insert)
  sync::YieldPoint("insert.ops");
  sub->ops_ = ops;  // mutant: the subscription was visible to walks without ops
#endif
  return absl::OkStatus();
}

void AddressSpace::RemoveInterval(IntervalSubscription* sub) {
  if (internal::InCallback()) {
    HardFailure(Warning::kRemoveFromCallback, "RemoveInterval inside a notifier callback");
  }
  Subscriptions* s = subscriptions_.Load();
  if (sub->space_ != this || s == nullptr) {
    Warn(Warning::kRemoveNotInserted, "RemoveInterval of a subscription not inserted here");
    return;
  }
  bool wait = false;
  bool misuse = false;
  Seq seq = 0;
  {
    sync::MutexLock l(&s->lock);
    using State = IntervalSubscription::State;
    if (sub->state_ == State::kDetached || sub->state_ == State::kDeferredRemove) {
      misuse = true;  // never inserted, or a remove of it is already waiting
    } else if (IsOdd(s->invalidate_seq.Load())) {
      if (sub->state_ == State::kDeferredInsert) {
        // Still a pending deferred insert: unlink it; nothing can call it.
        IntervalSubscription** link = &s->deferred;
        while (*link != sub) link = &(*link)->deferred_next_;
        *link = sub->deferred_next_;
        sub->deferred_next_ = nullptr;
        sub->state_ = State::kDetached;
      } else {
        // A walk may be calling it: the last end removes it; wait for that.
        sub->deferred_next_ = s->deferred;
        s->deferred = sub;
        sub->state_ = State::kDeferredRemove;
        seq = s->invalidate_seq.Load();
        wait = true;
        s->epoch_waiters = true;
      }
    } else {
      s->itree.Remove(sub->node());
      sub->state_ = State::kDetached;
    }
  }
  if (misuse) {
    Warn(Warning::kRemoveNotInserted, "RemoveInterval of a subscription not in the tree");
    return;
  }
  g_invalidate_start_map.AcquireRelease();  // may wait for an invalidation (lockdep)
  if (wait) s->wq.WaitUntil([this, s, seq] { return SeqReleased(s, seq); });
  sub->space_ = nullptr;
  Drop();
}

// True once the epoch `seq` has ended and its deferred work is applied. The seq
// must be read under the lock: the last end bumps it before it drains the
// deferred list, both under the lock (fix 319561669a59).
bool AddressSpace::SeqReleased(Subscriptions* s, Seq seq) {
#if defined(NF_MUTANT_remove_unlocked_wait)
  return s->invalidate_seq.Load() != seq;  // mutant: read without the lock
#else
  sync::MutexLock l(&s->lock);
  return s->invalidate_seq.Load() != seq;
#endif
}

Seq AddressSpace::ReadBegin(IntervalSubscription* sub) {
  if (internal::InCallback()) {
    HardFailure(Warning::kBlockingInCallback, "ReadBegin inside a notifier callback");
  }
  Subscriptions* s = subscriptions_.Load();
  Seq seq;
  bool invalidating;
  {
    sync::MutexLock l(&s->lock);
    seq = sub->seq_.Load();
    invalidating = seq == s->invalidate_seq.Load();
    if (invalidating) s->epoch_waiters = true;
  }
  // This subscription is being invalidated now: wait for the epoch to end. The
  // caller's ReadRetry then decides; no loop here.
  g_invalidate_start_map.AcquireRelease();  // may wait for an invalidation (lockdep)
  if (invalidating) s->wq.WaitUntil([s, seq] { return s->invalidate_seq.Load() != seq; });
  return seq;
}

// ---------------------------------------------------------------------------
// §3 Invalidation.

// The interval walk of §3.1 over the closed interval [first, last]. Callbacks run
// without the lock; the tree is frozen because the seq stays odd until the last
// end, and NextOverlap only reads.
absl::Status AddressSpace::Walk(Subscriptions* s, const Range& range, uint64_t first,
                                uint64_t last) {
  internal::IntervalNode* node = nullptr;
  Seq cur_seq;
  {
    sync::MutexLock l(&s->lock);
    ++s->active;
    if (first <= last) node = s->itree.FirstOverlap(first, last);
    if (node != nullptr) {
      s->invalidate_seq.Store(s->invalidate_seq.Load() | 1, std::memory_order_release);
    }
    cur_seq = s->invalidate_seq.Load();
  }
  for (; node != nullptr; node = internal::IntervalTree::NextOverlap(node, first, last)) {
    IntervalSubscription* sub = IntervalSubscription::FromNode(node);
    sync::YieldPoint("walk.next");
#if defined(NF_EXPERIMENT_v1_set_seq_before_callback)
    // Not a catalogue mutant: the v1 placement as it was (docs/bugs.md, "The
    // v1 set_seq question"), for ./nf explore --weak: the core stores the seq
    // with a relaxed store (the kernel's WRITE_ONCE) before the callback,
    // outside the user lock. Built only by hand (-DCMAKE_CXX_FLAGS=-D...).
    sub->seq_.Store(cur_seq, std::memory_order_relaxed);
#endif
    bool ok;
    {
      internal::CallbackScope in_callback;
      ok = sub->ops_->invalidate(sub, range, cur_seq);
    }
#if defined(NF_MUTANT_set_seq_outside_lock)
    // Mutant (v1 of the series): the core, not the driver under its user lock,
    // stores the seq. Stored before the callback this is benign under a
    // sequentially consistent interleaving (the callback's lock orders it); the
    // v1 race needs weak memory. Stored after the callback, as here, the store is
    // still outside the user lock and a fault can slip between the mirror
    // teardown and the store: the same bug, observable as P6.
    sub->seq_.Store(cur_seq);
#endif
    if (ok) continue;
    if (!range.blockable) {
#if !defined(NF_MUTANT_eagain_leaks_epoch)
      // §3.3: close the walk's epoch at once. If other invalidations are active
      // the odd epoch stays open until their last end (P8 gives back what this
      // start took; the parity is restored only when it was the last one).
      IntervalInvalidateEnd(s);
#endif
      return absl::UnavailableError("EAGAIN: interval callback could not block");
    }
    if (range.event == Event::kRelease) {
      Warn(Warning::kReleaseCallbackFailed, "interval callback returned false on RELEASE");
    } else {
      Warn(Warning::kBlockableCallbackFailed,
           "interval callback returned false on a blockable range");
    }
  }
  return absl::OkStatus();
}

// mn_itree_inv_end: the last end of an odd epoch makes the seq even, applies the
// deferred list, then wakes every waiter.
void AddressSpace::IntervalInvalidateEnd(Subscriptions* s) {
  bool wake;
  {
    sync::MutexLock l(&s->lock);
    --s->active;
    if (s->active > 0 || !IsOdd(s->invalidate_seq.Load())) return;
    s->invalidate_seq.Store(s->invalidate_seq.Load() + 1, std::memory_order_release);
    wake = s->epoch_waiters;
    s->epoch_waiters = false;
    using State = IntervalSubscription::State;
    while (IntervalSubscription* sub = s->deferred) {
      // The new seq is visible to lockless readers before the drain is done: a
      // switch point for the deterministic scheduler (a no-op on real threads),
      // where a reader that does not take the lock (remove_unlocked_wait) runs.
      sync::YieldPoint("end.drain");
      s->deferred = sub->deferred_next_;
      sub->deferred_next_ = nullptr;
      if (sub->state_ == State::kDeferredInsert) {
        s->itree.Insert(sub->node());
        sub->state_ = State::kInTree;
      } else {
        s->itree.Remove(sub->node());
        sub->state_ = State::kDetached;
      }
    }
  }
  if (wake) s->wq.WakeAll();
}

absl::Status AddressSpace::InvalidateRangeStart(const Range& range) {
  if (range.blockable) {
    BeginInvalidation();
  } else {
    // A non-blockable caller (the OOM reaper) only try-locks: it fails rather
    // than wait for a registration.
    sync::MutexLock l(&exclusion_mu_);
    if (registering_) return absl::UnavailableError("EAGAIN: registration in progress");
    ++running_invalidations_;
  }
  const InvalidateStartMapHeld map(/*trylock=*/!range.blockable);
  Subscriptions* s = subscriptions_.Load();
  if (s == nullptr) {
    ++internal::CurrentThreadState().open_invalidations;
    return absl::OkStatus();
  }
  const bool itree = has_itree_.Load();
  if (itree) {
    // [start, end) as a closed interval; an empty range (end <= start) overlaps
    // nothing, which Walk sees as first > last.
    const bool empty = range.end <= range.start;
    absl::Status st = Walk(s, range, empty ? 1 : range.start, empty ? 0 : range.end - 1);
    if (!st.ok()) {
      EndInvalidationExclusion();
      return st;
    }
  }
  if (!ClassicListEmpty(s)) {
    absl::Status st = ClassicInvalidateStart(s, range);
    if (!st.ok()) {
      // §3.3: the caller will not call end, so give back the interval epoch too.
      // (The kernel leaves it open here; the spec wins.)
      if (itree) IntervalInvalidateEnd(s);
      EndInvalidationExclusion();
      return st;
    }
  }
  ++internal::CurrentThreadState().open_invalidations;
  return absl::OkStatus();
}

void AddressSpace::InvalidateRangeEnd(const Range& range) {
  if (internal::CurrentThreadState().open_invalidations == 0) {
    Warn(Warning::kEndWithoutStart, "InvalidateRangeEnd without a successful start");
    return;
  }
  --internal::CurrentThreadState().open_invalidations;
  Subscriptions* s = subscriptions_.Load();
  if (s != nullptr) {
    const InvalidateStartMapHeld map(/*trylock=*/true);
    if (has_itree_.Load()) IntervalInvalidateEnd(s);
    if (!ClassicListEmpty(s)) ClassicInvalidateEnd(s, range);
  }
  EndInvalidationExclusion();
}

// ---------------------------------------------------------------------------
// §4 Classic subscribers.

bool AddressSpace::ClassicListEmpty(Subscriptions* s) { return s->list_head.Load() == nullptr; }

// hlist_del_init_rcu: readers standing on sub may still follow its next pointer.
void AddressSpace::Unlink(Subscriptions* s, ClassicSubscription* sub) {
  s->lock.AssertHeld();
  if (!sub->linked_) return;
  ClassicSubscription* next = sub->next_.Load();
  ClassicSubscription* p = s->list_head.Load();
  if (p == sub) {
    s->list_head.Store(next);
  } else {
    while (p->next_.Load() != sub) p = p->next_.Load();
    p->next_.Store(next);
  }
  sub->linked_ = false;
}

absl::Status AddressSpace::ClassicInvalidateStart(Subscriptions* s, const Range& range) {
  bool failed = false;
  sync::ReadSection section(&s->srcu);
  for (ClassicSubscription* sub = s->list_head.Load(); sub != nullptr; sub = sub->next_.Load()) {
    if (sub->ops_->invalidate_range_start == nullptr) continue;
    bool ok;
    {
      internal::CallbackScope in_callback;
      ok = sub->ops_->invalidate_range_start(sub, range);
    }
    if (ok) continue;
    if (range.blockable) {
      // A blockable caller never sees EAGAIN: warn and go on (as the interval side).
      Warn(Warning::kBlockableCallbackFailed,
           "classic invalidate_range_start failed on a blockable range");
    } else {
      failed = true;  // keep calling the others, as the kernel does
    }
  }
#if !defined(NF_MUTANT_unpaired_classic_end)
  if (failed) {
    // c2655835fd8c: the subscribers whose start succeeded expect an end, and the
    // caller will not call end after EAGAIN. Subscribers that can fail have none.
    for (ClassicSubscription* sub = s->list_head.Load(); sub != nullptr;
         sub = sub->next_.Load()) {
      if (sub->ops_->invalidate_range_end == nullptr) continue;
      internal::CallbackScope in_callback;
      sub->ops_->invalidate_range_end(sub, range);
    }
  }
#endif
  return failed ? absl::UnavailableError("EAGAIN: classic invalidate_range_start failed")
                : absl::OkStatus();
}

void AddressSpace::ClassicInvalidateEnd(Subscriptions* s, const Range& range) {
  sync::ReadSection section(&s->srcu);
  for (ClassicSubscription* sub = s->list_head.Load(); sub != nullptr; sub = sub->next_.Load()) {
    if (sub->ops_->invalidate_range_end == nullptr) continue;
    internal::CallbackScope in_callback;
    sub->ops_->invalidate_range_end(sub, range);
  }
}

absl::Status AddressSpace::RegisterClassic(ClassicSubscription* sub) {
  if (internal::InCallback()) {
    HardFailure(Warning::kBlockingInCallback, "RegisterClassic inside a notifier callback");
  }
  if (!HasUsers()) return absl::FailedPreconditionError("address space has no live users");
  BeginRegistration();
  absl::Status st = RegisterLocked(sub);
  EndRegistration();
  return st;
}

// With the registration exclusion held: no invalidation is running.
absl::Status AddressSpace::RegisterLocked(ClassicSubscription* sub) {
  Subscriptions* s = subscriptions_.Load();
  if (s == nullptr) {
    s = new Subscriptions(options_.testing_only_initial_seq);
    subscriptions_.Store(s);
  }
  if (sub == nullptr) {
    has_itree_.Store(true);
    return absl::OkStatus();
  }
  if (sub->space_ != nullptr) {
    Warn(Warning::kRegisterTwice, "RegisterClassic of a subscriber already registered");
    return absl::AlreadyExistsError("subscriber already registered");
  }
  Grab();
  sub->space_ = this;
  sync::MutexLock l(&s->lock);
  sub->users_ = 1;
  sub->registered_ = true;
  sub->release_claimed_ = false;
  sub->next_.Store(s->list_head.Load());
  s->list_head.Store(sub);
  sub->linked_ = true;
  return absl::OkStatus();
}

bool AddressSpace::ClaimRelease(Subscriptions* s, ClassicSubscription* sub) {
  sync::MutexLock l(&s->lock);
  if (sub->release_claimed_) return false;
  sub->release_claimed_ = true;
  return true;
}

// Calls sub's release at most once, whoever asks first (release or unregister).
// Inside a read-side section.
void AddressSpace::CallRelease(Subscriptions* s, ClassicSubscription* sub) {
  if (!ClaimRelease(s, sub) || sub->ops_->release == nullptr) return;
  internal::CallbackScope in_callback;
  sub->ops_->release(sub, this);
}

void AddressSpace::UnregisterClassic(ClassicSubscription* sub) {
  if (internal::InCallback()) {
    HardFailure(Warning::kBlockingInCallback, "UnregisterClassic inside a notifier callback");
  }
  Subscriptions* s = subscriptions_.Load();
  bool registered = false;
  bool linked = false;
  if (s != nullptr && sub->space_ == this) {
    sync::MutexLock l(&s->lock);
    registered = sub->registered_;
    linked = sub->linked_;
    sub->registered_ = false;
  }
  if (!registered) {
    Warn(Warning::kUnregisterNotRegistered, "UnregisterClassic of a subscriber not registered");
    return;
  }
  if (linked) {
    {
      // Release inside the read side, so that a concurrent release of the whole
      // space, which unlinks without waiting, cannot race its caller's teardown.
      sync::ReadSection section(&s->srcu);
      CallRelease(s, sub);
    }
    sync::MutexLock l(&s->lock);
    Unlink(s, sub);
  }
#if !defined(NF_MUTANT_free_without_grace_period)
  s->srcu.Synchronize();  // no callback of sub runs once we return
#endif
  sub->space_ = nullptr;
  Drop();
}

absl::StatusOr<ClassicSubscription*> AddressSpace::GetClassic(const ClassicOps* ops) {
  if (internal::InCallback()) {
    HardFailure(Warning::kBlockingInCallback, "GetClassic inside a notifier callback");
  }
  if (ops == nullptr || ops->alloc_notifier == nullptr || ops->free_notifier == nullptr) {
    return absl::InvalidArgumentError("GetClassic needs alloc_notifier and free_notifier");
  }
  if (!HasUsers()) return absl::FailedPreconditionError("address space has no live users");
  BeginRegistration();
  ClassicSubscription* found = nullptr;
  if (Subscriptions* s = subscriptions_.Load()) {
    sync::MutexLock l(&s->lock);
    for (ClassicSubscription* sub = s->list_head.Load(); sub != nullptr;
         sub = sub->next_.Load()) {
      if (sub->ops_ == ops && sub->registered_ &&
          sub->users_ != std::numeric_limits<unsigned>::max()) {
        ++sub->users_;
        found = sub;
        break;
      }
    }
  }
  absl::StatusOr<ClassicSubscription*> result = found;
  if (found == nullptr) {
    ClassicSubscription* sub = ops->alloc_notifier(this);
    if (sub == nullptr) {
      result = absl::ResourceExhaustedError("alloc_notifier returned null");
    } else if (absl::Status st = RegisterLocked(sub); !st.ok()) {
      result = st;
    } else {
      result = sub;
    }
  }
  EndRegistration();
  return result;
}

void AddressSpace::PutClassic(ClassicSubscription* sub) {
  Subscriptions* s = subscriptions_.Load();
  bool registered = false;
  bool last = false;
  if (s != nullptr && sub->space_ == this) {
    sync::MutexLock l(&s->lock);
    registered = sub->registered_;
    if (registered && --sub->users_ == 0) {
      last = true;
      sub->registered_ = false;
      Unlink(s, sub);
    }
  }
  if (!registered) {
    Warn(Warning::kPutNotRegistered, "PutClassic of a subscriber not registered");
    return;
  }
  if (!last) return;
  sync::ReadSide::Callback* cb = sub;
  cb->fn = &AddressSpace::FreeAfterGracePeriod;
#if defined(NF_MUTANT_free_without_grace_period)
  FreeAfterGracePeriod(cb);  // mutant: readers may still be calling it
#else
  s->srcu.CallAfterGracePeriod(cb);
#endif
}

void AddressSpace::Synchronize() {
  Subscriptions* s = subscriptions_.Load();
  if (s != nullptr) s->srcu.Synchronize();
}

void AddressSpace::FreeAfterGracePeriod(sync::ReadSide::Callback* cb) {
  ClassicSubscription* sub = static_cast<ClassicSubscription*>(cb);
  AddressSpace* space = sub->space_;
  sub->space_ = nullptr;
  sub->ops_->free_notifier(sub);
  space->Drop();
}

// ---------------------------------------------------------------------------
// §5 Release: the last user exits.

void AddressSpace::ReleaseNotifiers() {
  released_.Store(true);
  Subscriptions* s = subscriptions_.Load();
  if (s == nullptr) return;
  if (has_itree_.Load()) IntervalRelease(s);
  if (!ClassicListEmpty(s)) ClassicRelease(s);
}

// One blockable RELEASE walk over the whole space, ended as usual. It covers
// [0, UINT64_MAX] closed (the kernel's [0, ULONG_MAX) misses the last address).
void AddressSpace::IntervalRelease(Subscriptions* s) {
  Range range;
  range.start = 0;
  range.end = std::numeric_limits<uint64_t>::max();
  range.blockable = true;
  range.event = Event::kRelease;
  absl::Status st = Walk(s, range, 0, std::numeric_limits<uint64_t>::max());
  (void)st;  // blockable: a walk cannot fail
  IntervalInvalidateEnd(s);
}

void AddressSpace::ClassicRelease(Subscriptions* s) {
#if defined(NF_MUTANT_double_itree_release)
  // Mutant (the review of v2, 2019-10-29): the classic release repeats the
  // interval release that ReleaseNotifiers already ran.
  if (has_itree_.Load()) IntervalRelease(s);
#endif
  {
    sync::ReadSection section(&s->srcu);
    for (ClassicSubscription* sub = s->list_head.Load(); sub != nullptr;
         sub = sub->next_.Load()) {
      CallRelease(s, sub);
    }
    sync::MutexLock l(&s->lock);
    while (ClassicSubscription* sub = s->list_head.Load()) Unlink(s, sub);
  }
  // Unregister may now find the subscribers unlinked; wait for every reader that
  // could still be calling one of them.
  s->srcu.Synchronize();
}

// ---------------------------------------------------------------------------
// Oracles.

Seq AddressSpace::invalidate_seq_for_testing() {
  Subscriptions* s = subscriptions_.Load();
  return s == nullptr ? options_.testing_only_initial_seq : s->invalidate_seq.Load();
}

Snapshot AddressSpace::Inspect() {
  Snapshot snap;
  InspectInto(&snap);
  return snap;
}

void AddressSpace::InspectInto(Snapshot* out) {
  Snapshot& snap = *out;
  snap.tree.clear();
  snap.deferred.clear();
  snap.classic.clear();
  {
    sync::MutexLock l(&users_mu_);
    snap.users = users_;
  }
  snap.refs = refs_.Load();
  snap.released = released_.Load();
  snap.has_itree = has_itree_.Load();
  {
    sync::MutexLock l(&exclusion_mu_);
    snap.open_invalidations = running_invalidations_;
  }
  for (int i = 0; i < kNumWarnings; ++i) snap.warnings[i] = warnings_[i].Load();
  Subscriptions* s = subscriptions_.Load();
  if (s == nullptr) {
    snap.has_subscriptions = false;
    snap.pending_frees = 0;
    snap.invalidate_seq = 0;
    snap.active_invalidate_ranges = 0;
    return;
  }
  snap.has_subscriptions = true;
  snap.pending_frees = s->srcu.PendingCallbacks();
  sync::MutexLock l(&s->lock);
  snap.invalidate_seq = s->invalidate_seq.Load();
  snap.active_invalidate_ranges = s->active;
  snap.tree.reserve(s->itree.size());
  for (internal::IntervalNode* n = s->itree.First(); n != nullptr;
       n = internal::IntervalTree::Next(n)) {
    IntervalSubscription* sub = IntervalSubscription::FromNode(n);
    snap.tree.push_back({sub, n->start, n->last, sub->seq_.Load()});
  }
  for (IntervalSubscription* sub = s->deferred; sub != nullptr; sub = sub->deferred_next_) {
    snap.deferred.push_back(
        {sub, sub->state_ == IntervalSubscription::State::kDeferredInsert});
  }
  for (ClassicSubscription* sub = s->list_head.Load(); sub != nullptr; sub = sub->next_.Load()) {
    snap.classic.push_back(sub);
  }
}

}  // namespace nf
