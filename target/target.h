// target/target.h: the target seam. A *target* is one implementation of the
// contract (docs/contract.md): nf's own core (target/nf/) or, behind a shim,
// the kernel's mm/mmu_notifier.c. Every harness (the sequential and concurrent
// executors, the real-thread replay, the driver model, the oracles) drives a
// target only through this header, so the same programs, schedules and
// properties apply to each.
//
// THE PIECES.
//   vocabulary  Seq, Event, Range, Warning, Snapshot: the contract's terms
//               (contract/vocabulary.h), owned by no implementation.
//   handles     IntervalSub, ClassicSub: a target's subscription objects as the
//               harness holds them. The target allocates them (NewInterval,
//               NewClassic) so that it can embed its own structure; the harness
//               frees them (DeleteInterval, DeleteClassic) at the moment the
//               contract allows, so a target that touches one later is a use
//               after free under ASan.
//   verbs       Target's methods: the op vocabulary's calls.
//   callbacks   CallbackSink: what the target calls back (invalidate, classic
//               start, end, release, alloc and free, warnings). The target finds
//               the sink of the calling OS thread (CallbackSink::Current), set by
//               the executor for the duration of a run.
//   observer    GlobalSeq, HasItree, Inspect: what the oracles read, with the
//               capabilities a target may lack in Traits.
//
// LINKING. A target is a library that defines CreateTarget(). An executable links
// exactly one, in the flavour of the sync seam it runs (sync/sync.h), last: the
// same harness object files run on every target.
//
// THREADING. The verbs may be called from several logical threads at once, as
// the contract allows; a target synchronizes only through the sync seam, so it
// runs on real threads and under the deterministic scheduler alike.
#ifndef NF_TARGET_TARGET_H_
#define NF_TARGET_TARGET_H_

#include <array>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "contract/vocabulary.h"

namespace nf::target {

// The contract's vocabulary (contract/vocabulary.h).
using nf::Event;
using nf::EventName;
using nf::kNumEvents;
using nf::kNumWarnings;
using nf::Range;
using nf::Seq;
using nf::Warning;
using nf::WarningName;

// --- Handles -----------------------------------------------------------------

// An interval subscription of a target. The harness tags it with its slot.
class IntervalSub {
 public:
  explicit IntervalSub(int slot) : slot_(slot) {}
  IntervalSub(const IntervalSub&) = delete;
  IntervalSub& operator=(const IntervalSub&) = delete;

  int slot() const { return slot_; }

  // §2 read_begin, read_retry (call under the driver's user lock), check_retry,
  // set_seq (from the invalidate callback, under the user lock).
  virtual Seq ReadBegin() = 0;
  virtual bool ReadRetry(Seq seq) const = 0;
  virtual bool CheckRetry(Seq seq) const = 0;
  virtual void SetSeq(Seq cur_seq) = 0;
  // The inserted interval [start, last].
  virtual uint64_t start() const = 0;
  virtual uint64_t last() const = 0;
  // For oracles: the subscription's seq, read without any lock.
  virtual Seq seq_for_testing() const = 0;

 protected:
  virtual ~IntervalSub() = default;

 private:
  const int slot_;
};

// A classic subscriber's behaviour bits (which optional callbacks its ops have):
// fuzzers/program/program.h Behaviour.
// id: the harness's name for it (a classic slot, or a get/put kind).
class ClassicSub {
 public:
  ClassicSub(int id, uint8_t behaviour) : id_(id), behaviour_(behaviour) {}
  ClassicSub(const ClassicSub&) = delete;
  ClassicSub& operator=(const ClassicSub&) = delete;

  int id() const { return id_; }
  uint8_t behaviour() const { return behaviour_; }

 protected:
  virtual ~ClassicSub() = default;

