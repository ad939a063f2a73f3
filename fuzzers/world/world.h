// fuzzers/world/world.h: the world of a program run: one target address space
// (target/target.h), its page table, one Driver (harness/driver.h, spec §6) per
// interval slot, and the handles of the subscriptions and classic subscribers a
// program creates. The sequential World is here; the concurrent one is
// concurrent_world.h.
//
// One driver per interval slot: each slot models one device mirror of its own
// range with its own user lock (as test_hmm has one dmirror lock per mirror). A
// per-slot lock makes the non-blocking failure precise: a walk fails exactly at
// the subscription whose driver lock is busy, so the reference model can say
// which callbacks ran before it.
//
// Lifetimes are real: a subscription is freed right after remove returns, a
// registered classic subscriber right after unregister returns, and a get/put
// subscriber in its free callback. A target that calls a callback after that is
// a use after free under ASan (and a P5 report everywhere, since callbacks first
// check the pointer against the live slots without touching it).
//
// The code only uses nf::sync types, so it runs unchanged in both seam flavours.
// Callbacks find their World (a CallbackSink) through a per-OS-thread pointer
// set by CallbackSink::Scope for the duration of a run (the deterministic
// scheduler's fibers share their OS thread's); nothing outlives the run.
#ifndef NF_FUZZERS_WORLD_WORLD_H_
#define NF_FUZZERS_WORLD_WORLD_H_

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "fuzzers/oracles/property.h"
#include "fuzzers/program/program.h"
#include "harness/driver.h"
#include "target/target.h"

namespace nf::fuzz {

using harness::Driver;
using harness::PagesOf;
using harness::PagesOfRange;
using harness::PageSpan;
using harness::PageTable;
using harness::PageValue;
using target::CallbackSink;
using target::ClassicSub;
using target::IntervalSub;
using target::Snapshot;
using target::Target;

inline constexpr int kNumClassicIds = kClassicSlots + kNumBehaviours;
inline int GetKindId(uint8_t behaviour) { return kClassicSlots + behaviour; }

// A new target address space for a program that starts at this seq.
std::unique_ptr<Target> NewTarget(InitialSeq initial_seq);

// The young answer of classic subscriber `id` for a range starting at `start`
// (a secondary-MMU subscriber's clear_flush_young, clear_young, test_young):
// a fixed function of both, so that the model predicts it and ranges on
// neighbouring pages differ.
inline bool ClassicYoung(int id, uint64_t start) {
  return ((static_cast<uint64_t>(id) + start / kPageSize) & 1) == 0;
}

// One callback as the world saw it.
struct CallbackRecord {
  // kClearFlushYoung .. kSecondaryTlb: target::SecondaryCall, in its order.
  enum class Kind : uint8_t {
    kInterval, kStart, kEnd, kRelease, kFree,
    kClearFlushYoung, kClearYoung, kTestYoung, kChangePte, kSecondaryTlb,
  };
  static_assert(static_cast<int>(Kind::kSecondaryTlb) - static_cast<int>(Kind::kClearFlushYoung) ==
                static_cast<int>(target::SecondaryCall::kSecondaryTlb));
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
  bool flag = false;    // the young calls (young), read_only
  bool operator==(const OpResult&) const = default;
};
std::string DescribeResult(OpCode code, const OpResult& r);
// The range of an op with a range (with its flags, where it has them).
Range RangeOfOp(const Op& op);

// WHAT A TARGET MAY BE ASKED: the one skip rule of a target's Traits, shared
// by every executor (executors/sequential.cc, concurrent_world.cc; the
// real-thread executor runs the concurrent world). An op the target's Traits
// put outside what it promises, decided from the op alone: the secondary-MMU
// API where the target has none (Traits::secondary_mmu_api), an armed driver
// bug where the target reports it as its own check rather than a warning
// (Traits::reports_misuse), an invalidation of an empty range where the
// target's walk does not treat it as empty (Traits::empty_range_walks_nothing).
// nullopt: the target may be asked. What depends on an executor's own state
// stays with it: the caller contract (Model::SkipReason, ConcurrentWorld's
// SkipReason and slot states) and the sequential executor's rules over the
// model's state (misuse a target does not detect, a user it needs, ...).
std::optional<std::string_view> TargetSkipReason(const target::Traits& traits, const Op& op);

// Hooks for the checker: called on every interval callback before the driver
// runs (P3 checks there), and for any violation the world itself detects.
class WorldObserver {
 public:
  virtual ~WorldObserver() = default;
  virtual void AtIntervalCallback(const IntervalSub& sub, const Range& range, Seq cur_seq) = 0;
  [[noreturn]] virtual void Violation(const Failure& failure) = 0;
};

// The real side of a program run: one target address space and everything
// around it.
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
  // holds it. Call after the program's cleanup; target() is invalid after.
  void Finish();

