// core/notifier.h: address spaces, interval subscriptions with collision-retry
// sequence numbers, and classic subscribers: a userspace model of the kernel's
// mm/mmu_notifier.c (v5.5 onwards). The contract is docs/contract.md; the
// section numbers below (§) are that file's.
//
// THE SEQ (§1). Each address space's subscriptions carry one sequence number,
// `invalidate_seq`, that starts even (2) and changes only under `lock_`:
//
//   state                     global seq   interval tree
//   idle / partial exclusion  even         may change (insert, remove)
//   full exclusion            odd          frozen; inserts and removes are deferred
//
//   operation                             under lock_   effect
//   a walk finds an overlapping sub       yes           seq |= 1   (begin writing)
//   insert while active and even          yes           seq |= 1
//   the last end of an odd epoch          yes           seq++      (end writing),
//                                                       then drain deferred list
//
// Every interval subscription has its own seq, always odd: `global - 1` when
// inserted idle, `global` when inserted during an invalidation, and the walk's
// `cur_seq` once its invalidate callback calls SetSeq(). A subscription whose seq
// equals the global seq is being invalidated now.
//
// THE LOCKING RULE. `lock_` (the kernel's spinlock) is short and never held across
// a callback or a wait. Callbacks run with no core lock held. The driver's own lock
// (its "user lock") orders SetSeq() in the callback against ReadRetry() in the
// fault path; the core never takes it.
//
// THE GUARANTEES.
//   - A walk calls every overlapping subscription exactly once, all with the same
//     odd cur_seq, while the global seq equals cur_seq (P3).
//   - When RemoveInterval() returns, no callback for that subscription is running
//     and none will run: the caller may free it (P5).
//   - A start that fails with EAGAIN has given back everything it took (P8).
//   - Release runs once per address space: one RELEASE walk over every interval
//     subscription, then each classic `release` at most once (P9).
//
// Misuse is reported through Warn (see Warning) and counted per address space;
// misuse that would corrupt state is a hard failure (abort) after the report.
#ifndef NF_CORE_NOTIFIER_H_
#define NF_CORE_NOTIFIER_H_

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "contract/vocabulary.h"
#include "core/interval_tree.h"
#include "sync/sync.h"

namespace nf {

class AddressSpace;
class IntervalSubscription;
class ClassicSubscription;

// The callbacks of an interval subscription (mmu_interval_notifier_ops).
struct IntervalOps {
  // Called once per overlapping walk, with no core lock held. Must take the
  // driver's user lock (try-lock when !range.blockable, returning false if busy),
  // call sub->SetSeq(cur_seq), tear down the driver's mappings of
  // range ∩ [sub->start(), sub->last()], unlock and return true.
  bool (*invalidate)(IntervalSubscription* sub, const Range& range, Seq cur_seq) = nullptr;
};

// The callbacks of a classic subscriber (mmu_notifier_ops). All are optional.
struct ClassicOps {
  // The address space is going away (or the subscriber is unregistered).
  void (*release)(ClassicSubscription* sub, AddressSpace* space) = nullptr;
  // Returns false (the kernel's -EAGAIN) only when !range.blockable. A subscriber
  // that can fail must not have invalidate_range_end.
  bool (*invalidate_range_start)(ClassicSubscription* sub, const Range& range) = nullptr;
  void (*invalidate_range_end)(ClassicSubscription* sub, const Range& range) = nullptr;
  // For AddressSpace::GetClassic / PutClassic.
  ClassicSubscription* (*alloc_notifier)(AddressSpace* space) = nullptr;
  void (*free_notifier)(ClassicSubscription* sub) = nullptr;
};

using WarnHandler = std::function<void(Warning, std::string_view detail)>;

struct AddressSpaceOptions {
  // TESTING_ONLY: the initial global seq (must be even; the kernel's is 2). Lets
  // tests and fuzzers reach the wrap-around of the counter in a few steps.
  Seq testing_only_initial_seq = 2;
  // Called for every Warning, on the thread that detected it. Default: print to
  // stderr. Hard failures abort after calling it.
  WarnHandler warn;
};

// An interval subscription (mmu_interval_notifier): embedded in (or owned by)
// the driver's object. Not copyable or movable: the core links it intrusively.
class IntervalSubscription : private internal::IntervalNode {
 public:
  IntervalSubscription() = default;
  IntervalSubscription(const IntervalSubscription&) = delete;
  IntervalSubscription& operator=(const IntervalSubscription&) = delete;
  // Hard failure if still inserted (the core would keep a dangling pointer).
  ~IntervalSubscription();

  uint64_t start() const { return IntervalNode::start; }
  uint64_t last() const { return IntervalNode::last; }
  AddressSpace* address_space() const { return space_; }

