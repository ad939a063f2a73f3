// fuzzers/world/concurrent_world.h: the world of a program whose threads run at the same
// time: on fibers under the deterministic scheduler (fuzzers/executors/concurrent.h,
// the concurrent fuzzer) or on OS threads (fuzzers/executors/threaded.h,
// tsan_replay). The code only uses the
// sync seam and one bookkeeping mutex, so it compiles in both flavours of the
// seam; each executor links the core of its own flavour.
//
// It reuses the sequential world's pieces (driver.h): the Driver of spec §6 per
// interval slot, the PageTable and the target's handles,
// whose callbacks reach this world as a CallbackSink. Unlike the sequential
// World, it has no reference model: a yield inside the core can switch threads in
// the middle of any op, so results are not predictable; instead the oracles below
// check what must hold in every interleaving.
//
// SLOT STATES. Bookkeeping that several threads touch is reserved before calling
// the core and committed after it returns:
//
//   interval slot   Empty -> Inserting -> Live -> Removing -> Empty
//   classic slot    Empty -> Registering -> Live -> Unregistering -> Empty
//   get/put refs    a get counts its reference after GetClassic returns; a put
//                   takes one back before calling PutClassic
//   program user    Held -> Releasing -> Gone
//
// An op on a slot in the wrong state is skipped (insert needs Empty; remove, and
// read_begin/read_retry/check_retry/fault need Live). read_begin, read_retry,
// check_retry and fault *pin* the slot for the duration of the op; a remove of a
// pinned slot is skipped (a driver does not free a mirror its own fault path is
// using). A subscription is deleted as soon as RemoveInterval returns, a
// registered classic subscriber as soon as UnregisterClassic returns, a get/put
// one in its free_notifier: a core that calls a callback later is a P5 report
// (the callback does not find it) or an ASan use-after-free.
//
// THE CALLER CONTRACT (skip rule). A thread never does what the kernel's callers
// must not do because it could wait on its own progress. From the thread's own
// state only ("open": it has an open inv_start; "held": it holds a driver lock
// through a `lock` op):
//   - read_begin, fault, remove, register, unregister, get, insert_locked,
//     register_secondary, synchronize: skipped when open or held. They may sleep until an odd epoch ends (read_begin, fault, remove),
//     until no invalidation runs (register, get), or take a driver lock while
//     an invalidation may wait for the one held. (unregister does not wait for
//     either in this core, but the kernel's contract forbids it where it may not
//     sleep; following the contract costs nothing.)
//   - insert: skipped when (open or held) and the interval tree is not yet set up
//     (the first insert registers, which waits for running invalidations). The
//     has_itree flag, once set, stays set, so reading it is stable.
//   - a blockable invalidate or inv_start: skipped when held (its walk takes the
//     driver locks of what it overlaps; a thread nests no driver locks).
//   - lock: skipped when held (at most one driver lock per thread); read_retry
//     of another slot than the one held: skipped (it takes that slot's lock).
//   - release: skipped when held (its RELEASE walk takes every driver lock).
//   - a thread that holds a driver lock never drops a user: the last PutUser runs
//     release, whose walk would take the lock it holds. Ops that take a user
//     (insert, invalidations, fault, register, get) and inv_end defer their
//     PutUser until the thread's `unlock` (a driver may keep an mm reference
//     longer; nothing else observes it).
//   - no meaning: inv_end with no open inv_start in this thread, unlock of a lock
//     the thread does not hold, release after release, put without a reference.
// Misuse the sequential fuzzer covers (insert into an occupied slot, remove of an
// empty one, unregister or put without a subscriber, inv_end with no start) is
// skipped here, so that the core must never warn: any Warning is a report.
// With these rules a thread that waits only waits for others that never wait on
// it: every thread holding a driver lock or an open invalidation only does ops
// that do not sleep, and ends them by its own cleanup. So a deadlock the
// scheduler reports (no thread runnable, some blocked) is a real bug: P7.
//
// END OF A PROGRAM. Each thread runs its list, then its own cleanup (unlock the
// driver lock it holds, end its open invalidations, newest first). The last
// thread to finish then runs the global cleanup alone: checks P6 on every page,
// drops the program's user if no `release` did (release runs), checks P9,
// removes / unregisters / puts what is left, and checks the final state (P7 and
// memory): no users, released, only the world's reference, no active range, even
// seq, empty tree, deferred list and classic list, no pending frees, every heap
// object freed, no Warning.
//
// THE ORACLES. The world keeps the bookkeeping the properties need (slot
// states, each thread's walk: the range, its cur_seq, whom it called and had to
// call, the classic starts it owes an end; invalidations and puts in progress,
// the pages they cover, the page table's copy, RELEASE callbacks) and at each
// point a property can be observed fills in an event for its oracle
// (fuzzers/oracles/oracles.h: one file per property, with what exactly it
// checks): every interval callback (P5, P3, P9, then P2), every classic
// callback and free_notifier (P5, P9), every start's return (P3, P8), every
// quiescent point (P1, deterministic flavour), after every op (P6,
// deterministic flavour; every page at the end), the release of the global
// cleanup (P9) and the final state (P7); the executor adds the run's end (P7
// no progress, P10 a data race, P11 a lock-order inversion).
//   §10  (docs/contract.md; the kernel target: nf's core skips the secondary-MMU
//        ops as outside its contract; fuzzers/oracles/s10_kernel_api.cc on the
//        events of every secondary-MMU callback and the return of a
//        secondary-MMU op, read_only and synchronize) after a young call, change_pte or the
//        secondary-TLB invalidate: every callback it made reached a live
//        secondary subscriber (P5) that has the method, at most once, of the
//        op's kind, with its range (address); a young call's result is the OR of
//        the answers, and test_young stopped at its first young answer;
//        change_pte called nothing where the version has none. read_only's
//        result is predicted. After synchronize, when no other thread is inside
//        an op: no queued free is left. invalidate_mm (a reference, no user)
//        runs after release and against it: P3, P5 and P9's "at most once" hold
//        for it; P9's "no callback after the RELEASE walk" does not apply.
//   Warnings: the core must not warn (see the skip rule), except once for each
//        armed driver misbehaviour that happened (misbehave, program.h
//        Misbehaviour): the callback that misbehaves makes the warning owed,
//        the core's warning pays it, and at the end none is owed and every
//        warning the target counted was one owed. On a target that does not
//        report misuse the misbehave op is skipped.
//   Boundary ranges: an empty range overlaps nothing (§3.1: the closed
//        interval [start, end - 1] is empty); a target whose walk does not
//        treat it so (Traits::empty_range_walks_nothing) gets no empty
//        invalidation. A subscription of the top byte gets no RELEASE on a
//        target whose RELEASE walk stops below it
//        (Traits::release_walk_covers_top_address).
#ifndef NF_FUZZERS_CONCURRENT_WORLD_H_
#define NF_FUZZERS_CONCURRENT_WORLD_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/container/inlined_vector.h"
#include "sync/sync.h"
#include "fuzzers/oracles/property.h"
#include "fuzzers/program/program.h"
#include "fuzzers/world/world.h"

