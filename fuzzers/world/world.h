// fuzzers/driver.h: the driver model of spec §6 and the test world around it.
//
// Modelled on the kernel's lib/test_hmm.c. The world owns one address space, its
// page table, one Driver per interval slot, and the heap objects of the
// subscriptions and classic subscribers a program creates.
//
// One driver per interval slot: each slot models one device mirror of its own
// range with its own user lock (as test_hmm has one dmirror lock per mirror). A
// per-slot lock makes the non-blocking failure precise: a walk fails exactly at
// the subscription whose driver lock is busy, so the reference model can say
// which callbacks ran before it.
//
// Lifetimes are real: a subscription is deleted right after RemoveInterval
// returns, a registered classic subscriber right after UnregisterClassic returns,
// and a get/put subscriber in its free_notifier. A core that calls a callback
// after that is a use after free under ASan (and a P5 report everywhere, since
// callbacks first check the pointer against the live slots without touching it).
//
// The code only uses nf::sync types, so it runs unchanged in both seam flavours.
// Callbacks find their World (a CallbackSink) through a per-OS-thread pointer
// set by CallbackSink::Scope for the duration of a run (the deterministic
// scheduler's fibers share their OS thread's); nothing outlives the run.
#ifndef NF_FUZZERS_DRIVER_H_
#define NF_FUZZERS_DRIVER_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "core/notifier.h"
#include "sync/sync.h"
#include "fuzzers/program/program.h"

namespace nf::fuzz {

// A page's value in the page table: a version bumped on every change. In a
// mirror, 0 means "no entry"; the page table's values start at 1.
using PageValue = uint32_t;

// Pages [first, end) of the page table covered by the closed interval
// [start, last], clipped to the table.
struct PageSpan {
  int first = 0;
  int end = 0;  // exclusive; first >= end: empty
  bool empty() const { return first >= end; }
};
PageSpan PagesOf(uint64_t start, uint64_t last);
// The pages of a Range ([start, end) exclusive).
PageSpan PagesOfRange(const Range& r);

// The address space's page table (page -> value). Owned by the world; changed
// only between a successful InvalidateRangeStart and its end, over the range.
// Read without a lock by faults (hence atomics).
class PageTable {
 public:
  PageTable();
  PageTable(const PageTable&) = delete;
  PageTable& operator=(const PageTable&) = delete;

  PageValue Read(int page) const { return pages_[page].Load(std::memory_order_relaxed); }
  // Bumps every page of span by one (an atomic increment per page).
  void Change(PageSpan span);

 private:
  std::array<sync::Atomic<PageValue>, kTablePages> pages_;
};

// One device mirror (spec §6): a user lock and a mirror (page -> value).
class Driver {
 public:
  Driver();
  Driver(const Driver&) = delete;
  Driver& operator=(const Driver&) = delete;

  // The interval invalidate callback: blockable: lock; non-blockable: try-lock
  // and return false if busy. Then SetSeq(cur_seq), erase the mirror over
  // range ∩ [sub->start(), sub->last()], unlock, return true.
  bool Invalidate(IntervalSubscription* sub, const Range& range, Seq cur_seq);

  // The fault loop: read_begin; read the page table over `pages` ∩ the
  // subscription (no lock); lock; read_retry? unlock and loop : install, unlock.
  // At most kMaxFaultAttempts rounds. Returns the number of rounds, negated if
  // the last one still had to retry (nothing installed).
  int Fault(IntervalSubscription* sub, const PageTable& pt, PageSpan pages);

  // read_retry under the user lock (taken here unless an op of the calling
  // logical thread already holds it, see HoldLock).
  bool ReadRetry(IntervalSubscription* sub, Seq seq, bool caller_holds_lock);

  // The `lock`/`unlock` ops: hold the user lock across ops, as a fault stuck
  // between its lock and unlock would. While held this way a non-blocking
  // callback fails without calling TryLock, which would be undefined for a
  // std::mutex the calling OS thread owns (the sequential fuzzer runs every
  // logical thread on one OS thread).
  void HoldLock();
  void DropLock();