 private:
  const int id_;
  const uint8_t behaviour_;
};

// Classic behaviour bits a target maps onto its ops (the same values as the
// program vocabulary's Behaviour).
inline constexpr uint8_t kClassicHasRelease = 1 << 0;
inline constexpr uint8_t kClassicHasStart = 1 << 1;
inline constexpr uint8_t kClassicHasEnd = 1 << 2;
inline constexpr int kNumClassicBehaviours = 32;
// A registered subscriber of the secondary-MMU kind (register_secondary) has
// this bit too: its ops also have clear_flush_young, clear_young, test_young,
// change_pte and, without start and end, the secondary-TLB invalidate
// (HasSecondaryTlb; Traits::secondary_mmu_api).
inline constexpr uint8_t kClassicSecondary = 1 << 5;
inline constexpr int kNumRegisterBehaviours = 64;  // with kClassicSecondary
// Whether a subscriber's ops have the secondary-TLB method: a secondary one
// without start and end. The kernel lets a subscriber have one or the other,
// not both (6.6 and later WARN at register and fail it with -EINVAL).
inline bool HasSecondaryTlb(uint8_t behaviour) {
  return (behaviour & kClassicSecondary) != 0 &&
         (behaviour & (kClassicHasStart | kClassicHasEnd)) == 0;
}

// The secondary-MMU callbacks of a classic subscriber (CallbackSink::OnClassicSecondary).
enum class SecondaryCall : uint8_t {
  kClearFlushYoung = 0,  // [start, end); returns young
  kClearYoung = 1,       // [start, end); returns young
  kTestYoung = 2,        // start is the address; returns young
  kChangePte = 3,        // start is the address (6.1 only)
  kSecondaryTlb = 4,     // [start, end): invalidate_range / arch_invalidate_secondary_tlbs
};

// --- Callbacks ---------------------------------------------------------------

// What a target calls back. Every pointer it passes is one of its handles, passed
// as is (never dereferenced by the target on the way), so a sink can tell a live
// handle from a freed one by comparing pointers.
class CallbackSink {
 public:
  virtual ~CallbackSink() = default;
  virtual bool OnInterval(IntervalSub* sub, const Range& range, Seq cur_seq) = 0;
  virtual void OnClassicRelease(ClassicSub* sub) = 0;
  virtual bool OnClassicStart(ClassicSub* sub, const Range& range) = 0;
  virtual void OnClassicEnd(ClassicSub* sub, const Range& range) = 0;
  // A secondary-MMU callback of a subscriber with kClassicSecondary. The
  // return value (young or not) matters for the young calls only.
  virtual bool OnClassicSecondary(ClassicSub* sub, SecondaryCall call, uint64_t start,
                                  uint64_t end) = 0;
  // get: make a new subscriber with this behaviour (through Target::NewClassic).
  virtual ClassicSub* OnAlloc(uint8_t behaviour) = 0;
  virtual void OnFree(ClassicSub* sub) = 0;
  // A misuse the target detected (Traits::reports_misuse), on the thread that
  // detected it. Default: ignored.
  virtual void OnWarning(Warning w, std::string_view detail) {}
  // A check of the target's own fired (the kernel's WARN_ON, BUG_ON,
  // might_sleep in a non-blocking section, a lockdep assertion), with its file
  // and line: what fired, e.g. "kernel WARN at mm/mmu_notifier.c:459: ...".
  // Always a finding; the oracles report it as a violation.
  virtual void OnTargetReport(std::string_view what) = 0;

  // Sets the calling OS thread's current sink for its scope.
  class Scope {
   public:
    explicit Scope(CallbackSink* sink);
    ~Scope();
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    CallbackSink* const prev_;
  };
  // The calling OS thread's sink; aborts with a message if there is none.
  static CallbackSink* Current();
};

// --- The observer ------------------------------------------------------------

// The state of a target's address space, read under its lock.
using Snapshot = BasicSnapshot<IntervalSub, ClassicSub>;

// What a target is and does where the contract leaves a choice, and which
// observations it supports.
struct Traits {
  const char* name = "";
  // Reports every Warning the sequential model predicts, exactly (nf's core).
  bool reports_misuse = false;
  // Snapshot::open_invalidations counts the successful starts not yet ended.
  bool counts_open_invalidations = false;
  // Insert, register and get may be called with no live user and then fail
  // (FailedPrecondition). False: the kernel's callers must hold a user (its
  // insert WARNs, its register BUGs), so the harness skips them without one.
  bool accepts_ops_without_user = false;
  // Snapshot::released: the last user's release has run (else derived from
  // users == 0).
  bool tracks_released = false;