  Target* target() { return target_.get(); }
  const target::Traits& target_traits() const { return target_->traits(); }
  const PageTable& page_table() const { return page_table_; }
  const Driver& driver(int slot) const { return drivers_[slot]; }
  const IntervalSub* sub(int slot) const { return subs_[slot]; }
  const ClassicSub* classic(int id) const { return classics_[id]; }
  // The slot of a live subscription / the id of a live classic subscriber, or -1.
  int SlotOf(const IntervalSub* sub) const;
  int ClassicIdOf(const ClassicSub* sub) const;
  int live_subs() const { return live_subs_; }
  int live_classics() const { return live_classics_; }
  const std::array<long, kNumWarnings>& warnings() const { return warnings_; }

  // The callbacks since the last ClearLog().
  const std::vector<CallbackRecord>& log() const { return log_; }
  void ClearLog() { log_.clear(); }

  // Callback entry points (from the static ops tables).
  bool OnInterval(IntervalSub* sub, const Range& range, Seq cur_seq) override;
  void OnClassicRelease(ClassicSub* sub) override;
  bool OnClassicStart(ClassicSub* sub, const Range& range) override;
  void OnClassicEnd(ClassicSub* sub, const Range& range) override;
  bool OnClassicSecondary(ClassicSub* sub, target::SecondaryCall call, uint64_t start,
                          uint64_t end) override;
  ClassicSub* OnAlloc(uint8_t behaviour) override;
  void OnFree(ClassicSub* sub) override;
  void OnWarning(Warning w, std::string_view) override { ++warnings_[static_cast<int>(w)]; }
  void OnTargetReport(std::string_view what) override { observer_->Violation(NotAProperty(what)); }

 private:
  struct ThreadState {
    std::vector<target::Invalidation> open;  // this thread's open inv_starts
    std::array<Seq, kIntervalSlots> last_seq{};  // per slot; 0 before read_begin
  };

  ClassicSub* CheckedClassic(ClassicSub* sub, const char* callback);
  void Record(const CallbackRecord& r) { log_.push_back(r); }

  WorldObserver* const observer_;
  std::unique_ptr<Target> target_;
  bool finished_ = false;
  PageTable page_table_;
  std::array<Driver, kIntervalSlots> drivers_;
  std::array<IntervalSub*, kIntervalSlots> subs_{};
  std::array<ClassicSub*, kNumClassicIds> classics_{};
  std::array<int, kNumBehaviours> get_refs_{};  // references the program holds
  std::array<int, kIntervalSlots> lock_holder_;  // thread holding a driver lock, or -1
  // Misbehaviours armed by `misbehave` (program.h Misbehaviour), each used once.
  struct Armed {
    bool fail_blockable = false;
    bool even_seq = false;
  };
  std::array<Armed, kIntervalSlots> armed_{};
  std::array<bool, kClassicSlots> fail_start_armed_{};
  std::vector<ThreadState> threads_;
  std::vector<CallbackRecord> log_;
  std::array<long, kNumWarnings> warnings_{};
  int live_subs_ = 0;
  int live_classics_ = 0;
  bool program_user_ = true;
};

}  // namespace nf::fuzz

#endif  // NF_FUZZERS_WORLD_WORLD_H_