  // The driver stops mirroring (after its subscription was removed), under its
  // user lock (taken here unless the caller holds it through HoldLock).
  void ClearMirror(bool caller_holds_lock);

  // For oracles, when no other thread runs: the mirror's entry for a page.
  PageValue MirrorForTesting(int page) const ABSL_NO_THREAD_SAFETY_ANALYSIS {
    return mirror_[page];
  }
  const std::array<PageValue, kTablePages>& MirrorArrayForTesting() const
      ABSL_NO_THREAD_SAFETY_ANALYSIS {
    return mirror_;
  }

 private:
  mutable sync::Mutex mu_;
  std::array<PageValue, kTablePages> mirror_ ABSL_GUARDED_BY(mu_);
  sync::Atomic<bool> held_by_op_{false};  // written with mu_ held, read without
};

// An interval subscription of the world: a heap object per insert.
struct TestSub : IntervalSubscription {
  explicit TestSub(int s) : slot(s) {}
  const int slot;
};

// A classic subscriber of the world. id: the classic slot (register) or
// kClassicSlots + behaviour (get/put).
class TestClassic : public ClassicSubscription {
 public:
  TestClassic(const ClassicOps* ops, int id, uint8_t behaviour)
      : ClassicSubscription(ops), id_(id), behaviour_(behaviour) {}
  int id() const { return id_; }
  uint8_t behaviour() const { return behaviour_; }

 private:
  const int id_;
  const uint8_t behaviour_;
};

inline constexpr int kNumClassicIds = kClassicSlots + kNumBehaviours;
inline int GetKindId(uint8_t behaviour) { return kClassicSlots + behaviour; }

// The static ops tables: one per behaviour, for register (no alloc/free) and for
// get/put (with alloc/free; GetClassic finds a subscriber by its ops).
const ClassicOps* RegisterOpsFor(uint8_t behaviour);
const ClassicOps* GetOpsFor(uint8_t behaviour);
const IntervalOps* TestIntervalOps();

// One callback as the world saw it.
struct CallbackRecord {
  enum class Kind : uint8_t { kInterval, kStart, kEnd, kRelease, kFree };
  Kind kind = Kind::kInterval;
  int id = 0;  // interval slot, or classic id
  uint64_t start = 0;
  uint64_t end = 0;
  bool blockable = true;
  Event event = Event::kUnmap;
  Seq cur_seq = 0;     // interval only
  bool result = true;  // interval and start: what the callback returned
  bool operator==(const CallbackRecord&) const = default;
};
std::string DescribeRecord(const CallbackRecord& r);

// What an executed op returned.
struct OpResult {
  bool got_user = true;  // TryGetUser's answer, for ops that take a user
  absl::StatusCode code = absl::StatusCode::kOk;
  Seq seq = 0;          // read_begin
  bool retry = false;   // read_retry, check_retry
  int attempts = 0;     // fault (see Driver::Fault)
  bool operator==(const OpResult&) const = default;
};
std::string DescribeResult(OpCode code, const OpResult& r);

// Where the static ops tables (RegisterOpsFor, GetOpsFor, TestIntervalOps) send
// every callback: the sink of the calling OS thread, set by CallbackSink::Scope
// for the duration of a run. The sequential World and the concurrent world
// (concurrent_world.h) are the two sinks.
class CallbackSink {
 public:
  virtual ~CallbackSink() = default;
  virtual bool OnInterval(IntervalSubscription* sub, const Range& range, Seq cur_seq) = 0;
  virtual void OnClassicRelease(ClassicSubscription* sub) = 0;
  virtual bool OnClassicStart(ClassicSubscription* sub, const Range& range) = 0;
  virtual void OnClassicEnd(ClassicSubscription* sub, const Range& range) = 0;
  virtual ClassicSubscription* OnAlloc(uint8_t behaviour) = 0;
  virtual void OnFree(ClassicSubscription* sub) = 0;

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
  static CallbackSink* Current();
};

// Hooks for the checker: called on every interval callback before the driver
// runs (P3 checks there), and for any violation the world itself detects.
class WorldObserver {
 public:
  virtual ~WorldObserver() = default;
  virtual void AtIntervalCallback(const TestSub& sub, const Range& range, Seq cur_seq) = 0;
  [[noreturn]] virtual void Violation(const std::string& what) = 0;
};

// The real side of a program run: one address space and everything around it.
// Sequential: every logical thread runs on the calling OS thread, one op at a
// time (sequential.h); set it as the sink with World::Scope.
class World final : public CallbackSink {
 public:
  World(InitialSeq initial_seq, int num_threads, WorldObserver* observer);
  ~World() override;  // requires Finish()
  World(const World&) = delete;
  World& operator=(const World&) = delete;