  // Divergences from the contract, classified (FINDINGS.md): each names what
  // the target does instead, so that the oracles expect it and fuzzing goes on
  // past it. A real defect is never hidden here: its reproducer stays under
  // corpus/regress/kernel/ and its finding in FINDINGS.md.
  //
  // A non-blockable start whose interval walk succeeded and whose classic
  // side then failed closes the walk's epoch (§3.3). False: the epoch stays
  // open for good, so the harness keeps non-blockable invalidations and
  // subscribers whose start can fail apart. The kernel's 6.1 is such a target
  // (finding A), but its adapter checks the walk was left open exactly so and
  // ends it (nf_kernel.h nfk_set_close_leaked_walk), so that the programs
  // around the divergence stay in reach; its contract build does not.
  bool failed_classic_start_closes_interval_walk = true;
  // A classic subscriber gets release at most once even when its unregister
  // races the address space's release (P9). False (the kernel): both may call
  // it; the oracle then allows a second release to a subscriber whose
  // unregister has begun.
  bool release_once_against_unregister = true;
  // An empty range (end == start) overlaps no subscription (§3.1). False (the
  // kernel): its walk looks up [start, start - 1] and finds the subscriptions
  // that contain both start - 1 and start ([0, 0) finds every one); the harness
  // then issues no empty invalidation.
  bool empty_range_walks_nothing = true;
  // The RELEASE walk reaches the top address (§5, contract §8.5). False (the
  // kernel): it covers [0, ULONG_MAX), so a subscription [ULONG_MAX, ULONG_MAX]
  // gets no RELEASE invalidate; the P9 oracle expects none for it.
  bool release_walk_covers_top_address = true;
  // An insert that fails for its range (empty or overflowing: OutOfRange)
  // leaves the address space as it was. False (the kernel): it sets up the
  // subscriptions object and the interval tree first (mmu_notifier_register),
  // then checks the range; the sequential checker then adopts has_itree.
  bool failed_insert_leaves_no_tree = true;

  // The secondary-MMU API (docs/contract.md §10): the young calls, change_pte,
  // the secondary-TLB invalidate, range_update_to_read_only and subscribers
  // that have their methods (register_secondary). False (nf's core): out of
  // its contract; the executors skip those ops, saying so.
  bool secondary_mmu_api = false;
  // The version's API where it changed (only meaningful with secondary_mmu_api):
  // change_pte exists (6.1; removed in 6.6); every invalidate end but the
  // range-only one calls the secondary-TLB method (6.1's invalidate_range);
  // mmu_notifier_range_update_to_read_only is defined (6.1; 6.12 declares it
  // only, and the target answers false).
  bool has_change_pte = false;
  bool end_calls_secondary_tlb = false;
  bool has_range_update_to_read_only = false;
};

// --- The verbs ---------------------------------------------------------------

// A successful invalidate start, until its end.
struct Invalidation {
  Range range;
  void* state = nullptr;  // the target's
};

struct TargetOptions {
  // TESTING_ONLY: the initial global seq (even; the kernel's is 2).
  Seq initial_seq = 2;
};

// One address space of a target, with one user (the program's) and the
// harness's own reference, which keeps the space readable after release.
class Target {
 public:
  virtual ~Target() = default;
  virtual const Traits& traits() const = 0;

  // Users (mm_users). The last PutUser runs release (§5).
  virtual bool TryGetUser() = 0;
  virtual void PutUser() = 0;

  // §2. New* allocate a handle (not inserted / registered); Delete* free one.
  virtual IntervalSub* NewInterval(int slot) = 0;
  virtual void DeleteInterval(IntervalSub* sub) = 0;
  // OutOfRange (length 0 or overflow), FailedPrecondition (no live users),
  // AlreadyExists (already inserted).
  virtual absl::StatusCode Insert(IntervalSub* sub, uint64_t start, uint64_t length) = 0;
  virtual void Remove(IntervalSub* sub) = 0;

