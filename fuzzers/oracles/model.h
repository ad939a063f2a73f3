// fuzzers/oracles/model.h: a deliberately simple sequential reference model of the spec.
//
// Plain arrays and counters, no tree, no locks. It predicts every observable
// result of a program whose ops run one at a time (the sequential fuzzer):
//
//   - each op's return value: status code, TryGetUser's answer, read_begin's seq,
//     read_retry/check_retry, fault attempts;
//   - the callbacks each op makes: for an interval walk, the set of overlapping
//     subscriptions (each exactly once, all with the walk's cur_seq, the range and
//     the callback's result); classic start/end/release/free per subscriber;
//     compared as a set where the order is not defined;
//   - the state after it: global seq, active ranges, open invalidations, users,
//     references, released, has_itree, the tree (as a multiset) and deferred
//     list, each subscription's seq, the classic list, warnings, the mirrors and
//     the page table.
//
// The one ordering rule it relies on: a walk visits overlapping subscriptions
// by ascending start (core/interval_tree.h), equal starts in any order. It
// matters only for a non-blocking walk that fails at a busy driver: the model
// accepts any visit order consistent with the rule and adopts the one that
// happened (who was called before the failure keeps its new seq).
//
// THE SKIP RULE. In a sequential run every logical thread shares one OS thread,
// so an op that would wait can never be woken. The model names those ops
// (SkipReason) and the fuzzer does not run them; they mirror the kernel's caller
// contract. An op is skipped when it would:
//   - wait for an odd epoch: read_begin or fault on a subscription whose seq
//     equals the global seq (being invalidated, or inserted during the epoch);
//     remove of a subscription in the tree while the seq is odd;
//   - wait for the registration exclusion while an invalidation is open:
//     register or get with a live user, or an insert that must first set up the
//     interval tree (no subscriptions object or !has_itree);
//   - take a driver lock that a `lock` op holds (deadlock): a blockable
//     invalidation overlapping such a subscription, a fault on it, read_retry,
//     lock or remove (the driver clears its mirror under its lock) by a thread
//     that does not hold it;
//   - nest driver locks: every logical thread runs on the one OS thread, so a
//     lock op's lock stays held while the other threads' ops run. At most one
//     driver lock is held by lock ops at a time, and while it is, no op takes
//     another driver's lock (a blockable walk that calls any subscription;
//     release, by `release` or by the inv_end that drops the last user, with
//     subscriptions left; fault, read_retry or remove on another slot; another
//     lock): no real thread nests them, and TSan would report lock-order
//     inversions. Non-blocking walks still run (they only try-lock);
//   - be outside the kernel's caller contract: a non-blockable invalidation with
//     event RELEASE whose walk would fail (the kernel sends RELEASE only from exit,
//     blockable; the core warns kReleaseCallbackFailed and goes on instead of
//     failing with EAGAIN);
//   - have no meaning: read_begin/read_retry/check_retry/fault on an empty slot,
//     unlock of a lock the thread does not hold, release twice, inv_end in a
//     thread with no open inv_start while another thread has one.
// Driver misbehaviours (`misbehave`, program.h Misbehaviour) run and must warn
// exactly as predicted: a blockable interval callback that returns false
// (kBlockableCallbackFailed, kReleaseCallbackFailed on RELEASE; the walk goes
// on), set_seq with an even seq (kSetSeqEven; ignored), a classic start that
// fails on a blockable range (kBlockableCallbackFailed; the start succeeds).
// The model runs nf's core only (Traits::reports_misuse); on another target the
// world arms nothing.
// The rest of the kernel's API (docs/contract.md §10, program.h): insert_locked
// is insert, inv_only_end is inv_end (6.1's end also calls each secondary
// subscriber's secondary-TLB method, SetTraits; the range-only end does not),
// invalidate_mm is invalidate without a user (it walks after release too),
// synchronize predicts nothing; the young calls, change_pte and
// secondary_tlb predict each linked secondary subscriber's callback (test_young:
// any order, stopping at the first young answer) and the ORed answer; read_only
// its result. On nf's core the sequential executor skips the secondary-MMU ops.
// Ops that are misuse the core detects and survives run and must warn exactly as
// predicted: insert into an occupied slot (kInsertTwice), remove of an empty slot
// (kRemoveNotInserted), unregister of an empty slot (kUnregisterNotRegistered),
// put without a reference (kPutNotRegistered), register into an occupied slot
// (kRegisterTwice), inv_end with no open start anywhere (kEndWithoutStart). Ops
// that need a live user take one with TryGetUser() around them; once the last
// user has gone, insert/register/get still run and must fail with
// FailedPrecondition, and invalidations/faults do nothing.
#ifndef NF_FUZZERS_MODEL_H_
#define NF_FUZZERS_MODEL_H_

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/types/span.h"
#include "fuzzers/oracles/property.h"
#include "fuzzers/world/world.h"
#include "fuzzers/program/program.h"