namespace nf::fuzz {

// What the world needs from its executor.
class ConcurrentHost {
 public:
  virtual ~ConcurrentHost() = default;
  // The logical thread running the caller (0 .. threads - 1).
  virtual int CurrentThread() = 0;
  // True if trace notes are wanted (then Note is called; else nothing is
  // formatted).
  virtual bool Tracing() = 0;
  virtual void Note(std::string_view text) = 0;
  // The op a thread is about to run (index in its list, or -1 for a cleanup op).
  // Called for every op: must be cheap when not tracing.
  virtual void OpBegin(int thread, int index, const Op& op) = 0;
  // A check failed. Never returns (reports and aborts, or stops the thread
  // and lets the executor re-run the input to report it).
  [[noreturn]] virtual void Fail(const Failure& failure) = 0;
  // Called at op boundaries and callback entries: stops the calling thread if
  // another one has failed (see Fail). Default: nothing.
  virtual void CheckNotFailed() {}
};

// A mutex for the world's bookkeeping: held only around pure bookkeeping, never
// across a call into the core or the driver (so it never spans a yield point of
// the deterministic flavour). In that flavour every fiber shares one OS thread
// and no switch can happen while it is held, so it excludes nothing there; it
// still reports its acquire and release to the race detector, which orders
// what it orders on real threads (e.g. the last thread's global cleanup after
// every other thread's last op: the join of the program's threads).
class ABSL_LOCKABLE BookMutex {
 public:
#if defined(NF_SYNC_SCHED)
  void Lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() { sync::sched_hooks::LockAcquired(this); }
  void Unlock() ABSL_UNLOCK_FUNCTION() { sync::sched_hooks::LockReleased(this); }
#else
  void Lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() { mu_.lock(); }
  void Unlock() ABSL_UNLOCK_FUNCTION() { mu_.unlock(); }