  // §3. Unavailable (-EAGAIN) only for a non-blockable range. On success
  // *open is what InvalidateEnd takes, exactly once, on the same logical
  // thread (a target may keep per-invalidation state in open->state).
  virtual absl::StatusCode InvalidateStart(const Range& range, Invalidation* open) = 0;
  // An Invalidation{} that no start returned is misuse (kEndWithoutStart on a
  // target that reports misuse).
  virtual void InvalidateEnd(const Invalidation& open) = 0;

  // §2, insert_locked: Insert with the registration lock (the kernel's mmap
  // lock for writing) held around it, as mmu_interval_notifier_insert_locked.
  virtual absl::StatusCode InsertLocked(IntervalSub* sub, uint64_t start, uint64_t length) = 0;
  // §3, the range-only end: an end that calls no secondary-TLB method (the
  // caller did under the page table lock). The same as InvalidateEnd where
  // ends never call one (nf's core, 6.6 and later).
  virtual void InvalidateOnlyEnd(const Invalidation& open) = 0;
  // §5: a reference to the space without a user (mmgrab / mmdrop, as truncate
  // and reclaim hold): an invalidation may run between them after the last
  // user has gone.
  virtual void Grab() = 0;
  virtual void Drop() = 0;

  // §10, only with Traits::secondary_mmu_api (else never called): the young
  // calls (their result), change_pte (at an address), the secondary-TLB
  // invalidate, and mmu_notifier_range_update_to_read_only of a range with a
  // readable vma.
  virtual bool ClearFlushYoung(uint64_t start, uint64_t end) = 0;
  virtual bool ClearYoung(uint64_t start, uint64_t end) = 0;
  virtual bool TestYoung(uint64_t address) = 0;
  virtual void ChangePte(uint64_t address) = 0;
  virtual void InvalidateSecondaryTlbs(uint64_t start, uint64_t end) = 0;
  virtual bool RangeUpdateToReadOnly(const Range& range) = 0;
  // mmu_notifier_synchronize: when it returns, every free (free_notifier) the
  // last put of a get/put subscriber queued before it began has run, unless a
  // read-side section that began after it is still open (§10.7).
  virtual void Synchronize() = 0;

  // §4. get_kind: a subscriber for get/put (with alloc and free callbacks).
  virtual ClassicSub* NewClassic(int id, uint8_t behaviour, bool get_kind) = 0;
  virtual void DeleteClassic(ClassicSub* sub) = 0;
  virtual absl::StatusCode Register(ClassicSub* sub) = 0;
  virtual void Unregister(ClassicSub* sub) = 0;
  virtual absl::StatusOr<ClassicSub*> Get(uint8_t behaviour) = 0;
  virtual void Put(ClassicSub* sub) = 0;

  // Observer. GlobalSeq is read without the lock (inside a walk's callback it
  // must equal the walk's cur_seq).
  // Inspect and InspectInto: from one logical thread at a time (the targets
  // fill buffers they keep, across yield points); inside a concurrent op use
  // GlobalSeq, HasItree and PendingFrees, which may run on several at once.
  virtual Seq GlobalSeq() = 0;
  virtual bool HasItree() = 0;
  virtual Snapshot Inspect() = 0;
  // The same into *out, reusing its vectors' storage where the target can (the
  // executors inspect after every op); by default a copy of Inspect().
  virtual void InspectInto(Snapshot* out) { *out = Inspect(); }
  // Snapshot::pending_frees alone.
  virtual int PendingFrees() = 0;

  // Drops the harness's reference: the space is freed if nothing else holds it.
  // Nothing but the destructor may be called after.
  virtual void Finish() = 0;
};

// Defined by the one target library an executable links.
std::unique_ptr<Target> CreateTarget(const TargetOptions& options);

}  // namespace nf::target

#endif  // NF_TARGET_TARGET_H_