  // §2 read_begin: the seq to pass to ReadRetry. Waits while this subscription is
  // being invalidated (its seq equals the global seq). May sleep. Does not loop:
  // ReadRetry may already be true.
  //
  //   fault thread                      invalidating thread
  //   seq = ReadBegin()                 start: global |= 1
  //   read the page table               callback: lock(user); SetSeq(cur); erase
  //   lock(user)                          mirror; unlock(user)
  //   ReadRetry(seq)? -> retry          change the page table
  //   install; unlock(user)             end: global++
  //
  // Either the callback's SetSeq comes first (ReadRetry sees it and the fault
  // retries), or the install does (the callback then erases it): no stale mapping.
  Seq ReadBegin();
  // §2 read_retry: true if an invalidation started since ReadBegin returned seq.
  // Call under the driver's user lock.
  bool ReadRetry(Seq seq) const { return seq_.Load() != seq; }
  // §2 check_retry: lockless ReadRetry. true is definitive, false a hint.
  bool CheckRetry(Seq seq) const { return seq_.Load(std::memory_order_relaxed) != seq; }
  // §2 set_seq: call from the invalidate callback, under the user lock, before
  // tearing down mappings. cur_seq must be the (odd) value the callback received.
  void SetSeq(Seq cur_seq);

  // For oracles: the subscription's seq, read without any lock.
  Seq seq_for_testing() const { return seq_.Load(); }

 private:
  friend class AddressSpace;
  enum class State : uint8_t {
    kDetached,        // never inserted, or removed
    kInTree,
    kDeferredInsert,  // on the deferred list, to be inserted by the last end
    kDeferredRemove,  // in the tree and on the deferred list, to be removed
  };
  static IntervalSubscription* FromNode(internal::IntervalNode* n) {
    return static_cast<IntervalSubscription*>(n);
  }
  internal::IntervalNode* node() { return this; }

  // First, so that it fits in the tail padding of the IntervalNode base.
  State state_ = State::kDetached;  // guarded by the space's lock
  sync::Atomic<Seq> seq_{1};
  AddressSpace* space_ = nullptr;
  const IntervalOps* ops_ = nullptr;
  IntervalSubscription* deferred_next_ = nullptr;  // deferred list link
};

// Core state per interval subscription: the tree node, the seq, three pointers
// and the state, with no allocation (README, "Benchmarks").
static_assert(sizeof(IntervalSubscription) <= 88, "IntervalSubscription grew");

// A classic subscriber (mmu_notifier). Embedded in (or owned by) the driver's
// object; ops is fixed at construction. A driver frees it only after
// UnregisterClassic returns, or in ops->free_notifier after PutClassic.
class ClassicSubscription : private sync::ReadSide::Callback {
 public:
  explicit ClassicSubscription(const ClassicOps* ops) : ops_(ops) {}
  ClassicSubscription(const ClassicSubscription&) = delete;
  ClassicSubscription& operator=(const ClassicSubscription&) = delete;

  const ClassicOps* ops() const { return ops_; }
  AddressSpace* address_space() const { return space_; }

 private:
  friend class AddressSpace;
  const ClassicOps* const ops_;
  AddressSpace* space_ = nullptr;
  sync::Atomic<ClassicSubscription*> next_{nullptr};  // the read-side list
  unsigned users_ = 0;            // GetClassic/PutClassic count; guarded by lock_
  bool linked_ = false;           // on the list; guarded by lock_
  bool registered_ = false;       // between register and unregister/put; lock_
  bool release_claimed_ = false;  // release called (at most once); lock_
  // The inherited ReadSide::Callback is PutClassic's free after a grace period.
};

// A read-only view of an address space's notifier state, taken under the lock
// (contract/vocabulary.h BasicSnapshot).
using Snapshot = BasicSnapshot<IntervalSubscription, ClassicSubscription>;

// An address space (mm_struct): the live-user count, the reference count, and the
// lazily created subscriptions.
//
// Users (mm_users): GetUser/TryGetUser/PutUser. The last PutUser runs release
// (§5) and then drops the users' reference. Every operation below except
// RemoveInterval, UnregisterClassic and PutClassic requires the caller to hold a
// user, as the kernel's callers do.
// References (mm_count): Grab/Drop. Subscriptions hold one each. The last Drop
// deletes the address space.
class AddressSpace {
 public:
  // Returns a space with one user and one reference (the users').
  static AddressSpace* Create(AddressSpaceOptions options = {});

  AddressSpace(const AddressSpace&) = delete;
  AddressSpace& operator=(const AddressSpace&) = delete;

  // --- users and references ---
  void GetUser();      // requires a live user
  bool TryGetUser();   // mmget_not_zero: false once the last user has gone
  void PutUser();      // the last one runs release (§5), then Drop()
  void Grab();
  void Drop();         // the last one deletes *this