  // Runs op for logical thread `thread`. The caller (the reference model)
  // decided that it may run; see model.h for which ops are skipped.
  OpResult Execute(int thread, const Op& op);

  // Drops the world's own reference: the address space is freed if nothing else
  // holds it. Call after the program's cleanup; Inspect() is invalid after.
  void Finish();

  AddressSpace* space() { return space_; }
  const PageTable& page_table() const { return page_table_; }
  const Driver& driver(int slot) const { return drivers_[slot]; }
  const TestSub* sub(int slot) const { return subs_[slot]; }
  const TestClassic* classic(int id) const { return classics_[id]; }
  // The slot of a live subscription / the id of a live classic subscriber, or -1.
  int SlotOf(const IntervalSubscription* sub) const;
  int ClassicIdOf(const ClassicSubscription* sub) const;
  int live_subs() const { return live_subs_; }
  int live_classics() const { return live_classics_; }
  const std::array<long, kNumWarnings>& warnings() const { return warnings_; }
  // Open invalidations of a thread, oldest first.
  const std::vector<Range>& open_ranges(int thread) const { return threads_[thread].open; }

  // The callbacks since the last ClearLog().
  const std::vector<CallbackRecord>& log() const { return log_; }
  void ClearLog() { log_.clear(); }

  // Callback entry points (from the static ops tables).
  bool OnInterval(IntervalSubscription* sub, const Range& range, Seq cur_seq) override;
  void OnClassicRelease(ClassicSubscription* sub) override;
  bool OnClassicStart(ClassicSubscription* sub, const Range& range) override;
  void OnClassicEnd(ClassicSubscription* sub, const Range& range) override;
  ClassicSubscription* OnAlloc(uint8_t behaviour) override;
  void OnFree(ClassicSubscription* sub) override;

 private:
  struct ThreadState {
    std::vector<Range> open;  // ranges of this thread's open inv_starts
    std::array<Seq, kIntervalSlots> last_seq{};  // per slot; 0 before read_begin
  };

  TestClassic* CheckedClassic(ClassicSubscription* sub, const char* callback);
  void Record(const CallbackRecord& r) { log_.push_back(r); }

  WorldObserver* const observer_;
  AddressSpace* space_ = nullptr;
  bool finished_ = false;
  PageTable page_table_;
  std::array<Driver, kIntervalSlots> drivers_;
  std::array<TestSub*, kIntervalSlots> subs_{};
  std::array<TestClassic*, kNumClassicIds> classics_{};
  std::array<int, kNumBehaviours> get_refs_{};  // references the program holds
  std::array<int, kIntervalSlots> lock_holder_;  // thread holding a driver lock, or -1
  std::vector<ThreadState> threads_;
  std::vector<CallbackRecord> log_;
  std::array<long, kNumWarnings> warnings_{};
  int live_subs_ = 0;
  int live_classics_ = 0;
  bool program_user_ = true;
};

}  // namespace nf::fuzz

#endif  // NF_FUZZERS_DRIVER_H_
