#include "fuzzers/program/program.h"

#include <algorithm>
#include <array>
#include <initializer_list>

namespace nf::fuzz {
namespace {

using O = Operands;
using R = ResultKind;
using C = Contract;
using M = Misuse;

// One row per OpCode, in opcode order.
constexpr std::array<OpInfo, kNumOpCodes> kOpTable = {{
    {"insert", O::kInsert, R::kStatus, true, C::kInsert, false, M::kIntervalSlotTaken, false},
    {"remove", O::kIntervalSlot, R::kStatus, true, C::kMaySleep, true, M::kIntervalSlotEmpty, false},
    {"invalidate", O::kRange, R::kStatus, true, C::kWalk, true, M::kNone, false},
    {"inv_start", O::kRange, R::kStatus, true, C::kWalk, true, M::kNone, false},
    {"inv_end", O::kNone, R::kStatus, true, C::kEndsOpen, true, M::kNoOpenStart, false},
    {"read_begin", O::kIntervalSlot, R::kSeq, false, C::kMaySleep, false, M::kNone, false},
    {"read_retry", O::kIntervalSlot, R::kRetry, false, C::kSlotLock, false, M::kNone, false},
    {"check_retry", O::kIntervalSlot, R::kRetry, false, C::kFree, false, M::kNone, false},
    {"fault", O::kFault, R::kAttempts, false, C::kMaySleep, true, M::kNone, false},
    {"register", O::kRegister, R::kStatus, true, C::kMaySleep, false, M::kClassicSlotTaken, false},
    {"unregister", O::kClassicSlot, R::kStatus, true, C::kMaySleep, false, M::kClassicSlotEmpty, false},
    {"get", O::kBehaviour, R::kStatus, true, C::kMaySleep, false, M::kNone, false},
    {"put", O::kBehaviour, R::kStatus, true, C::kFree, false, M::kNoReference, false},
    {"release", O::kNone, R::kStatus, true, C::kReleaseWalk, true, M::kNone, false},
    {"lock", O::kIntervalSlot, R::kStatus, false, C::kTakesLock, false, M::kNone, false},
    {"unlock", O::kIntervalSlot, R::kStatus, false, C::kDropsLock, false, M::kNone, false},
    {"insert_at", O::kInsertAt, R::kStatus, true, C::kInsert, false, M::kIntervalSlotTaken, false},
    {"invalidate_at", O::kRangeAt, R::kStatus, true, C::kWalk, true, M::kNone, false},
    {"inv_start_at", O::kRangeAt, R::kStatus, true, C::kWalk, true, M::kNone, false},
    {"fault_at", O::kFaultAt, R::kAttempts, false, C::kMaySleep, true, M::kNone, false},
    {"misbehave", O::kMisbehave, R::kStatus, false, C::kFree, false, M::kNone, false},
    {"clear_flush_young", O::kRange, R::kFlag, false, C::kRmapCall, true, M::kNone, true},
    {"clear_young", O::kRange, R::kFlag, false, C::kRmapCall, true, M::kNone, true},
    {"test_young", O::kRange, R::kFlag, false, C::kRmapCall, true, M::kNone, true},
    {"change_pte", O::kRange, R::kStatus, false, C::kRmapCall, true, M::kNone, true},
    {"secondary_tlb", O::kRange, R::kStatus, false, C::kRmapCall, true, M::kNone, true},
    {"register_secondary", O::kRegister, R::kStatus, true, C::kMaySleep, true, M::kClassicSlotTaken, true},
    // The caller holds the mmap lock, which ranks above the rmap locks an open
    // invalidation holds and the driver locks: never while open or held.
    {"insert_locked", O::kInsert, R::kStatus, true, C::kMaySleep, true, M::kIntervalSlotTaken, false},
    {"read_only", O::kRange, R::kFlag, false, C::kFree, true, M::kNone, true},
    {"inv_only_end", O::kNone, R::kStatus, true, C::kEndsOpen, true, M::kNoOpenStart, false},
    {"synchronize", O::kNone, R::kStatus, true, C::kMaySleep, true, M::kNone, false},
    {"invalidate_mm", O::kRange, R::kStatus, true, C::kWalk, true, M::kNone, false},
}};

constexpr std::array<std::string_view, kNumMisbehaviours> kMisbehaviourNames = {
    "fail_blockable", "even_seq", "fail_start"};

constexpr OpInfo kUnknownOp = {"?", O::kNone, R::kStatus, false, C::kFree, true, M::kNone, false};

}  // namespace

const OpInfo& Info(OpCode code) {
  const auto i = static_cast<size_t>(code);
  return i < kOpTable.size() ? kOpTable[i] : kUnknownOp;
}

std::string_view OpCodeName(OpCode code) { return Info(code).name; }

std::optional<OpCode> OpCodeFromName(std::string_view name) {
  for (size_t i = 0; i < kOpTable.size(); ++i) {
    if (kOpTable[i].name == name) return static_cast<OpCode>(i);
  }
  return std::nullopt;
}

uint8_t NormalizeBehaviour(uint8_t bits, bool registered) {
  bits &= kNumBehaviours - 1;
  if (registered) bits &= ~kPutsSelfOnRelease;
  if (bits & kFailsNonblock) bits = (bits | kHasStart) & ~kHasEnd;
  if (bits & kPutsSelfOnRelease) bits |= kHasRelease;
  return bits;
}

std::string_view MisbehaviourName(Misbehaviour m) {
  const auto i = static_cast<size_t>(m);
  return i < kMisbehaviourNames.size() ? kMisbehaviourNames[i] : "?";
}

BoundaryRange NormalizeBoundary(BoundaryRange r, bool insert) {
  r.page %= kSpacePages;
  r.start_off %= kNumBoundaryOffsets;
  r.end_off %= kNumBoundaryOffsets;
  r.pages %= kMaxRangePages + 1;
  if (r.pages == 0 && kBoundaryOffsets[r.end_off] <= kBoundaryOffsets[r.start_off]) {
    r.end_off = r.start_off;  // empty
  }
  // An invalidation or fault whose end would be 2^64 - 1 or past: it ends at
  // ULONG_MAX, in one field form.
  const uint64_t rel_end =
      (uint64_t{r.page} + r.pages) * kPageSize + kBoundaryOffsets[r.end_off];
  if (!insert && r.top && rel_end >= uint64_t{kSpacePages} * kPageSize - 1) {
    r.pages = static_cast<uint8_t>(kSpacePages - r.page);
    r.end_off = 0;
  }
  return r;
}

namespace {

// The nominal length of a boundary range (its end may pass 2^64).
uint64_t NominalLength(const BoundaryRange& r) {
  return uint64_t{r.pages} * kPageSize + kBoundaryOffsets[r.end_off] -
         kBoundaryOffsets[r.start_off];  // normalized: never negative
}

}  // namespace

uint64_t Op::start() const {
  if (UsesBoundaryRange(code)) {
    return (at.top ? kOverflowBase : 0) + uint64_t{at.page} * kPageSize +
           kBoundaryOffsets[at.start_off];
  }
  const uint64_t base = shape == InsertShape::kOverflow ? kOverflowBase : 0;
  return base + uint64_t{page} * kPageSize;
}

uint64_t Op::length() const {
  if (UsesBoundaryRange(code)) {
    if (code != OpCode::kInsertAt && at.top && at.page + at.pages == kSpacePages) {
      return ~uint64_t{0} - start();  // ends at ULONG_MAX
    }
    return NominalLength(at);
  }
  switch (shape) {
    case InsertShape::kNormal:
      return uint64_t{pages} * kPageSize;
    case InsertShape::kZeroLength:
      return 0;
    case InsertShape::kOverflow:
      return (uint64_t{kSpacePages} + pages) * kPageSize;
  }
  return 0;
}

Op InsertOp(int slot, int page, int pages, InsertShape shape) {
  Op op;
  op.code = OpCode::kInsert;
  op.slot = static_cast<uint8_t>(slot);
  op.page = static_cast<uint8_t>(page);
  op.pages = shape == InsertShape::kZeroLength ? 0 : static_cast<uint8_t>(pages);
  op.shape = shape;
  return op;
}

Op SlotOp(OpCode code, int slot) {
  Op op;
  op.code = code;
  op.slot = static_cast<uint8_t>(slot);
  return op;
}

Op RangeOp(OpCode code, int page, int pages, bool blockable, Event event) {
  Op op;
  op.code = code;
  op.page = static_cast<uint8_t>(page);
  op.pages = static_cast<uint8_t>(pages);
  if (UsesRangeFlags(code)) {  // else the defaults: == compares meaning
    op.blockable = blockable;
    op.event = event;
  }
  return op;
}

Op FaultOp(int slot, int page, int pages) {
  Op op;
  op.code = OpCode::kFault;
  op.slot = static_cast<uint8_t>(slot);
  op.page = static_cast<uint8_t>(page);
  op.pages = static_cast<uint8_t>(pages);
  return op;
}

Op RegisterOp(int slot, uint8_t behaviour) {
  Op op;
  op.code = OpCode::kRegister;
  op.slot = static_cast<uint8_t>(slot);
  op.behaviour = NormalizeBehaviour(behaviour, /*registered=*/true);
  return op;
}

Op BehaviourOp(OpCode code, uint8_t behaviour) {
  Op op;
  op.code = code;
  op.behaviour = NormalizeBehaviour(behaviour, /*registered=*/false);
  return op;
}

Op BareOp(OpCode code) {
  Op op;
  op.code = code;
  return op;
}

harness::PageSpan PagesOfOp(const Op& op) {
  if (op.length() == 0) return {};
  return harness::PagesOf(op.start(), op.start() + op.length() - 1);
}

bool InsertRejected(const Op& op) {
  uint64_t last;
  return op.length() == 0 || __builtin_add_overflow(op.start(), op.length() - 1, &last);
}

namespace {

// A boundary op with its slot (if it has one) and its normalized range.
Op AtOp(OpCode code, int slot, BoundaryRange r) {
  Op op = SlotOp(code, slot);
  op.at = NormalizeBoundary(r, /*insert=*/code == OpCode::kInsertAt);
  return op;
}

}  // namespace

Op InsertAtOp(int slot, BoundaryRange r) { return AtOp(OpCode::kInsertAt, slot, r); }
Op FaultAtOp(int slot, BoundaryRange r) { return AtOp(OpCode::kFaultAt, slot, r); }

Op RangeAtOp(OpCode code, BoundaryRange r, bool blockable, Event event) {
  Op op = AtOp(code, 0, r);
  op.blockable = blockable;
  op.event = event;
  return op;
}

Op MisbehaveOp(Misbehaviour m, int slot) {
  Op op = SlotOp(OpCode::kMisbehave, slot);
  op.misbehaviour = m;
  return op;
}

namespace {
// True if c's operand layout is one of kinds.
bool HasOperands(OpCode c, std::initializer_list<Operands> kinds) {
  return std::find(kinds.begin(), kinds.end(), Info(c).operands) != kinds.end();
}
}  // namespace

bool UsesIntervalSlot(OpCode c) {
  return HasOperands(c, {Operands::kIntervalSlot, Operands::kInsert, Operands::kFault,
                         Operands::kInsertAt, Operands::kFaultAt});
}
bool UsesClassicSlot(OpCode c) {
  return HasOperands(c, {Operands::kClassicSlot, Operands::kRegister});
}
bool UsesRange(OpCode c) {
  return HasOperands(c, {Operands::kInsert, Operands::kRange, Operands::kFault});
}
bool UsesBehaviour(OpCode c) { return HasOperands(c, {Operands::kRegister, Operands::kBehaviour}); }
bool UsesBoundaryRange(OpCode c) {
  return HasOperands(c, {Operands::kInsertAt, Operands::kRangeAt, Operands::kFaultAt});
}

bool IsInsert(OpCode c) { return c == OpCode::kInsert || c == OpCode::kInsertAt; }
bool IsInvStart(OpCode c) { return c == OpCode::kInvStart || c == OpCode::kInvStartAt; }
bool IsInvalidation(OpCode c) {
  return c == OpCode::kInvalidate || c == OpCode::kInvalidateAt || IsInvStart(c);
}
bool IsFault(OpCode c) { return c == OpCode::kFault || c == OpCode::kFaultAt; }
bool IsAnyInsert(OpCode c) { return IsInsert(c) || c == OpCode::kInsertLocked; }
bool IsRegister(OpCode c) { return c == OpCode::kRegister || c == OpCode::kRegisterSecondary; }
bool UsesRangeFlags(OpCode c) {
  return IsInvalidation(c) || c == OpCode::kInvalidateMm || c == OpCode::kReadOnly;
}
bool IsSecondaryMmuOp(OpCode c) { return Info(c).secondary_mmu; }
uint8_t RegisteredBehaviour(const Op& op) {
  return op.code == OpCode::kRegisterSecondary
             ? static_cast<uint8_t>(op.behaviour | target::kClassicSecondary)
             : op.behaviour;
}

Seq InitialSeqValue(InitialSeq s) {
  return s == InitialSeq::kNearWrap ? kNearWrapSeq : Seq{2};
}

bool Program::Append(int thread, const Op& op) {
  auto& list = threads[thread];
  if (list.size() >= kMaxOpsPerThread) return false;
  list.push_back(op);
  order.push_back(static_cast<uint8_t>(thread));
  return true;
}

namespace {

bool IsValidOp(const Op& op) {
  if (static_cast<int>(op.code) >= kNumOpCodes) return false;
  if (!kBoundaryOpsEnabled && static_cast<int>(op.code) >= kFirstBoundaryOp) return false;
  Op canon;  // op with only the fields its code uses
  canon.code = op.code;
  if (UsesIntervalSlot(op.code)) {
    if (op.slot >= kIntervalSlots) return false;
    canon.slot = op.slot;
  }
  if (UsesClassicSlot(op.code)) {
    if (op.slot >= kClassicSlots) return false;
    canon.slot = op.slot;
  }
  if (UsesRange(op.code)) {
    if (op.page >= kSpacePages) return false;
    canon.page = op.page;
    canon.pages = op.pages;
    if (Info(op.code).operands == Operands::kInsert) {
      canon.shape = op.shape;
      if (op.shape == InsertShape::kZeroLength) {
        if (op.pages != 0) return false;
      } else if (op.shape == InsertShape::kNormal || op.shape == InsertShape::kOverflow) {
        if (op.pages < 1 || op.pages > kMaxRangePages) return false;
      } else {
        return false;
      }
    } else if (op.pages < 1 || op.pages > kMaxRangePages) {
      return false;
    }
    if (UsesRangeFlags(op.code)) {
      if (static_cast<int>(op.event) >= kNumEvents) return false;
      canon.blockable = op.blockable;
      canon.event = op.event;
    }
  }
  if (UsesBoundaryRange(op.code)) {
    if (op.at.page >= kSpacePages || op.at.start_off >= kNumBoundaryOffsets ||
        op.at.end_off >= kNumBoundaryOffsets || op.at.pages > kMaxRangePages) {
      return false;
    }
    if (NormalizeBoundary(op.at, op.code == OpCode::kInsertAt) != op.at) return false;
    canon.at = op.at;
    if (IsInvalidation(op.code)) {
      if (static_cast<int>(op.event) >= kNumEvents) return false;
      canon.blockable = op.blockable;
      canon.event = op.event;
    }
  }
  if (op.code == OpCode::kMisbehave) {
    if (static_cast<int>(op.misbehaviour) >= kNumMisbehaviours) return false;
    const int slots = MisbehaviourOnInterval(op.misbehaviour) ? kIntervalSlots : kClassicSlots;
    if (op.slot >= slots) return false;
    canon.misbehaviour = op.misbehaviour;
    canon.slot = op.slot;
  }
  if (UsesBehaviour(op.code)) {
    const bool registered = IsRegister(op.code);
    if (NormalizeBehaviour(op.behaviour, registered) != op.behaviour) return false;
    canon.behaviour = op.behaviour;
  }
  return canon == op;
}

}  // namespace

bool IsValid(const Program& p) {
  if (p.threads.empty() || p.threads.size() > kMaxThreads) return false;
  if (p.initial_seq != InitialSeq::kDefault && p.initial_seq != InitialSeq::kNearWrap) {
    return false;
  }
  if (p.schedule.size() > kMaxScheduleBytes) return false;
  std::vector<size_t> count(p.threads.size(), 0);
  for (const uint8_t t : p.order) {
    if (t >= p.threads.size()) return false;
    ++count[t];
  }
  for (size_t t = 0; t < p.threads.size(); ++t) {
    if (count[t] != p.threads[t].size() || count[t] > kMaxOpsPerThread) return false;
    for (const Op& op : p.threads[t]) {
      if (!IsValidOp(op)) return false;
    }
  }
  return true;
}

}  // namespace nf::fuzz
