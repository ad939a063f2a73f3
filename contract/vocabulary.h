// contract/vocabulary.h: the contract's terms (docs/contract.md §1), owned by
// no implementation: the sequence number, the events, the range, the misuse
// warnings and the observer's snapshot. The bottom of the project with sync/:
// nf's core, the target seam and the harnesses all speak it.
#ifndef NF_CONTRACT_VOCABULARY_H_
#define NF_CONTRACT_VOCABULARY_H_

#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

namespace nf {

using Seq = unsigned long;  // the kernel's type; wraps around, parity still holds

// Why a range is invalidated (the kernel's enum mmu_notifier_event).
enum class Event : uint8_t {
  kUnmap = 0,
  kClear,
  kProtectionVma,
  kProtectionPage,
  kSoftDirty,
  kRelease,
  kMigrate,
  kExclusive,
};
inline constexpr int kNumEvents = 8;
std::string_view EventName(Event e);

// A range being invalidated: [start, end), end exclusive.
struct Range {
  uint64_t start = 0;
  uint64_t end = 0;
  bool blockable = true;  // false: callbacks may not sleep (the OOM reaper)
  Event event = Event::kUnmap;
  const void* owner = nullptr;  // for MIGRATE filtering by drivers
};

// The RELEASE walk of §5: [0, UINT64_MAX) with the RELEASE event. No program
// range starts at 0 and ends at the top (the boundary ops' top ranges are short).
inline bool IsReleaseWalk(const Range& r) {
  return r.event == Event::kRelease && r.start == 0 && r.end == ~uint64_t{0};
}

// Misuse and driver bugs an implementation may detect and report (nf's core
// reports all of them; a target says which through its traits).
enum class Warning : uint8_t {
  kBlockableCallbackFailed = 0,  // a callback returned false on a blockable range
  kRemoveNotInserted,            // remove of a subscription not inserted
  kRemoveFromCallback,           // remove inside a callback (hard failure)
  kEndWithoutStart,              // invalidate end with no open start on this thread
  kInsertTwice,                  // insert of a subscription already inserted
  kSetSeqEven,                   // set_seq with an even cur_seq (ignored)
  kReleaseCallbackFailed,        // an interval callback returned false on RELEASE
  kUnregisterNotRegistered,      // unregister of a subscriber never registered
  kBlockingInCallback,           // a sleeping call inside a callback (hard failure)
  kRegisterTwice,                // register of a subscriber already registered
  kPutNotRegistered,             // put of a subscriber not registered
  kUserAfterExit,                // a user taken once the last user has gone (hard failure)
};
inline constexpr int kNumWarnings = 12;
std::string_view WarningName(Warning w);

// The state of an address space, read under its lock: the observer's view
// (for nf's core: IntervalSubscription and ClassicSubscription; for the target
// seam: its handles).
template <typename IntervalT, typename ClassicT>
struct BasicSnapshot {
  struct Interval {
    const IntervalT* sub;
    uint64_t start;
    uint64_t last;
    Seq seq;
  };
  struct Deferred {
    const IntervalT* sub;
    bool insert;  // false: removal
  };
  long users = 0;
  long refs = 0;
  bool released = false;
  bool has_subscriptions = false;  // the lazily created object exists
  bool has_itree = false;
  Seq invalidate_seq = 0;
  long active_invalidate_ranges = 0;
  long open_invalidations = 0;  // successful starts not yet ended
  std::vector<Interval> tree;   // in tree order (ascending start)
  std::vector<Deferred> deferred;
  std::vector<const ClassicT*> classic;  // list order
  int pending_frees = 0;        // put frees waiting for a grace period
  std::array<long, kNumWarnings> warnings{};
};

}  // namespace nf

#endif  // NF_CONTRACT_VOCABULARY_H_