 private:
  std::mutex mu_;
#endif
};

class ABSL_SCOPED_LOCKABLE BookLock {
 public:
  explicit BookLock(BookMutex* mu) ABSL_EXCLUSIVE_LOCK_FUNCTION(mu) : mu_(mu) { mu_->Lock(); }
  ~BookLock() ABSL_UNLOCK_FUNCTION() { mu_->Unlock(); }
  BookLock(const BookLock&) = delete;
  BookLock& operator=(const BookLock&) = delete;

 private:
  BookMutex* const mu_;
};

class ConcurrentWorld final : public CallbackSink {
 public:
  // The program must outlive the world. Runs on the calling OS thread's
  // CallbackSink::Scope of every thread that calls into it (the executor sets it).
  ConcurrentWorld(const Program& program, ConcurrentHost* host);
  // Frees nothing if the run did not finish (an abandoned run: the executor
  // reports and aborts).
  ~ConcurrentWorld() override;
  ConcurrentWorld(const ConcurrentWorld&) = delete;
  ConcurrentWorld& operator=(const ConcurrentWorld&) = delete;

  // The body of logical thread t: its ops, its own cleanup and, for the last
  // thread to get there, the global cleanup and the final checks.
  void RunThread(int t);

  // True once the global cleanup and final checks passed (the world is then
  // finished: the address space is gone).
  bool finished() const { return finished_.load(); }
  const Program& program() const { return program_; }

  // --- CallbackSink ---
  bool OnInterval(IntervalSub* sub, const Range& range, Seq cur_seq) override;
  void OnClassicRelease(ClassicSub* sub) override;
  bool OnClassicStart(ClassicSub* sub, const Range& range) override;
  void OnClassicEnd(ClassicSub* sub, const Range& range) override;
  bool OnClassicSecondary(ClassicSub* sub, target::SecondaryCall call, uint64_t start,
                          uint64_t end) override;
  ClassicSub* OnAlloc(uint8_t behaviour) override;
  void OnFree(ClassicSub* sub) override;
  // Any warning is a report: the skip rule keeps every misuse away.
  void OnWarning(Warning w, std::string_view detail) override;
  // The target's own checks (the kernel's WARN_ON, ...): a report.
  void OnTargetReport(std::string_view what) override { Fail(NotAProperty(what)); }

  // The state index the global cleanup uses (whatever thread runs it).
  static constexpr int kCleanupThread = kMaxThreads;

 private:
  enum class SlotState : uint8_t { kEmpty, kInserting, kLive, kRemoving };
  enum class UserState : uint8_t { kHeld, kReleasing, kGone };