  // --- interval subscriptions (§2) ---
  // Inserts [start, start + length - 1]. Errors, changing nothing:
  // OutOfRange (length 0 or overflow), FailedPrecondition (no live users),
  // AlreadyExists (sub already inserted; also warns).
  absl::Status InsertInterval(IntervalSubscription* sub, uint64_t start, uint64_t length,
                              const IntervalOps* ops);
  // May sleep until the current odd epoch ends. Never from a callback.
  void RemoveInterval(IntervalSubscription* sub);

  // --- invalidation (§3) ---
  // Unavailable (the kernel's -EAGAIN) only for a non-blockable range; the state
  // is then exactly as before the call and the caller must not call End.
  absl::Status InvalidateRangeStart(const Range& range);
  void InvalidateRangeEnd(const Range& range);

  // --- classic subscribers (§4) ---
  // Registers sub (users = 1), or with nullptr just creates the subscriptions
  // object and marks the interval tree in use. Waits for running invalidations.
  absl::Status RegisterClassic(ClassicSubscription* sub);
  // Calls release if still linked, unlinks, waits for read-side sections.
  void UnregisterClassic(ClassicSubscription* sub);
  // Returns the registered subscriber with these ops (users++), or registers a
  // new one from ops->alloc_notifier.
  absl::StatusOr<ClassicSubscription*> GetClassic(const ClassicOps* ops);
  // users--; at zero unlinks and frees (ops->free_notifier) after a grace period.
  void PutClassic(ClassicSubscription* sub);
  // mmu_notifier_synchronize (§10.7): waits for every read-side section that
  // began before the call; the frees queued by PutClassic before it have then
  // run, unless a section that began after the call is still open. Sleeps.
  void Synchronize();

  // --- oracles ---
  Snapshot Inspect();
  // The same into *out, reusing its vectors' storage (no allocation once they
  // have grown: the fuzzers inspect after every op).
  void InspectInto(Snapshot* out);
  bool has_itree() const { return has_itree_.Load(); }
  // The global seq, read without the lock (a cheap oracle: inside a walk's
  // callback it must equal the walk's cur_seq).
  Seq invalidate_seq_for_testing();

 private:
  struct Subscriptions;
  explicit AddressSpace(AddressSpaceOptions options);
  ~AddressSpace();

  friend class IntervalSubscription;
  void Warn(Warning w, std::string_view detail);
  [[noreturn]] void HardFailure(Warning w, std::string_view detail);

  // The mm-wide exclusion between invalidations and registration (the kernel's
  // mm_take_all_locks against the locks invalidations run under).
  void BeginInvalidation();
  void EndInvalidationExclusion();
  void BeginRegistration();
  void EndRegistration();

  // Interval side.
  void IntervalInvalidateEnd(Subscriptions* s);
  void IntervalRelease(Subscriptions* s);
  Seq ReadBegin(IntervalSubscription* sub);
  bool SeqReleased(Subscriptions* s, Seq seq);

  // Classic side.
  absl::Status ClassicInvalidateStart(Subscriptions* s, const Range& range);
  void ClassicInvalidateEnd(Subscriptions* s, const Range& range);
  void ClassicRelease(Subscriptions* s);
  void ReleaseNotifiers();
  bool HasUsers();
  absl::Status RegisterLocked(ClassicSubscription* sub);
  absl::Status Walk(Subscriptions* s, const Range& range, uint64_t first, uint64_t last);
  static bool ClassicListEmpty(Subscriptions* s);
  static void Unlink(Subscriptions* s, ClassicSubscription* sub);
  bool ClaimRelease(Subscriptions* s, ClassicSubscription* sub);
  void CallRelease(Subscriptions* s, ClassicSubscription* sub);
  static void FreeAfterGracePeriod(sync::ReadSide::Callback* cb);

  const AddressSpaceOptions options_;
  sync::Mutex users_mu_;
  long users_ ABSL_GUARDED_BY(users_mu_) = 1;
  sync::Atomic<long> refs_{1};
  sync::Atomic<bool> released_{false};
  sync::Atomic<bool> has_itree_{false};
  sync::Atomic<Subscriptions*> subscriptions_{nullptr};
  std::array<sync::Atomic<long>, kNumWarnings> warnings_{};

  // The exclusion between invalidations and registration.
  sync::Mutex exclusion_mu_;
  long running_invalidations_ ABSL_GUARDED_BY(exclusion_mu_) = 0;
  bool registering_ ABSL_GUARDED_BY(exclusion_mu_) = false;
  // A thread waits on exclusion_wq_ (see BeginInvalidation).
  bool exclusion_waiters_ ABSL_GUARDED_BY(exclusion_mu_) = false;
  sync::WaitQueue exclusion_wq_;
};

}  // namespace nf

#endif  // NF_CORE_NOTIFIER_H_