namespace nf::fuzz {

class Model {
 public:
  struct Sub {
    bool present = false;
    bool deferred_insert = false;  // on the deferred list, not yet in the tree
    uint64_t start = 0;
    uint64_t last = 0;
    Seq seq = 0;
  };
  struct Classic {
    bool exists = false;      // allocated / registered and not yet freed / deleted
    bool linked = false;      // on the classic list
    bool registered = false;  // between register/get and unregister/last put
    bool claimed = false;     // its release was called (or claimed) already
    unsigned users = 0;
    uint8_t behaviour = 0;
  };
  struct Thread {
    std::vector<Range> open;  // this thread's open inv_starts
    std::array<Seq, kIntervalSlots> last_seq{};
  };

  Model(InitialSeq initial_seq, int num_threads);
  // The target's API where versions differ (Traits::has_change_pte, ...);
  // nf's core (the default) has none of §9.
  void SetTraits(const target::Traits& traits) { traits_ = traits; }

  // Why op cannot run now in a sequential run (see the skip rule), or nullopt.
  std::optional<std::string_view> SkipReason(int thread, const Op& op) const;

  // Runs op in the model: predicts its result and callbacks, checks `actual`
  // and `log` (everything the world recorded during the op) against them, and
  // updates the state. Returns nothing (empty) or what differed.
  Failure Apply(int thread, const Op& op, const OpResult& actual,
                    absl::Span<const CallbackRecord> log);

  // --- the predicted state ---
  long users = 1;
  long refs = 2;  // the users' reference and the world's
  bool released = false;
  bool has_subscriptions = false;
  bool has_itree = false;
  Seq seq;
  long active = 0;
  long open = 0;  // successful starts not yet ended (the exclusion count)
  std::array<Sub, kIntervalSlots> subs;
  std::array<Classic, kNumClassicIds> classics;
  std::array<int, kNumBehaviours> get_refs{};  // references the program holds
  std::array<int, kIntervalSlots> lock_holder;  // thread holding the driver lock, or -1
  // Driver misbehaviours armed by `misbehave`, each used by the next callback
  // that qualifies (program.h Misbehaviour); cleared when the slot empties.
  struct Armed {
    bool fail_blockable = false;
    bool even_seq = false;
  };
  std::array<Armed, kIntervalSlots> armed{};
  std::array<bool, kClassicSlots> fail_start_armed{};
  std::array<std::array<PageValue, kTablePages>, kIntervalSlots> mirrors{};
  std::array<PageValue, kTablePages> page_table;
  std::array<long, kNumWarnings> warnings{};
  std::vector<Thread> threads;
  bool program_user = true;

  int deferred_count() const;
  int tree_count() const;
  int linked_count() const;

 private:
  class Run;  // one Apply's expectations and log cursor
  target::Traits traits_;
};

}  // namespace nf::fuzz

#endif  // NF_FUZZERS_MODEL_H_