  struct IntervalSlot {
    SlotState state = SlotState::kEmpty;
    IntervalSub* sub = nullptr;  // set while Inserting, Live, and Removing until freed
    uint64_t start = 0;
    uint64_t last = 0;
    int pins = 0;
    bool maybe_pending = false;  // may be a deferred insert not yet in the tree
    // Was maybe_pending (or inserting) while an invalidation was open when a
    // put that may run release began: the RELEASE walk may miss it (§10.8).
    bool may_miss_release = false;
    int releases = 0;            // RELEASE walk callbacks of this incarnation
    struct {
      bool fail_blockable = false;  // misbehave: see program.h Misbehaviour
      bool even_seq = false;
    } armed;
  };
  // A classic subscriber object the world allocated and has not freed.
  struct ClassicObject {
    ClassicSub* obj = nullptr;  // nullptr: the record is free
    bool get_kind = false;
    int program_refs = 0;  // references the program holds (get/put only)
    int releases = 0;
    bool may_unlink = false;  // a put or unregister of it has begun (P8)
  };
  struct ClassicSlot {
    SlotState state = SlotState::kEmpty;
    ClassicSub* obj = nullptr;
    bool fail_start_armed = false;  // misbehave fail_start
  };
  // The interval walk (a start, or the RELEASE walk) a thread is in.
  struct Walk {
    bool active = false;
    bool release = false;
    Range range;
    Seq cur_seq = 0;         // 0: no callback yet
    uint8_t expected = 0;    // slots that must be called (see P3)
    uint8_t called = 0;
    bool interval_failed = false;
    bool classic_failed = false;
    uint64_t classic_started = 0;  // ids with an end whose start returned true
    uint64_t classic_ended = 0;
    // A walk without a user (invalidate_mm) during which a put of a user began:
    // that put may run the release walk, which unlinks every classic subscriber
    // before this walk's failure path walks the list (P8 owes them no end).
    bool release_may_unlink = false;
  };
  // The secondary-MMU callbacks of the op a thread runs (SecondaryCall).
  struct SecondaryCalls {
    bool active = false;
    target::SecondaryCall call = target::SecondaryCall::kClearFlushYoung;  // the op's
    bool other_call = false;  // a callback of another kind than the op's
    std::string twice;        // a subscriber called twice ("": none)
    uint64_t seen = 0;  // classic ids called
    int n = 0;
    int young = 0;
    bool last_young = false;
    uint64_t start = 0, end = 0;
  };
  struct ThreadState {
    absl::InlinedVector<target::Invalidation, 4> open;  // open inv_starts, oldest first
    // In an invalidate_mm (no user: exempt from P9's "after the RELEASE walk").
    bool no_user = false;
    SecondaryCalls secondary;
    int held = -1;      // slot whose driver lock a `lock` op holds, or -1
    int owed_puts = 0;  // user puts deferred while holding a driver lock
    std::array<Seq, kIntervalSlots> last_seq{};
    Walk walk;
  };
  static constexpr int kMaxClassicObjects = 128;
  static_assert(kNumClassicIds <= 64, "classic ids are bits of a uint64_t");
  static_assert(kIntervalSlots <= 8, "interval slots are bits of a uint8_t");

  // One op of thread t (index: in its list; -1: a cleanup op).
  void Step(int t, int index, const Op& op);
  // Why t may not run op now (the caller contract, the slot states), or nullopt.
  std::optional<std::string_view> SkipReason(int t, const Op& op);
  // Runs op, or returns why not (a slot in the wrong state). The result text
  // goes to *result when tracing.
  std::optional<std::string_view> ExecuteOp(int t, const Op& op, std::string* result);
  std::optional<std::string_view> Invalidate(int t, const Op& op, std::string* result);
  // Traits::failed_classic_start_closes_interval_walk is false: a classic
  // subscriber whose start can fail must never meet a non-blockable start.
  // Whether one may be about to (under mu_): the subscriber side and the start
  // side each check the other.
  bool KeepFailingClassicsApart(uint8_t behaviour) const {
    return !target_->traits().failed_classic_start_closes_interval_walk &&
           (behaviour & kFailsNonblock) != 0;
  }
  void EndOpen(int t, bool only_end = false);
  std::optional<std::string_view> SecondaryCall(int t, const Op& op, std::string* result);
  void PutUser(int t);     // drops one user now, or owes it while a lock is held
  void DropUserNow(int t);
  void ThreadCleanup(int t);
  void GlobalCleanup();
  void FinalChecks();

  // Oracles.
  void CheckMirrors(bool all_pages);
  void CheckQuiescentSeq();
  [[noreturn]] void Fail(const Failure& failure);
  [[noreturn]] void Fail(Property p, std::string_view what);  // Violated(p, what)

  int SlotOf(const IntervalSub* sub) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  ClassicObject* ObjectOf(const ClassicSub* sub) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  ClassicObject* AddObject(ClassicSub* obj, bool get_kind) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void EndInvalidationBookkeeping(PageSpan span) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ClearPendingIfNothingInProgress() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ForgetClassicStarts(ClassicObject* o) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  int ThreadIndex();
  void NoteIfTracing(int t, const std::string& text);

  const Program& program_;
  ConcurrentHost* const host_;
  const int num_threads_;
  std::unique_ptr<Target> target_;
  PageTable page_table_;
  std::array<Driver, kIntervalSlots> drivers_;
  std::atomic<bool> finished_{false};
  std::atomic<bool> cleanup_{false};  // the global cleanup runs (alone)

  BookMutex mu_;
  std::array<IntervalSlot, kIntervalSlots> slots_ ABSL_GUARDED_BY(mu_);
  std::array<ClassicSlot, kClassicSlots> cslots_ ABSL_GUARDED_BY(mu_);
  std::array<ClassicObject, kMaxClassicObjects> objects_ ABSL_GUARDED_BY(mu_);
  int num_objects_ ABSL_GUARDED_BY(mu_) = 0;
  UserState program_user_ ABSL_GUARDED_BY(mu_) = UserState::kHeld;
  // Invalidations between their start's beginning and their end's (or failed
  // start's) return, in total and per page; PutUser calls running.
  int inv_in_progress_ ABSL_GUARDED_BY(mu_) = 0;
  std::array<int, kTablePages> covered_ ABSL_GUARDED_BY(mu_){};
  int puts_in_progress_ ABSL_GUARDED_BY(mu_) = 0;
  // Threads inside ExecuteOp (synchronize's check). Not under mu_: taking a
  // BookMutex at every op's begin and end would order each op after every
  // other thread's earlier ops for the race detector (P10) and hide the races
  // between them (the put_user_unlocked reproducer passed with it). A relaxed
  // std::atomic orders nothing the detector sees.
  std::atomic<int> ops_running_{0};
  // Ops begun so far (the same reasons): synchronize's check counts the queued
  // frees only if no op began while it counted (the kernel target's count
  // yields, and a put begun meanwhile queues a free it then sees).
  std::atomic<uint64_t> ops_begun_{0};
  // Invalidations and puts begun so far: CheckQuiescentSeq's read of the seq
  // counts only if none began while it ran (the read may yield after it has
  // read the value, as the kernel target's spin_unlock does).
  uint64_t activity_begun_ ABSL_GUARDED_BY(mu_) = 0;
  // See KeepFailingClassicsApart: a subscriber whose start can fail has been
  // registered or got (sticky), and non-blockable starts running now.
  bool failing_classic_seen_ ABSL_GUARDED_BY(mu_) = false;
  // Warnings an armed misbehaviour has caused and the core still owes / has
  // given (OnWarning accepts only owed ones; the final check wants none owed).
  std::array<long, kNumWarnings> owed_warnings_ ABSL_GUARDED_BY(mu_){};
  std::array<long, kNumWarnings> accepted_warnings_ ABSL_GUARDED_BY(mu_){};
  int nonblock_starts_ ABSL_GUARDED_BY(mu_) = 0;
  // The page table as the world changed it (the oracles' copy: reading the real
  // one is a yield point in the deterministic flavour).
  std::array<PageValue, kTablePages> shadow_ ABSL_GUARDED_BY(mu_);
  bool release_walk_seen_ ABSL_GUARDED_BY(mu_) = false;
  int threads_done_ ABSL_GUARDED_BY(mu_) = 0;
  // Per logical thread, plus the global cleanup's (kCleanupThread). Each is
  // touched only by its own thread, except `walk.expected`, which a remove
  // clears under mu_ (so every Walk field is read and written under mu_).
  std::array<ThreadState, kMaxThreads + 1> threads_;
  std::array<std::atomic<long>, kNumWarnings> warnings_{};
};

}  // namespace nf::fuzz

#endif  // NF_FUZZERS_CONCURRENT_WORLD_H_
